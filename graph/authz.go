package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/policy"
)

// Directives enforces the schema's authorization directives through the policy package.
func Directives() DirectiveRoot {
	return DirectiveRoot{
		HasRole: func(ctx context.Context, _ any, next graphql.Resolver, roles []string) (any, error) {
			if _, err := policy.RequireAnyRole(ctx, roles); err != nil {
				return nil, err
			}
			return next(ctx)
		},
		SettableBy: func(ctx context.Context, _ any, next graphql.Resolver, roles []string) (any, error) {
			if _, err := policy.RequireAnyRole(ctx, roles); err != nil {
				return nil, err
			}
			return next(ctx)
		},
		Mfa: func(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
			if _, err := policy.RequireMFA(ctx); err != nil {
				return nil, err
			}
			return next(ctx)
		},
		AnyRole: func(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
			if _, err := policy.RequireKnownRole(ctx); err != nil {
				return nil, err
			}
			return next(ctx)
		},
		Constraint: constraint,
	}
}

// DeclaresRule reports whether a root field says who may use it. The federation plugin's
// _entities and _service, added outside our SDL, count as declared: the HTTP layer admits only
// authenticated requests and their rows go through the same tenant-scoped loaders as any read.
func DeclaresRule(field *ast.FieldDefinition) bool {
	switch field.Name {
	case "_entities", "_service", "__typename", "__schema", "__type":
		return true
	}
	return field.Directives.ForName("hasRole") != nil || field.Directives.ForName("anyRole") != nil
}

func checkDeclaredRule(rc *graphql.RootFieldContext) error {
	if rc == nil || rc.Field.Field == nil {
		return nil
	}
	if rc.Field.Definition == nil {
		// No definition to read a rule from: only the built-in names may pass.
		if DeclaresRule(&ast.FieldDefinition{Name: rc.Field.Name}) {
			return nil
		}
		return apperr.New(apperr.Forbidden, "this field declares no authorization rule")
	}
	if DeclaresRule(rc.Field.Definition) {
		return nil
	}
	return apperr.New(apperr.Forbidden, "this field declares no authorization rule")
}
