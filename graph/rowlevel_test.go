package graph_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/store"
)

// orgChart is a tenant with one project and a way to add people to it: each a member of the
// project with one time entry, reporting to the given manager.
func orgChart(t *testing.T, srv *apitest.Server) (apitest.Fixture, *store.Project, func(name, role string, manager uuid.UUID) *store.Employee) {
	t.Helper()
	ctx := context.Background()
	c := srv.NewTenant("acme")
	project, err := srv.Store.CreateProject(ctx, c.Scope, store.ProjectParams{Name: ptr("Apollo")})
	require.NoError(t, err)
	person := func(name, role string, manager uuid.UUID) *store.Employee {
		t.Helper()
		e, err := srv.Store.CreateEmployee(ctx, c.Scope, store.EmployeeParams{Name: ptr(name),
			Email: ptr(name + "@acme.example"), Role: ptr(role), ManagerID: &manager})
		require.NoError(t, err)
		_, err = srv.Store.AddProjectMember(ctx, c.Scope, project.ID, e.ID)
		require.NoError(t, err)
		start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
		end := start.Add(time.Hour)
		_, err = srv.Store.CreateTimeEntry(ctx, c.Scope, store.TimeEntryParams{EmployeeID: &e.ID,
			ProjectID: &project.ID, StartTime: &start, EndTime: &end})
		require.NoError(t, err)
		return e
	}
	return c, project, person
}

// Row-level rules: an employee reaches their own rows, a manager also those of everyone who
// reports to them (directly or not), HR the whole tenant. Rows out of reach are filtered from
// lists and read as absent everywhere else — by id, nested, through _entities, in writes.
func TestRowLevelReach(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c, project, person := orgChart(t, srv)
	manager := person("manager", store.RoleManager, c.Admin.ID)
	direct := person("direct", store.RoleEmployee, manager.ID)
	indirect := person("indirect", store.RoleEmployee, direct.ID)
	other := person("other", store.RoleEmployee, c.Admin.ID)

	asEmployee := srv.Token(c.Tenant.ID, direct.ID, "EMPLOYEE")
	asManager := srv.Token(c.Tenant.ID, manager.ID, "MANAGER")
	asHR := srv.Token(c.Tenant.ID, c.Admin.ID, "HR")

	t.Run("ListsAreFiltered", func(t *testing.T) {
		for _, tc := range []struct {
			token string
			names []string
		}{
			{asEmployee, []string{"direct"}},
			{asManager, []string{"direct", "indirect", "manager"}},
			{asHR, []string{"Admin of acme", "direct", "indirect", "manager", "other"}},
		} {
			var got struct {
				Employees struct {
					TotalCount int
					Nodes      []struct{ Name string }
				}
				TimeEntries struct{ TotalCount int }
				Project     struct{ Members []struct{ Name string } }
			}
			srv.MustData(tc.token, `query($p: ID!) { employees(first: 100) { totalCount nodes { name } }
				timeEntries { totalCount } project(id: $p) { members { name } } }`, map[string]any{"p": project.ID}, &got)
			names := []string{}
			for _, n := range got.Employees.Nodes {
				names = append(names, n.Name)
			}
			sort.Strings(names)
			require.Equal(t, tc.names, names)
			require.Equal(t, len(tc.names), got.Employees.TotalCount)
			members := len(tc.names)
			if tc.token == asHR {
				members-- // the admin is not a member
			}
			require.Len(t, got.Project.Members, members)
			require.Equal(t, members, got.TimeEntries.TotalCount, "one entry per reachable member")
		}
	})
	t.Run("OutOfReachReadsAsAbsent", func(t *testing.T) {
		for _, token := range []string{asEmployee, asManager} {
			var got struct {
				Employee *struct{ ID string }
				Entities []*struct{ ID string } `json:"_entities"`
			}
			srv.MustData(token, `query($id: ID!, $r: [_Any!]!) { employee(id: $id) { id }
				_entities(representations: $r) { ... on Employee { id } } }`,
				map[string]any{"id": other.ID, "r": []any{map[string]any{"__typename": "Employee", "id": other.ID}}}, &got)
			require.Nil(t, got.Employee)
			require.Nil(t, got.Entities[0])
		}
		var got struct{ Employee *struct{ ID string } }
		srv.MustData(asManager, `query($id: ID!) { employee(id: $id) { id } }`, map[string]any{"id": indirect.ID}, &got)
		require.NotNil(t, got.Employee, "a manager reaches indirect reports")
	})
	// employee(id) and me read the department and manager with the employee, in one statement:
	// a manager out of reach reads as absent there too.
	t.Run("ReferencesOutOfReachReadAsAbsent", func(t *testing.T) {
		type person struct {
			Name       string
			Manager    *struct{ Name string }
			Department *struct{ Name string }
		}
		for _, tc := range []struct {
			token   string
			query   string
			id      uuid.UUID
			manager string // "" for null
		}{
			{asEmployee, `{ p: me { name manager { name } department { name } } }`, uuid.Nil, ""},
			{asManager, `query($id: ID!) { p: employee(id: $id) { name manager { name } department { name } } }`, direct.ID, "manager"},
			{asManager, `query($id: ID!) { p: employee(id: $id) { name manager { name } } }`, manager.ID, ""},
			{asHR, `query($id: ID!) { p: employee(id: $id) { name manager { name } } }`, manager.ID, "Admin of acme"},
		} {
			var vars map[string]any
			if tc.id != uuid.Nil {
				vars = map[string]any{"id": tc.id}
			}
			var got struct{ P *person }
			srv.MustData(tc.token, tc.query, vars, &got)
			require.NotNil(t, got.P)
			if tc.manager == "" {
				require.Nil(t, got.P.Manager, "%s: manager out of reach", got.P.Name)
			} else {
				require.NotNil(t, got.P.Manager)
				require.Equal(t, tc.manager, got.P.Manager.Name)
			}
			require.Nil(t, got.P.Department, "orgChart's people have no department")
		}
	})
	t.Run("WritesOutOfReachAreNotFound", func(t *testing.T) {
		start := time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Minute).Format(time.RFC3339)
		end := time.Now().UTC().Add(-5 * time.Hour).Truncate(time.Minute).Format(time.RFC3339)
		create := `mutation($e: ID!, $p: ID!, $s: Time!, $f: Time!) { createTimeEntry(input: {employeeId: $e, projectId: $p, startTime: $s, endTime: $f}) { id } }`
		r := srv.Do(asManager, create, map[string]any{"e": other.ID, "p": project.ID, "s": start, "f": end})
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code())
		var made struct{ CreateTimeEntry struct{ ID string } }
		srv.MustData(asManager, create, map[string]any{"e": indirect.ID, "p": project.ID, "s": start, "f": end}, &made)

		r = srv.Do(asEmployee, `mutation($id: ID!) { deleteTimeEntry(id: $id) }`, map[string]any{"id": made.CreateTimeEntry.ID})
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code(), "an EMPLOYEE reaches only their own entries, even someone reporting to them")
		r = srv.Do(asEmployee, `mutation($e: ID!) { stopTimer(employeeId: $e) { id } }`, map[string]any{"e": other.ID})
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code())
	})
}

