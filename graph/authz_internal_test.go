package graph

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
)

func TestRootFieldWithoutRuleIsRefused(t *testing.T) {
	t.Parallel()
	root := func(def *ast.FieldDefinition) *graphql.RootFieldContext {
		return &graphql.RootFieldContext{Field: graphql.CollectedField{Field: &ast.Field{Name: def.Name, Definition: def}}}
	}
	ctx := context.Background()
	bare := &ast.FieldDefinition{Name: "secrets"}
	require.True(t, apperr.Is(checkDeclaredRule(ctx, root(bare)), apperr.Forbidden))

	ruled := &ast.FieldDefinition{Name: "employees", Directives: ast.DirectiveList{{Name: "anyRole"}}}
	require.NoError(t, checkDeclaredRule(ctx, root(ruled)))

	// _entities has no directive to run: the gate applies @anyRole's rule itself.
	entities := root(&ast.FieldDefinition{Name: "_entities"})
	require.True(t, apperr.Is(checkDeclaredRule(ctx, entities), apperr.Unauthenticated))
	noRole := auth.WithPrincipal(ctx, &auth.Principal{Roles: []string{"INTERN"}})
	require.True(t, apperr.Is(checkDeclaredRule(noRole, entities), apperr.Forbidden))
	employee := auth.WithPrincipal(ctx, &auth.Principal{Roles: []string{"EMPLOYEE"}})
	require.NoError(t, checkDeclaredRule(employee, entities))
	require.NoError(t, checkDeclaredRule(noRole, root(&ast.FieldDefinition{Name: "_service"})))
}
