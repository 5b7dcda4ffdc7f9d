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

// Root-field rules: how a root field says who may use it.
const (
	// RuleHasRole: @hasRole lists the roles; its directive enforces it.
	RuleHasRole = "hasRole"
	// RuleAnyRole: @anyRole, any principal holding a role this service knows; its directive
	// enforces it.
	RuleAnyRole = "anyRole"
	// RuleKnownRole: the same rule as @anyRole, for a field gqlgen adds outside our SDL (no
	// directive runs there); checkDeclaredRule enforces it.
	RuleKnownRole = "knownRole"
	// RuleAuthenticated: any authenticated principal (the HTTP layer admits no other). Only
	// for fields that read no rows: see builtInRules.
	RuleAuthenticated = "authenticated"
)

// builtInRules are the rules of the root fields gqlgen adds outside our SDL. A built-in field
// not listed here has no rule and is refused.
var builtInRules = map[string]string{
	// Rows by key for a federation gateway: the same check as project(id:), then the same
	// tenant- and reach-scoped loaders.
	"_entities": RuleKnownRole,
	// The subgraph's SDL for composition: the schema, no rows. Answered only where
	// introspection is on (development, or a deployment that lets only its gateway reach it).
	"_service": RuleAuthenticated,
	// Introspection: the schema, no rows; off in production.
	"__schema": RuleAuthenticated,
	"__type":   RuleAuthenticated,
	// The name of the root type.
	"__typename": RuleAuthenticated,
}

// RuleOf is the rule a root field declares, or "" when it declares none (such a field is
// refused at run time and fails the deny-by-default test).
func RuleOf(field *ast.FieldDefinition) string {
	switch {
	case field.Directives.ForName("hasRole") != nil:
		return RuleHasRole
	case field.Directives.ForName("anyRole") != nil:
		return RuleAnyRole
	}
	return builtInRules[field.Name]
}

// checkDeclaredRule refuses a root field that declares no rule, and enforces the rules that no
// directive enforces.
func checkDeclaredRule(ctx context.Context, rc *graphql.RootFieldContext) error {
	if rc == nil || rc.Field.Field == nil {
		return nil
	}
	def := rc.Field.Definition
	if def == nil {
		// No definition to read a directive from: only the built-in names have a rule.
		def = &ast.FieldDefinition{Name: rc.Field.Name}
	}
	switch RuleOf(def) {
	case "":
		return apperr.New(apperr.Forbidden, "this field declares no authorization rule")
	case RuleKnownRole:
		_, err := policy.RequireKnownRole(ctx)
		return err
	}
	return nil
}
