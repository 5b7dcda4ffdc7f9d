package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/store"
)

var ptr = apitest.Ptr[string]

// company is a tenant with n employees, three projects (everyone a member of the first two), a
// task per project and three time entries per employee.
type company struct {
	apitest.Fixture
	Employees []*store.Employee
	Projects  []*store.Project
	Tasks     []*store.Task
}

func newCompany(t *testing.T, srv *apitest.Server, slug string, n int) company {
	t.Helper()
	ctx := context.Background()
	c := company{Fixture: srv.NewTenant(slug)}
	dept, err := srv.Store.CreateDepartment(ctx, c.Scope, "Engineering")
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		p, err := srv.Store.CreateProject(ctx, c.Scope, store.ProjectParams{Name: ptr(fmt.Sprintf("%s project %d", slug, i))})
		require.NoError(t, err)
		c.Projects = append(c.Projects, p)
		task, err := srv.Store.CreateTask(ctx, c.Scope, store.TaskParams{ProjectID: &p.ID, Title: ptr("task " + p.Name)})
		require.NoError(t, err)
		c.Tasks = append(c.Tasks, task)
	}
	base := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Hour)
	for i := 0; i < n; i++ {
		e, err := srv.Store.CreateEmployee(ctx, c.Scope, store.EmployeeParams{
			Name: ptr(fmt.Sprintf("%s employee %03d", slug, i)), Email: ptr(fmt.Sprintf("e%d@%s.example", i, slug)),
			Role: ptr(store.RoleEmployee), DepartmentID: &dept.ID, ManagerID: &c.Admin.ID})
		require.NoError(t, err)
		c.Employees = append(c.Employees, e)
		for _, p := range c.Projects[:2] {
			_, err := srv.Store.AddProjectMember(ctx, c.Scope, p.ID, e.ID)
			require.NoError(t, err)
		}
		for k := 0; k < 3; k++ {
			start := base.Add(time.Duration(k) * 2 * time.Hour)
			end := start.Add(time.Hour)
			_, err := srv.Store.CreateTimeEntry(ctx, c.Scope, store.TimeEntryParams{EmployeeID: &e.ID,
				ProjectID: &c.Projects[k%2].ID, TaskID: &c.Tasks[k%2].ID, StartTime: &start, EndTime: &end})
			require.NoError(t, err)
		}
	}
	return c
}

const nestedEmployees = `query {
  employees(first: 100, filter: {role: EMPLOYEE}) {
    totalCount
    nodes {
      id name
      department { name }
      manager { name }
      projects { name }
      timeEntries(first: 5) { id durationSeconds project { name } task { title } }
    }
  }
}`