// Requests cannot make the database create partitions for arbitrary months, nor reach people
// outside their reach through project membership or task assignment.
func TestWritesStayWithinBounds(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	ctx := context.Background()
	partitions := func() int {
		var n int
		require.NoError(t, srv.Store.Pool().QueryRow(ctx,
			`SELECT count(*) FROM pg_inherits WHERE inhparent = 'time_entries'::regclass`).Scan(&n))
		return n
	}
	before := partitions()
	r := srv.Do(c.Token, `mutation($p: ID!) { createTimeEntry(input: {projectId: $p, startTime: "2999-01-01T00:00:00Z", endTime: "2999-01-01T01:00:00Z"}) { id } }`,
		map[string]any{"p": c.Projects[0].ID})
	require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
	require.Equal(t, before, partitions(), "no partition for a month no entry may fall in")

	manager, err := srv.Store.CreateEmployee(ctx, c.Scope, store.EmployeeParams{Name: ptr("Manager"),
		Email: ptr("m@acme.example"), Role: ptr(store.RoleManager)})
	require.NoError(t, err)
	for _, p := range []*store.Project{c.Projects[0], c.Projects[2]} { // theirs to manage
		_, err = srv.Store.AddProjectMember(ctx, c.Scope, p.ID, manager.ID)
		require.NoError(t, err)
	}
	asManager := srv.Token(c.Tenant.ID, manager.ID, "MANAGER")
	r = srv.Do(asManager, `mutation($p: ID!, $e: ID!) { addProjectMember(projectId: $p, employeeId: $e) { id } }`,
		map[string]any{"p": c.Projects[2].ID, "e": c.Employees[0].ID})
	require.Equal(t, "NOT_FOUND", r.Errors[0].Code(), "not a report: as if there were no such employee")
	r = srv.Do(asManager, `mutation($p: ID!, $e: ID!) { createTask(input: {projectId: $p, title: "x", assigneeId: $e}) { id } }`,
		map[string]any{"p": c.Projects[0].ID, "e": c.Employees[0].ID})
	require.Equal(t, "NOT_FOUND", r.Errors[0].Code())
}
