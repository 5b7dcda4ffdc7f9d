package graph

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/apperr"
)

func TestRootFieldWithoutRuleIsRefused(t *testing.T) {
	t.Parallel()
	root := func(def *ast.FieldDefinition) *graphql.RootFieldContext {
		return &graphql.RootFieldContext{Field: graphql.CollectedField{Field: &ast.Field{Name: def.Name, Definition: def}}}
	}
	bare := &ast.FieldDefinition{Name: "secrets"}
	require.True(t, apperr.Is(checkDeclaredRule(root(bare)), apperr.Forbidden))

	ruled := &ast.FieldDefinition{Name: "employees", Directives: ast.DirectiveList{{Name: "anyRole"}}}
	require.NoError(t, checkDeclaredRule(root(ruled)))
	require.NoError(t, checkDeclaredRule(root(&ast.FieldDefinition{Name: "_entities"})))
}
