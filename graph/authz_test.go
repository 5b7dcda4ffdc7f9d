package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/store"
)

// Deny by default: every root field must say who may use it, and every entry point — our
// SDL's and the ones gqlgen adds (federation's _entities and _service, introspection) — must
// refuse a token with no role this service knows, unless it reads no rows and is listed in
// openByDesign with the reason. A new field without a rule fails here (and is refused at run
// time); a new built-in entry point fails until it is given a rule.
func TestEveryRootFieldDeclaresWhoMayUseIt(t *testing.T) {
	t.Parallel()
	openByDesign := map[string]string{
		"_service":   "the subgraph's SDL for composition: the schema, no rows; served only where introspection is on",
		"__schema":   "introspection: the schema, no rows; off in production",
		"__type":     "introspection: the schema, no rows; off in production",
		"__typename": "the root type's name",
	}
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	project, err := srv.Store.CreateProject(context.Background(), c.Scope, store.ProjectParams{Name: ptr("Apollo")})
	require.NoError(t, err)
	noRole := srv.Token(c.Tenant.ID, c.Admin.ID, "INTERN")
	// An argument value for each required argument type a root field takes; a field taking
	// another needs a line here before this test can call it.
	argValues := map[string]any{
		"ID!":                       project.ID.String(),
		"[_Any!]!":                  []any{map[string]any{"__typename": "Project", "id": project.ID.String()}},
		"PIIField!":                 "SSN",
		"String!":                   "123-45-6789",
		"ProductivityReportFilter!": map[string]any{"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
	}
	for _, root := range []string{"Query", "Mutation", "Subscription"} {
		def := schema.Types[root]
		if def == nil {
			continue
		}
		for _, f := range def.Fields {
			rule := policy.RuleOf(f)
			require.NotEmpty(t, rule, "%s.%s has neither @hasRole nor @anyRole", root, f.Name)
			if rule == policy.RuleAuthenticated {
				require.Contains(t, openByDesign, f.Name, "%s.%s is open to every authenticated principal: say why here", root, f.Name)
				continue
			}
			if root == "Mutation" {
				// @hasRole and @anyRole refuse roles they do not know; the matrix tests run them.
				require.Contains(t, []string{policy.RuleHasRole, policy.RuleAnyRole}, rule, "Mutation.%s", f.Name)
				continue
			}
			t.Run("UnknownRoleForbidden/"+f.Name, func(t *testing.T) {
				var params, args []string
				vars := map[string]any{}
				for i, a := range f.Arguments {
					if !a.Type.NonNull || a.DefaultValue != nil {
						continue
					}
					v, ok := argValues[a.Type.String()]
					require.True(t, ok, "%s.%s: no test value for an argument of type %s", root, f.Name, a.Type)
					name := fmt.Sprintf("a%d", i)
					params = append(params, "$"+name+": "+a.Type.String())
					args = append(args, a.Name+": $"+name)
					vars[name] = v
				}
				op := strings.ToLower(root)
				if len(params) > 0 {
					op += "(" + strings.Join(params, ", ") + ")"
				}
				call := f.Name
				if len(args) > 0 {
					call += "(" + strings.Join(args, ", ") + ")"
				}
				if typ := schema.Types[f.Type.Name()]; typ != nil && typ.Kind != ast.Scalar && typ.Kind != ast.Enum {
					call += " { __typename }"
				}
				var r apitest.Response
				if root == "Subscription" { // refused over plain POST: ask over SSE
					r = doSSE(t, srv, noRole, op+" { "+call+" }", vars)
				} else {
					r = srv.Do(noRole, op+" { "+call+" }", vars)
				}
				require.NotEmpty(t, r.Errors, "%s.%s answered a token with no known role: %s", root, f.Name, r.Data)
				require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), r.Errors[0].Message)
			})
		}
	}
}

