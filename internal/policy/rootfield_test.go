package policy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/policy"
)

func TestRootFieldWithoutRuleIsRefused(t *testing.T) {
	t.Parallel()
	check := func(ctx context.Context, def *ast.FieldDefinition) error {
		return policy.CheckRootField(ctx, def.Name, def)
	}
	ctx := context.Background()
	bare := &ast.FieldDefinition{Name: "secrets"}
	require.True(t, apperr.Is(check(ctx, bare), apperr.Forbidden))

	ruled := &ast.FieldDefinition{Name: "employees", Directives: ast.DirectiveList{{Name: "anyRole"}}}
	require.NoError(t, check(ctx, ruled))

	// _entities has no directive to run: the gate applies @anyRole's rule itself.
	entities := &ast.FieldDefinition{Name: "_entities"}
	require.True(t, apperr.Is(check(ctx, entities), apperr.Unauthenticated))
	noRole := auth.WithPrincipal(ctx, &auth.Principal{Roles: []string{"INTERN"}})
	require.True(t, apperr.Is(check(noRole, entities), apperr.Forbidden))
	employee := auth.WithPrincipal(ctx, &auth.Principal{Roles: []string{"EMPLOYEE"}})
	require.NoError(t, check(employee, entities))
	require.NoError(t, check(noRole, &ast.FieldDefinition{Name: "_service"}))
	require.True(t, apperr.Is(policy.CheckRootField(employee, "secrets", nil), apperr.Forbidden), "no definition, no rule")
}
