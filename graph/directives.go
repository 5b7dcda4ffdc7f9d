package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	piipkg "github.com/workingtracker/api/internal/pii"
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

// pii decides, in package policy (PIIViewOf), how much of an employee's personal data the
// principal sees, and answers the hidden and masked views itself: null when the value is unset
// (known from the row, without reading a ciphertext) or hidden from the principal, the full
// mask when masked. The field's resolver, which reads and decrypts, runs only for the last four:
// pii calls next with its own context and returns its result unchanged, which the rewritten
// in-place fields rely on (their next is lists.Proceed: tools/rewritelists, inPlaceDirectives).
// A field on anything but an employee is null.
func pii(ctx context.Context, obj any, next graphql.Resolver, field string) (any, error) {
	e, ok := obj.(*store.Employee)
	if !ok || e == nil || !e.HasPII(field) {
		return nil, nil
	}
	switch policy.PIIViewIn(ctx, e.ID) {
	case policy.PIILastFour:
		return next(ctx)
	case policy.PIIMasked:
		return piipkg.SharedMask(field), nil
	default:
		return nil, nil
	}
}
