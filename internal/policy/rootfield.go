package policy

import (
	"context"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/apperr"
)

// Root-field rules: how a root field says who may use it.
const (
	// RuleHasRole: @hasRole lists the roles; its directive enforces it.
	RuleHasRole = "hasRole"
	// RuleAnyRole: @anyRole, any principal holding a role this service knows; its directive
	// enforces it.
	RuleAnyRole = "anyRole"
	// RuleKnownRole: the same rule as @anyRole, for a field gqlgen adds outside our SDL (no
	// directive runs there); CheckRootField enforces it.
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

// CheckRootField refuses a root field that declares no rule (deny by default: a new field cannot
// be exposed by forgetting one), and enforces the rules that no directive enforces. def is the
// field's definition, or nil when the schema has none (then only the built-in names pass).
func CheckRootField(ctx context.Context, name string, def *ast.FieldDefinition) error {
	if def == nil {
		def = &ast.FieldDefinition{Name: name}
	}
	switch RuleOf(def) {
	case "":
		return apperr.New(apperr.Forbidden, "this field declares no authorization rule")
	case RuleKnownRole:
		_, err := RequireKnownRole(ctx)
		return err
	}
	return nil
}
