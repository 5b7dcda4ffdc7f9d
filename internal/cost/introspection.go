package cost

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/apperr"
)

// introspectionRefusal is the gqlgen extension that refuses introspection before execution,
// with its own code: left to execution, gqlgen's resolver error would be reported as an
// internal error and logged as one.
type introspectionRefusal struct{}

var (
	_ graphql.HandlerExtension        = introspectionRefusal{}
	_ graphql.OperationContextMutator = introspectionRefusal{}
)

// NewIntrospectionRefusal refuses __schema and __type before execution, as a request error
// (INTROSPECTION_DISABLED): the client asked for something this server does not offer, and the
// transport answers it like a validation error.
func NewIntrospectionRefusal() graphql.HandlerExtension { return introspectionRefusal{} }

func (introspectionRefusal) ExtensionName() string                   { return "IntrospectionRefusal" }
func (introspectionRefusal) Validate(graphql.ExecutableSchema) error { return nil }

func (introspectionRefusal) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || !introspects(oc.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	return &gqlerror.Error{
		Message:    "introspection is disabled on this server: compose from the published SDL (_service) instead",
		Extensions: map[string]any{"code": string(apperr.IntrospectionDisabled)},
	}
}

// introspects reports whether a root selection set asks for __schema or __type, through
// fragments (each followed once).
func introspects(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if introspects(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if !seen[s.Name] && s.Definition != nil {
				seen[s.Name] = true
				if introspects(s.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}
