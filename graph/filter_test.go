package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/store"
)

func TestListFilters(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 3)
	ctx := context.Background()
	archived, err := srv.Store.CreateProject(ctx, c.Scope, store.ProjectParams{Name: ptr("100% Legacy"),
		Status: ptr(store.ProjectArchived), Billable: apitest.Ptr(false)})
	require.NoError(t, err)
	_, err = srv.Store.CreateEmployee(ctx, c.Scope, store.EmployeeParams{Name: ptr("Grace Hopper"),
		Email: ptr("grace@acme.example"), Role: ptr(store.RoleManager), ManagerID: &c.Employees[0].ID})
	require.NoError(t, err)

	names := func(query string, vars map[string]any) []string {
		t.Helper()
		var got struct {
			List struct{ Nodes []struct{ Name string } } `json:"list"`
		}
		srv.MustData(c.Token, query, vars, &got)
		out := []string{}
		for _, n := range got.List.Nodes {
			out = append(out, n.Name)
		}
		return out
	}

	t.Run("EmployeesByRoleSearchAndManager", func(t *testing.T) {
		require.Equal(t, []string{"Grace Hopper"}, names(`{ list: employees(filter: {role: MANAGER}) { nodes { name } } }`, nil))
		require.Equal(t, []string{"Grace Hopper"}, names(`{ list: employees(filter: {search: "GRACE@"}) { nodes { name } } }`, nil),
			"search matches an e-mail prefix, case-insensitively")
		require.Equal(t, []string{"Grace Hopper"}, names(`query($m: ID!) { list: employees(filter: {managerId: $m}) { nodes { name } } }`,
			map[string]any{"m": c.Employees[0].ID}))
		require.Empty(t, names(`{ list: employees(filter: {search: "%"}) { nodes { name } } }`, nil),
			"LIKE wildcards in a search are literal")
	})
	t.Run("ProjectsByStatusBillableAndSearch", func(t *testing.T) {
		require.Equal(t, []string{archived.Name}, names(`{ list: projects(filter: {status: ARCHIVED}) { nodes { name } } }`, nil))
		require.Equal(t, []string{archived.Name}, names(`{ list: projects(filter: {billable: false}) { nodes { name } } }`, nil))
		require.Equal(t, []string{archived.Name}, names(`{ list: projects(filter: {search: "100%"}) { nodes { name } } }`, nil))
		require.Len(t, names(`{ list: projects(filter: {status: ACTIVE}) { nodes { name } } }`, nil), 3)
	})
	t.Run("TimeEntriesByRange", func(t *testing.T) {
		var all struct {
			TimeEntries struct {
				Nodes []struct{ StartTime time.Time }
			}
		}
		srv.MustData(c.Token, `query($e: ID!) { timeEntries(filter: {employeeId: $e}) { nodes { startTime } } }`,
			map[string]any{"e": c.Employees[0].ID}, &all)
		require.Len(t, all.TimeEntries.Nodes, 3)
		newest := all.TimeEntries.Nodes[0].StartTime
		var some struct{ TimeEntries struct{ TotalCount int } }
		srv.MustData(c.Token, `query($e: ID!, $from: Time!) { timeEntries(filter: {employeeId: $e, from: $from}) { totalCount } }`,
			map[string]any{"e": c.Employees[0].ID, "from": newest.Format(time.RFC3339)}, &some)
		require.Equal(t, 1, some.TimeEntries.TotalCount, "from is inclusive")
		r := srv.Do(c.Token, `{ timeEntries(filter: {from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z"}) { totalCount } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		require.Equal(t, "to", r.Errors[0].Extensions["field"])
	})
}