func TestStatementsPerRequestDoNotGrowWithListSize(t *testing.T) {
	t.Parallel()
	counts := map[int]int64{}
	for _, n := range []int{1, 100} {
		srv := apitest.New(t, apitest.Opts{})
		c := newCompany(t, srv, "acme", n)
		srv.Statements.Reset()
		var got struct {
			Employees struct {
				TotalCount int
				Nodes      []struct {
					Name        string
					Department  struct{ Name string }
					Projects    []struct{ Name string }
					TimeEntries []struct {
						Project struct{ Name string }
						Task    struct{ Title string }
					}
				}
			}
		}
		srv.MustData(c.Token, nestedEmployees, nil, &got)
		counts[n] = srv.Statements.Count()

		require.Equal(t, n, got.Employees.TotalCount)
		require.Len(t, got.Employees.Nodes, n)
		for _, e := range got.Employees.Nodes {
			require.Equal(t, "Engineering", e.Department.Name)
			require.Len(t, e.Projects, 2)
			require.Len(t, e.TimeEntries, 3)
			for _, te := range e.TimeEntries {
				require.NotEmpty(t, te.Project.Name)
				require.NotEmpty(t, te.Task.Title)
			}
		}
	}
	// employees, count, department, manager, projects, latest entries, entry projects, tasks.
	require.Equal(t, counts[1], counts[100], "statements for 1 vs 100 employees: %v", counts)
	require.LessOrEqual(t, counts[100], int64(8), "statements per request: %v", counts)
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	a := newCompany(t, srv, "alpha", 2)
	b := newCompany(t, srv, "bravo", 2)
	victim := a.Employees[0]

	t.Run("ByID", func(t *testing.T) {
		var got struct{ Employee *struct{ ID string } }
		srv.MustData(b.Token, `query($id: ID!) { employee(id: $id) { id } }`, map[string]any{"id": victim.ID}, &got)
		require.Nil(t, got.Employee)
		var own struct{ Employee *struct{ ID string } }
		srv.MustData(a.Token, `query($id: ID!) { employee(id: $id) { id } }`, map[string]any{"id": victim.ID}, &own)
		require.NotNil(t, own.Employee, "the owning tenant still sees it")
	})
	t.Run("ByList", func(t *testing.T) {
		var got struct {
			Employees struct {
				TotalCount int
				Nodes      []struct{ ID, Email string }
			}
		}
		srv.MustData(b.Token, `{ employees(first: 100) { totalCount nodes { id email } } }`, nil, &got)
		require.Equal(t, 3, got.Employees.TotalCount)
		for _, e := range got.Employees.Nodes {
			require.True(t, strings.HasSuffix(e.Email, "@bravo.example"), e.Email)
		}
	})
	t.Run("ByEntities", func(t *testing.T) {
		var got struct {
			Entities []*struct{ ID string } `json:"_entities"`
		}
		srv.MustData(b.Token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Employee { id } } }`,
			map[string]any{"r": []any{
				map[string]any{"__typename": "Employee", "id": victim.ID},
				map[string]any{"__typename": "Employee", "id": b.Employees[0].ID},
			}}, &got)
		require.Len(t, got.Entities, 2)
		require.Nil(t, got.Entities[0], "another tenant's employee resolves to null")
		require.Equal(t, b.Employees[0].ID.String(), got.Entities[1].ID)
	})
	t.Run("ByNestedFilterAndMutation", func(t *testing.T) {
		var got struct{ TimeEntries struct{ TotalCount int } }
		srv.MustData(b.Token, `query($e: ID!) { timeEntries(filter: {employeeId: $e}) { totalCount } }`,
			map[string]any{"e": victim.ID}, &got)
		require.Zero(t, got.TimeEntries.TotalCount)
		r := srv.Do(b.Token, `mutation($id: ID!) { updateEmployee(id: $id, input: {name: "pwned"}) { id } }`,
			map[string]any{"id": victim.ID})
		require.Len(t, r.Errors, 1)
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code())
		r = srv.Do(b.Token, `mutation($p: ID!, $e: ID!) { addProjectMember(projectId: $p, employeeId: $e) { id } }`,
			map[string]any{"p": b.Projects[0].ID, "e": victim.ID})
		require.Len(t, r.Errors, 1)
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code(), "another tenant's employee cannot join")
	})
}

func TestFederation(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 5)

	t.Run("ServiceSDL", func(t *testing.T) {
		var got struct {
			Service struct{ SDL string } `json:"_service"`
		}
		srv.MustData(c.Token, `{ _service { sdl } }`, nil, &got)
		for _, typ := range []string{"Employee", "Project", "Task", "TimeEntry"} {
			require.Contains(t, got.Service.SDL, "type "+typ+` @key(fields: "id")`)
		}
		require.Contains(t, got.Service.SDL, "specs.apollo.dev/federation/v2")
		require.Equal(t, graph.SubgraphSDL(), got.Service.SDL, "the offline schema is the served one")
	})
	t.Run("EntitiesBatchedPerTypeAndUnknownIsNull", func(t *testing.T) {
		reps := []any{}
		for _, e := range c.Employees {
			reps = append(reps, map[string]any{"__typename": "Employee", "id": e.ID})
		}
		reps = append(reps,
			map[string]any{"__typename": "Employee", "id": uuid.NewString()},
			map[string]any{"__typename": "Employee", "id": "not-a-uuid"},
			map[string]any{"__typename": "Project", "id": c.Projects[0].ID},
			map[string]any{"__typename": "Project", "id": c.Projects[1].ID},
			map[string]any{"__typename": "Task", "id": c.Tasks[0].ID},
		)
		srv.Statements.Reset()
		var got struct {
			Entities []map[string]any `json:"_entities"`
		}
		srv.MustData(c.Token, `query($r: [_Any!]!) { _entities(representations: $r) {
			... on Employee { id name }
			... on Project { id name }
			... on Task { id title }
		} }`, map[string]any{"r": reps}, &got)
		require.Len(t, got.Entities, len(reps))
		for i, e := range c.Employees {
			require.Equal(t, e.Name, got.Entities[i]["name"])
		}
		require.Nil(t, got.Entities[5], "unknown id")
		require.Nil(t, got.Entities[6], "malformed id")
		require.Equal(t, c.Projects[0].Name, got.Entities[7]["name"])
		require.Equal(t, c.Tasks[0].Title, got.Entities[9]["title"])
		require.Equal(t, int64(3), srv.Statements.Count(), "one statement per entity type")
	})
	t.Run("MalformedRepresentationsAreBadInput", func(t *testing.T) {
		for name, rep := range map[string]map[string]any{
			"MissingKey":  {"__typename": "Employee"},
			"UnknownType": {"__typename": "Foo", "id": "x"},
			"NotAnEntity": {"__typename": "Department", "id": "x"},
		} {
			r := srv.Do(c.Token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Employee { id } } }`,
				map[string]any{"r": []any{rep}})
			require.NotEmpty(t, r.Errors, name)
			require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), "%s: %s", name, r.Errors[0].Message)
		}
	})
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")

	for name, token := range map[string]string{
		"Missing":  "",
		"Garbage":  "not-a-jwt",
		"Forged":   c.Token[:len(c.Token)-4] + "AAAA",
		"OtherKey": otherKeyToken(t, c),
		"NoTenant": tokenWithout(t, srv, uuid.Nil, c.Admin.ID),
		"Expired":  expiredToken(t, srv, c),
	} {
		t.Run(name, func(t *testing.T) {
			r := srv.Do(token, `{ me { id } }`, nil)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.Len(t, r.Errors, 1)
			require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
		})
	}
	t.Run("HealthChecksNeedNoToken", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(srv.URL + path)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, path)
		}
	})
	t.Run("ValidTokenIsMe", func(t *testing.T) {
		var got struct{ Me struct{ ID, Role string } }
		srv.MustData(c.Token, `{ me { id role } }`, nil, &got)
		require.Equal(t, c.Admin.ID.String(), got.Me.ID)
		require.Equal(t, "ADMIN", got.Me.Role)
	})
}