// The role matrix of the mutations: an allowed role gets past authorization to the resolver
// (which then reports the made-up id as missing); a refused one gets FORBIDDEN and nothing runs.
func TestMutationRoleMatrix(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	missing := uuid.NewString()
	// People's roles, through tokens (service roles come from API keys: TestPermissionMatrix).
	everyone := []string{"ADMIN", "HR", "MANAGER", "EMPLOYEE", "AUDITOR"}
	trackers := []string{"ADMIN", "HR", "MANAGER", "EMPLOYEE"}
	cases := []struct {
		mutation string
		allowed  []string
	}{
		{fmt.Sprintf(`updateEmployee(id: %q, input: {name: "x"}) { id }`, missing), []string{"ADMIN", "HR"}},
		{fmt.Sprintf(`updateProject(id: %q, input: {name: "x"}) { id }`, missing), []string{"ADMIN", "MANAGER"}},
		{fmt.Sprintf(`addProjectMember(projectId: %q, employeeId: %q) { id }`, missing, missing), []string{"ADMIN", "MANAGER"}},
		{fmt.Sprintf(`removeProjectMember(projectId: %q, employeeId: %q) { id }`, missing, missing), []string{"ADMIN", "MANAGER"}},
		{fmt.Sprintf(`updateTask(id: %q, input: {title: "x"}) { id }`, missing), []string{"ADMIN", "MANAGER"}},
		{fmt.Sprintf(`createTask(input: {projectId: %q, title: "x"}) { id }`, missing), []string{"ADMIN", "MANAGER"}},
		{fmt.Sprintf(`updateTimeEntry(id: %q, input: {description: "x"}) { id }`, missing), trackers},
		{fmt.Sprintf(`deleteTimeEntry(id: %q)`, missing), trackers},
		{`stopTimer { id }`, trackers},
	}
	for _, tc := range cases {
		for _, role := range everyone {
			t.Run(role+"/"+tc.mutation[:12], func(t *testing.T) {
				r := srv.Do(srv.Token(c.Tenant.ID, c.Admin.ID, role), "mutation { "+tc.mutation+" }", nil)
				require.Equal(t, http.StatusOK, r.Status)
				require.Len(t, r.Errors, 1)
				if slices.Contains(tc.allowed, role) {
					require.Equal(t, "NOT_FOUND", r.Errors[0].Code(), r.Errors[0].Message)
				} else {
					require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), r.Errors[0].Message)
				}
			})
		}
	}
	t.Run("QueriesAreOpenToEveryRole", func(t *testing.T) {
		for _, role := range everyone {
			var got struct{ Me struct{ ID string } }
			srv.MustData(srv.Token(c.Tenant.ID, c.Admin.ID, role), `{ me { id } }`, nil, &got)
			require.Equal(t, c.Admin.ID.String(), got.Me.ID)
		}
	})
}

// Only an ADMIN grants or changes roles: HR manages people but cannot make anyone an ADMIN.
func TestOnlyAdminsGrantRoles(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	hr := srv.Token(c.Tenant.ID, c.Admin.ID, "HR")

	var made struct{ CreateEmployee struct{ ID, Role string } }
	srv.MustData(hr, `mutation { createEmployee(input: {name: "New Hire", email: "new@acme.example"}) { id role } }`, nil, &made)
	require.Equal(t, "EMPLOYEE", made.CreateEmployee.Role)

	r := srv.Do(hr, `mutation { createEmployee(input: {name: "Boss", email: "boss@acme.example", role: ADMIN}) { id } }`, nil)
	require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	r = srv.Do(hr, `mutation($id: ID!) { updateEmployee(id: $id, input: {role: ADMIN}) { id } }`,
		map[string]any{"id": made.CreateEmployee.ID})
	require.Equal(t, "FORBIDDEN", r.Errors[0].Code())

	var renamed struct{ UpdateEmployee struct{ Name string } }
	srv.MustData(hr, `mutation($id: ID!) { updateEmployee(id: $id, input: {name: "Renamed"}) { name } }`,
		map[string]any{"id": made.CreateEmployee.ID}, &renamed)
	require.Equal(t, "Renamed", renamed.UpdateEmployee.Name, "HR edits everything but the role")

	promote := `mutation($id: ID!) { updateEmployee(id: $id, input: {role: MANAGER}) { role } }`
	r = srv.Do(c.Token, promote, map[string]any{"id": made.CreateEmployee.ID})
	require.Equal(t, "MFA_REQUIRED", r.Errors[0].Code(), "a role change needs a second factor")

	stepped, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: c.Tenant.ID, EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"}, MFA: true, TTL: time.Hour})
	require.NoError(t, err)
	var promoted struct{ UpdateEmployee struct{ Role string } }
	srv.MustData(stepped, promote, map[string]any{"id": made.CreateEmployee.ID}, &promoted)
	require.Equal(t, "MANAGER", promoted.UpdateEmployee.Role)
}
