package graph_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/apitest"
)

// Every String and list argument and input field is bounded by @constraint: a new one without a
// bound fails here.
func TestEveryStringAndListInputIsBounded(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	// Added by the federation plugin, outside our SDL: representations are priced one object
	// each (see operationCost), so MAX_QUERY_COST bounds them.
	exempt := map[string]bool{"Query._entities.representations": true}
	needsBound := func(typ *ast.Type) (string, bool) {
		switch {
		case typ.Elem != nil:
			return "maxItems", true
		case typ.NamedType == "String":
			return "maxLength", true
		}
		return "", false
	}
	check := func(where string, typ *ast.Type, dirs ast.DirectiveList) {
		arg, ok := needsBound(typ)
		if !ok || exempt[where] {
			return
		}
		d := dirs.ForName("constraint")
		require.NotNil(t, d, "%s (%s) has no @constraint", where, typ)
		require.NotNil(t, d.Arguments.ForName(arg), "%s (%s) has @constraint without %s", where, typ, arg)
	}
	checked := 0
	for _, def := range schema.Types {
		// Entity is the federation plugin's internal type behind _entities, reachable from no
		// root field: its arguments are built by the server, not sent by clients.
		if strings.HasPrefix(def.Name, "__") || def.Name == "Entity" {
			continue
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if def.Kind == ast.InputObject {
				check(def.Name+"."+f.Name, f.Type, f.Directives)
				checked++
			}
			for _, a := range f.Arguments {
				check(def.Name+"."+f.Name+"."+a.Name, a.Type, a.Directives)
				checked++
			}
		}
	}
	require.Greater(t, checked, 50, "the walk saw the schema's inputs")
}

func TestOversizedInputsAreRefused(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = uuid.NewString()
		}
		return out
	}
	long := strings.Repeat("a", 100*1024)
	createTask := `mutation($p: ID!, $d: [ID!]) { createTask(input: {projectId: $p, title: "t", dependsOn: $d}) { id } }`
	cases := []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		// 100,000 ids are 3.9 MB, over the body limit (413); the most a body can carry still fails.
		{"ErrDependsOnTooLong", createTask, map[string]any{"p": c.Projects[0].ID, "d": ids(20_000)}, "dependsOn"},
		{"ErrDependsOnOverMax", createTask, map[string]any{"p": c.Projects[0].ID, "d": ids(101)}, "dependsOn"},
		{"ErrUpdateDependsOnOverMax", `mutation($id: ID!, $d: [ID!]) { updateTask(id: $id, input: {dependsOn: $d}) { id } }`,
			map[string]any{"id": c.Tasks[0].ID, "d": ids(101)}, "dependsOn"},
		{"ErrEmployeeSearch", `query($s: String) { employees(filter: {search: $s}) { totalCount } }`, map[string]any{"s": long}, "search"},
		{"ErrProjectSearch", `query($s: String) { projects(filter: {search: $s}) { totalCount } }`, map[string]any{"s": long}, "search"},
		{"ErrCursor", `query($a: String) { timeEntries(after: $a) { totalCount } }`, map[string]any{"a": long}, "after"},
		{"ErrProjectName", `mutation($n: String!) { createProject(input: {name: $n}) { id } }`, map[string]any{"n": long}, "name"},
		{"ErrEntryDescription", `mutation($id: ID!, $d: String) { updateTimeEntry(id: $id, input: {description: $d}) { id } }`,
			map[string]any{"id": uuid.NewString(), "d": strings.Repeat("é", 2001)}, "description"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countRows(t, srv, c)
			srv.Statements.Reset()
			r := srv.Do(c.Token, tc.query, tc.vars)
			require.Equal(t, http.StatusOK, r.Status)
			require.Len(t, r.Errors, 1, "data: %s", r.Data)
			require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), r.Errors[0].Message)
			require.Equal(t, tc.field, r.Errors[0].Extensions["field"], r.Errors[0].Message)
			require.Zero(t, srv.Statements.Count(), "refused before the store")
			require.Equal(t, before, countRows(t, srv, c), "nothing written")
		})
	}

	t.Run("AtTheBoundAccepted", func(t *testing.T) {
		r := srv.Do(c.Token, `query($s: String) { employees(filter: {search: $s}) { totalCount } }`,
			map[string]any{"s": strings.Repeat("é", 320)})
		require.Empty(t, r.Errors)
	})
	t.Run("ErrHundredThousandIDsOverBodyLimit", func(t *testing.T) {
		r := srv.Do(c.Token, createTask, map[string]any{"p": c.Projects[0].ID, "d": ids(100_000)})
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	})
}