func otherKeyToken(t *testing.T, c apitest.Fixture) string {
	other := apitest.New(t, apitest.Opts{})
	return other.Token(c.Tenant.ID, c.Admin.ID, "ADMIN")
}

func tokenWithout(t *testing.T, srv *apitest.Server, tenant, employee uuid.UUID) string {
	return srv.Token(tenant, employee, "ADMIN")
}

func expiredToken(t *testing.T, srv *apitest.Server, c apitest.Fixture) string {
	tok, err := srv.Signer.Mint(authParams(c, -2*time.Hour))
	require.NoError(t, err)
	return tok
}

func TestConcurrentStartTimerAllowsOne(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	token := srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE")
	const attempts = 8
	tally := raceOutcomes(attempts, func(int) apitest.Response {
		return srv.Do(token, `mutation($p: ID!) { startTimer(input: {projectId: $p}) { id running } }`,
			map[string]any{"p": c.Projects[0].ID})
	})
	require.Equal(t, map[string]int{"OK": 1, "CONFLICT": attempts - 1}, tally)

	var running struct {
		TimeEntries struct{ Nodes []struct{ Running bool } }
	}
	srv.MustData(token, `query($e: ID!) { timeEntries(filter: {employeeId: $e}, first: 100) { nodes { running } } }`,
		map[string]any{"e": c.Employees[0].ID}, &running)
	n := 0
	for _, e := range running.TimeEntries.Nodes {
		if e.Running {
			n++
		}
	}
	require.Equal(t, 1, n, "exactly one running entry was written")
}

func authParams(c apitest.Fixture, age time.Duration) auth.TokenParams {
	return auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience, TenantID: c.Tenant.ID,
		EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"}, TTL: time.Hour, Now: time.Now().Add(age)}
}

func storeEmployee(name, email string) store.EmployeeParams {
	return store.EmployeeParams{Name: ptr(name), Email: ptr(email), Role: ptr(store.RoleEmployee)}
}

