package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/store"
)

// Directives wires the schema's directives: each authorization directive is one call into the
// policy package, which holds the rules; @constraint bounds inputs as they are decoded.
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
		Pii:        pii,
	}
}

// pii decides, in package policy, how much of an employee's personal data the principal sees,
// and hands the decision to the field's resolver (policy.PIIViewFrom). A field on anything but
// an employee gets no decision, which its resolver reads as hidden.
func pii(ctx context.Context, obj any, next graphql.Resolver, _ string) (any, error) {
	if e, ok := obj.(*store.Employee); ok && e != nil {
		ctx = policy.DecidePIIView(ctx, e.ID)
	}
	return next(ctx)
}
