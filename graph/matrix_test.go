package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/store"
)

// The permission matrix: every role against every operation, each cell an expected outcome —
// a count of rows it sees (lists are filtered, not refused), ok, or the error code.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c, project, person := orgChart(t, srv)
	ctx := context.Background()
	manager := person("manager", store.RoleManager, c.Admin.ID)
	worker := person("worker", store.RoleEmployee, manager.ID)
	person("other", store.RoleEmployee, c.Admin.ID)
	// Who each role acts as: people through tokens, as an employee; the service principals
	// through API keys (a token claiming BI or AGENT gets neither), the agent for the worker.
	actor := map[string]uuid.UUID{"ADMIN": c.Admin.ID, "HR": c.Admin.ID, "MANAGER": manager.ID, "EMPLOYEE": worker.ID,
		"AUDITOR": c.Admin.ID}
	_, biKey, err := srv.Store.CreateAPIKey(ctx, c.Scope, store.APIKeyParams{Name: "BI", Role: store.RoleBI})
	require.NoError(t, err)
	_, agentKey, err := srv.Store.CreateAPIKey(ctx, c.Scope, store.APIKeyParams{Name: "Laptop", Role: store.RoleAgent,
		EmployeeID: &worker.ID})
	require.NoError(t, err)
	token := func(role string) string {
		switch role {
		case store.RoleBI:
			return biKey
		case store.RoleAgent:
			return agentKey
		}
		return srv.Token(c.Tenant.ID, actor[role], role)
	}

	count := func(n int) string { return fmt.Sprint(n) }
	totalHours := fmt.Sprintf(`{ project(id: %q) { totalHours(live: true) } }`, project.ID)
	entityTotalHours := fmt.Sprintf(`{ _entities(representations: [{__typename: "Project", id: %q}]) { ... on Project { totalHours(live: true) } } }`,
		project.ID)
	ops := []struct {
		name, query string
		result      func(apitest.Response) string // the outcome, when there is no error
		want        map[string]string
	}{
		{"ReadEmployees", `{ employees { totalCount } }`, field("employees", "totalCount"),
			map[string]string{"ADMIN": count(4), "HR": count(4), "MANAGER": count(2), "EMPLOYEE": count(1),
				"AUDITOR": count(1), "BI": count(4), "AGENT": count(1)}},
		{"ReadTimeEntries", `{ timeEntries { totalCount } }`, field("timeEntries", "totalCount"),
			map[string]string{"ADMIN": count(3), "HR": count(3), "MANAGER": count(2), "EMPLOYEE": count(1),
				"AUDITOR": count(0), "BI": count(3), "AGENT": count(1)}},
		// Hours each role may sum on a project: each of the three people tracked one hour on
		// it; the AUDITOR (acting as the admin, who tracked none) sums only their own.
		{"ProjectTotalHours", totalHours, field("project", "totalHours"),
			map[string]string{"ADMIN": count(3), "HR": count(3), "MANAGER": count(2), "EMPLOYEE": count(1),
				"AUDITOR": count(0), "BI": count(3), "AGENT": count(1)}},
		{"EntityTotalHours", entityTotalHours, entityField("totalHours"),
			map[string]string{"ADMIN": count(3), "HR": count(3), "MANAGER": count(2), "EMPLOYEE": count(1),
				"AUDITOR": count(0), "BI": count(3), "AGENT": count(1)}},
		{"ReadAPIKeys", `{ apiKeys { id } }`, ok,
			map[string]string{"ADMIN": "ok", "HR": "FORBIDDEN", "MANAGER": "FORBIDDEN", "EMPLOYEE": "FORBIDDEN",
				"AUDITOR": "FORBIDDEN", "BI": "FORBIDDEN", "AGENT": "FORBIDDEN"}},
		{"RenameEmployee", fmt.Sprintf(`mutation { updateEmployee(id: %q, input: {name: "Worker"}) { id } }`, worker.ID), ok,
			map[string]string{"ADMIN": "ok", "HR": "ok", "MANAGER": "FORBIDDEN", "EMPLOYEE": "FORBIDDEN",
				"AUDITOR": "FORBIDDEN", "BI": "FORBIDDEN", "AGENT": "FORBIDDEN"}},
		{"RenameProject", fmt.Sprintf(`mutation { updateProject(id: %q, input: {name: "Apollo"}) { id } }`, project.ID), ok,
			map[string]string{"ADMIN": "ok", "HR": "FORBIDDEN", "MANAGER": "ok", "EMPLOYEE": "FORBIDDEN",
				"AUDITOR": "FORBIDDEN", "BI": "FORBIDDEN", "AGENT": "FORBIDDEN"}},
		// Stopping the worker's timer: allowed roles get past authorization and find no timer;
		// the manager reaches the worker, the outsider roles do not.
		{"StopWorkersTimer", fmt.Sprintf(`mutation { stopTimer(employeeId: %q) { id } }`, worker.ID), ok,
			map[string]string{"ADMIN": "NOT_FOUND", "HR": "NOT_FOUND", "MANAGER": "NOT_FOUND", "EMPLOYEE": "NOT_FOUND",
				"AUDITOR": "FORBIDDEN", "BI": "FORBIDDEN", "AGENT": "NOT_FOUND"}},
	}
	// Tokens cannot claim a service role, nor pass with no role this service knows — by any
	// entry point.
	for _, role := range []string{"BI", "AGENT", "INTERN"} {
		for _, query := range []string{`{ employees { totalCount } }`, totalHours, entityTotalHours} {
			r := srv.Do(srv.Token(c.Tenant.ID, worker.ID, role), query, nil)
			require.NotEmpty(t, r.Errors, "%s: %s", role, query)
			require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), "%s: %s", role, query)
		}
	}
	for _, op := range ops {
		for role, want := range op.want {
			t.Run(op.name+"/"+role, func(t *testing.T) {
				r := srv.Do(token(role), op.query, nil)
				got := ""
				if len(r.Errors) > 0 {
					got = r.Errors[0].Code()
				} else {
					got = op.result(r)
				}
				require.Equal(t, want, got)
			})
		}
	}
}

func ok(apitest.Response) string { return "ok" }

func field(outer, inner string) func(apitest.Response) string {
	return func(r apitest.Response) string {
		var data map[string]map[string]any
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return err.Error()
		}
		return fmt.Sprint(data[outer][inner])
	}
}

// entityField reads a field of the first entity of an _entities answer.
func entityField(name string) func(apitest.Response) string {
	return func(r apitest.Response) string {
		var data struct {
			Entities []map[string]any `json:"_entities"`
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return err.Error()
		}
		if len(data.Entities) == 0 || data.Entities[0] == nil {
			return "null"
		}
		return fmt.Sprint(data.Entities[0][name])
	}
}