func TestOversizedRequestIsRefused(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	r := srv.Do(c.Token, `{ me { id } }`, map[string]any{"padding": strings.Repeat("x", 2<<20)})
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	require.Equal(t, "REQUEST_TOO_LARGE", r.Errors[0].Code())

	resp, err := http.Post(srv.URL+"/query", "application/json", strings.NewReader(`{"query": `))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "authentication comes before parsing")

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", strings.NewReader(`{"query": `))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body apitest.Response
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "BAD_REQUEST", body.Errors[0].Code(), "a body that is not JSON is the client's error")
}

// Below what root fields prefetch, siblings still share batches. Lists marshal their elements
// one after another (internal/lists) and start the rest of a list on goroutines of their own only
// when an element waits for a loader; here every entry's employee.timeEntries and
// employee.manager are left to the loaders, with a distinct employee per three entries. The
// window is generous: with the default 50 µs a loaded machine splits such batches (it did before
// lists were sequential too); this tests that waiting elements let their siblings reach the
// loaders, which fully sequential lists would not (one batch per employee).
func TestUnprefetchedLevelsBatchAcrossListElements(t *testing.T) {
	t.Parallel()
	const query = `{ timeEntries(first: 100) { nodes { id employee { manager { name } timeEntries(first: 2) { id } } } } }`
	counts := map[int]int64{}
	for _, n := range []int{1, 30} {
		srv := apitest.New(t, apitest.Opts{Loaders: loaders.Opts{Quiet: 20 * time.Millisecond, MaxWait: 5 * time.Second}})
		c := newCompany(t, srv, "acme", n)
		srv.Statements.Reset()
		var got struct {
			TimeEntries struct {
				Nodes []struct {
					Employee struct {
						Manager     struct{ Name string }
						TimeEntries []struct{ ID string }
					}
				}
			}
		}
		srv.MustData(c.Token, query, nil, &got)
		counts[n] = srv.Statements.Count()
		require.Len(t, got.TimeEntries.Nodes, 3*n)
		for _, te := range got.TimeEntries.Nodes {
			require.NotEmpty(t, te.Employee.Manager.Name)
			require.Len(t, te.Employee.TimeEntries, 2)
		}
	}
	// entries, their employees (prefetched), then one batch each: managers, latest entries.
	require.Equal(t, counts[1], counts[30], "statements for 1 vs 30 employees: %v", counts)
	require.Equal(t, int64(4), counts[30], "statements per request: %v", counts)
}

// Root fields fetch their rows and the relations selected on them at once: one statement each,
// with the loaders' default window, because no batching window is involved.
func TestRootListsPrefetchSelectedRelations(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 30)
	for name, tc := range map[string]struct {
		query string
		want  int64
	}{
		// Entries with their projects and tasks in one statement (a join), then employees.
		"TimeEntryNodes": {`{ timeEntries(first: 100) { nodes { project { name } task { title } employee { name } } } }`, 2},
		"TimeEntryEdgesWithFragment": {`{ timeEntries(first: 100) { edges { node { ...E } } } }
			fragment E on TimeEntry { project { name } }`, 1},
		"Employees": {`{ employees(first: 100) { nodes { department { name } manager { name } projects { name } } } }`, 4},
		"Projects":  {`{ projects(first: 100) { nodes { members { name } tasks { title } totalHours } } }`, 4},
		// The employee with its department and manager in one statement (a join), then projects.
		"EmployeeByID": {fmt.Sprintf(`{ employee(id: %q) { name department { name } manager { name } projects { name } } }`,
			c.Employees[0].ID), 2},
		"Me": {`{ me { name projects { name } } }`, 2},
		// Two levels deep: employees, then departments and the latest entries of all of them,
		// then those entries' projects and tasks.
		"EmployeesWithLatestEntries": {`query($n: Int) { employees(first: 100) { nodes { department { name }
			timeEntries(first: $n) { project { name } task { title } } } } }`, 5},
	} {
		t.Run(name, func(t *testing.T) {
			for range 3 {
				srv.Statements.Reset()
				r := srv.Do(c.Token, tc.query, nil)
				require.Empty(t, r.Errors)
				require.Equal(t, tc.want, srv.Statements.Count())
			}
		})
	}
}

