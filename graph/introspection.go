package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// codeIntrospectionDisabled refuses __schema and __type where introspection is off
// (production): the client asked for something this server does not offer, like a validation
// error, and is answered like one (422, or 400 for application/graphql-response+json).
const codeIntrospectionDisabled = "INTROSPECTION_DISABLED"

var registerIntrospectionCode sync.Once

// introspectionRefusal is the gqlgen extension that refuses introspection before execution,
// with its own code: left to execution, gqlgen's resolver error would be reported as an
// internal error and logged as one.
type introspectionRefusal struct{}

var (
	_ graphql.HandlerExtension        = introspectionRefusal{}
	_ graphql.OperationContextMutator = introspectionRefusal{}
)

func newIntrospectionRefusal() introspectionRefusal {
	// gqlgen keeps error kinds in a package map; registered once, before any handler serves.
	registerIntrospectionCode.Do(func() { errcode.RegisterErrorType(codeIntrospectionDisabled, errcode.KindProtocol) })
	return introspectionRefusal{}
}

func (introspectionRefusal) ExtensionName() string                   { return "IntrospectionRefusal" }
func (introspectionRefusal) Validate(graphql.ExecutableSchema) error { return nil }

func (introspectionRefusal) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || !introspects(oc.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	return &gqlerror.Error{
		Message:    "introspection is disabled on this server: compose from the published SDL (_service) instead",
		Extensions: map[string]any{"code": codeIntrospectionDisabled},
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