// timeEntries reads its entries' projects and tasks with them (one statement); an entry without
// a task has a null task, and the values are the loaders'.
func TestTimeEntriesReadProjectAndTaskWithTheEntries(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	end := start.Add(30 * time.Minute)
	untasked, err := srv.Store.CreateTimeEntry(context.Background(), c.Scope, store.TimeEntryParams{
		EmployeeID: &c.Employees[0].ID, ProjectID: &c.Projects[1].ID, StartTime: &start, EndTime: &end})
	require.NoError(t, err)

	var got struct {
		TimeEntries struct {
			Nodes []struct {
				ID      string
				Project struct{ ID, Name string }
				Task    *struct{ ID, Title string }
			}
		}
	}
	srv.Statements.Reset()
	srv.MustData(c.Token, `{ timeEntries(first: 100) { nodes { id project { id name } task { id title } } } }`, nil, &got)
	require.Equal(t, int64(1), srv.Statements.Count())
	require.Len(t, got.TimeEntries.Nodes, 7)
	projects := map[string]string{}
	for _, p := range c.Projects {
		projects[p.ID.String()] = p.Name
	}
	tasks := map[string]string{}
	for _, task := range c.Tasks {
		tasks[task.ID.String()] = task.Title
	}
	for _, n := range got.TimeEntries.Nodes {
		require.Equal(t, projects[n.Project.ID], n.Project.Name)
		if n.ID == untasked.ID.String() {
			require.Nil(t, n.Task)
			require.Equal(t, c.Projects[1].Name, n.Project.Name)
			continue
		}
		require.NotNil(t, n.Task)
		require.Equal(t, tasks[n.Task.ID], n.Task.Title)
	}
}

func TestQueryOverGET(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/query?query="+url.QueryEscape(`{ me { id } }`), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got apitest.Response
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Empty(t, got.Errors)
	require.Contains(t, string(got.Data), c.Admin.ID.String())

	req, err = http.NewRequest(http.MethodGet, srv.URL+"/query?query="+url.QueryEscape(`mutation { stopTimer { id } }`), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp2.Body.Close()
	require.NotEqual(t, http.StatusOK, resp2.StatusCode, "no mutations over GET")
}

func TestChunkedOversizedBodyIsRefused(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	body := io.MultiReader(strings.NewReader(`{"query": "{ me { id } }", "variables": {"p": "`),
		strings.NewReader(strings.Repeat("x", 2<<20)), strings.NewReader(`"}}`))
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", body) // no length: chunked
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

// A later mutation in the same document sees what an earlier one wrote.
func TestMutationsSeeEachOthersWrites(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	var got struct {
		A struct{ Members []struct{ ID string } }
		B struct{ Members []struct{ ID string } }
	}
	srv.MustData(c.Token, `mutation($p: ID!, $e1: ID!, $e2: ID!) {
		a: removeProjectMember(projectId: $p, employeeId: $e1) { members { id } }
		b: removeProjectMember(projectId: $p, employeeId: $e2) { members { id } }
	}`, map[string]any{"p": c.Projects[0].ID, "e1": c.Employees[0].ID, "e2": c.Employees[1].ID}, &got)
	require.Len(t, got.A.Members, 1)
	require.Empty(t, got.B.Members, "b sees both removals, not a's cached members")
}

func TestLatestEntriesRangeBoundsMeanThemselves(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	var got struct {
		Employee struct {
			Epoch []struct{ ID string } `json:"epoch"`
			Far   []struct{ ID string } `json:"far"`
		}
	}
	srv.MustData(c.Token, `query($id: ID!) { employee(id: $id) {
		epoch: timeEntries(to: "1970-01-01T00:00:00Z") { id }
		far: timeEntries(to: "9999-12-31T00:00:00Z") { id }
	} }`, map[string]any{"id": c.Employees[0].ID}, &got)
	require.Empty(t, got.Employee.Epoch, "nothing started before 1970")
	require.Len(t, got.Employee.Far, 3, "everything started before 9999")
}

// Employee.timeEntries reads lean entries (no description, source or timestamps) when nothing
// selected on them reads those fields; a sibling alias, or a fragment on _Entity, that does
// gets full entries, whichever of the two the root field prefetched.
func TestLatestEntriesAreLeanOnlyWhenNothingReadsTheLeftOutFields(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	end := start.Add(30 * time.Minute)
	entry, err := srv.Store.CreateTimeEntry(context.Background(), c.Scope, store.TimeEntryParams{
		EmployeeID: &c.Employees[0].ID, ProjectID: &c.Projects[0].ID, StartTime: &start, EndTime: &end,
		Description: ptr("written by hand")})
	require.NoError(t, err)

	type full struct {
		ID          string
		Description *string
		Source      *string
		CreatedAt   *string
		UpdatedAt   *string
	}
	const wide = `id ... on _Entity { ... on TimeEntry { description source createdAt updatedAt } }`
	for name, query := range map[string]string{
		"EmployeeLeanFirst":  `query($id: ID!) { employee(id: $id) { a: timeEntries(first: 1) { id } b: timeEntries(first: 1) { ` + wide + ` } } }`,
		"EmployeeFullFirst":  `query($id: ID!) { employee(id: $id) { b: timeEntries(first: 1) { ` + wide + ` } a: timeEntries(first: 1) { id } } }`,
		"EmployeesLeanFirst": `{ employees(first: 100) { nodes { id a: timeEntries(first: 1) { id } b: timeEntries(first: 1) { ` + wide + ` } } } }`,
		"EmployeesFullFirst": `{ employees(first: 100) { nodes { id b: timeEntries(first: 1) { ` + wide + ` } a: timeEntries(first: 1) { id } } } }`,
	} {
		t.Run(name, func(t *testing.T) {
			var got struct {
				Employee  *struct{ A, B []full }
				Employees struct {
					Nodes []struct {
						ID   string
						A, B []full
					}
				}
			}
			srv.MustData(c.Token, query, map[string]any{"id": c.Employees[0].ID.String()}, &got)
			e := got.Employee
			for _, n := range got.Employees.Nodes {
				if n.ID == c.Employees[0].ID.String() {
					e = &struct{ A, B []full }{n.A, n.B}
				}
			}
			require.NotNil(t, e)
			require.Len(t, e.A, 1)
			require.Len(t, e.B, 1)
			require.Equal(t, entry.ID.String(), e.A[0].ID)
			require.Equal(t, entry.ID.String(), e.B[0].ID)
			require.Nil(t, e.A[0].Description)
			require.NotNil(t, e.B[0].Description)
			require.Equal(t, "written by hand", *e.B[0].Description)
			require.Equal(t, store.SourceManual, *e.B[0].Source)
			require.NotContains(t, *e.B[0].CreatedAt, "0001-01-01")
			require.NotContains(t, *e.B[0].UpdatedAt, "0001-01-01")
		})
	}
}

// Employee.timeEntries without a range, with one end and with both (three statements of the
// store's): the entries that started in [from, to), newest first.
func TestLatestEntriesWithinARange(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	// newCompany's entries start at base, base+2h and base+4h.
	base := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Hour)
	at := func(h int) string { return base.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	var got struct {
		Employee struct {
			All, From, To, Both []struct{ StartTime time.Time }
		}
	}
	srv.MustData(c.Token, `query($id: ID!, $from: Time!, $to: Time!) { employee(id: $id) {
		all: timeEntries { startTime } from: timeEntries(from: $from) { startTime }
		to: timeEntries(to: $to) { startTime } both: timeEntries(from: $from, to: $to) { startTime } } }`,
		map[string]any{"id": c.Employees[0].ID.String(), "from": at(1), "to": at(3)}, &got)
	starts := func(entries []struct{ StartTime time.Time }) []int {
		var hours []int
		for _, e := range entries {
			hours = append(hours, int(e.StartTime.Sub(base).Hours()))
		}
		return hours
	}
	require.Equal(t, []int{4, 2, 0}, starts(got.Employee.All))
	require.Equal(t, []int{4, 2}, starts(got.Employee.From))
	require.Equal(t, []int{2, 0}, starts(got.Employee.To))
	require.Equal(t, []int{2}, starts(got.Employee.Both))
}

// raceOutcomes runs attempt 0..n-1 at once and tallies their outcomes: "OK", or the first
// error's code.
func raceOutcomes(n int, attempt func(i int) apitest.Response) map[string]int {
	var wg sync.WaitGroup
	codes := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := attempt(i); len(r.Errors) > 0 {
				codes <- r.Errors[0].Code()
				return
			}
			codes <- "OK"
		}()
	}
	wg.Wait()
	close(codes)
	tally := map[string]int{}
	for code := range codes {
		tally[code]++
	}
	return tally
}
