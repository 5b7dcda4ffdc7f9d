package graph_test

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/cost"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/store"
)

// memoryRoot resolves a page of employees, their departments and latest entries, and the
// entries' projects and tasks from memory, with no database: what the generated code costs, and
// how it reports what a resolver returns, without a query's time in between. The *Func fields
// replace one resolver field each (nil: the value from memory).
type memoryRoot struct {
	graph.ResolverRoot // nil: a field not listed here panics
	employees          []*store.Employee
	entries            map[uuid.UUID][]*store.TimeEntry
	projects           map[uuid.UUID]*store.Project
	tasks              map[uuid.UUID]*store.Task
	department         *store.Department

	projectFunc    func(ctx context.Context, obj *store.TimeEntry) (*store.Project, error)
	taskFunc       func(ctx context.Context, obj *store.TimeEntry) (*store.Task, error)
	totalCountFunc func(ctx context.Context) (int, error)
}

// newMemoryRoot is a page of employees with perEmployee entries each, over 8 projects with a
// task each; every other entry has its task.
func newMemoryRoot(employees, perEmployee int) *memoryRoot {
	at := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	r := &memoryRoot{entries: map[uuid.UUID][]*store.TimeEntry{}, projects: map[uuid.UUID]*store.Project{},
		tasks: map[uuid.UUID]*store.Task{}, department: &store.Department{ID: uuid.New(), Name: "Engineering"}}
	var projects []*store.Project
	var tasks []*store.Task
	for i := range 8 {
		p := &store.Project{ID: uuid.New(), Name: "Project " + string(rune('A'+i)), Status: "ACTIVE", CreatedAt: at, UpdatedAt: at}
		t := &store.Task{ID: uuid.New(), ProjectID: p.ID, Title: "Task of " + p.Name, Status: "TODO", CreatedAt: at, UpdatedAt: at}
		r.projects[p.ID], r.tasks[t.ID] = p, t
		projects, tasks = append(projects, p), append(tasks, t)
	}
	for i := range employees {
		e := &store.Employee{ID: uuid.New(), DepartmentID: &r.department.ID, Name: "Employee " + string(rune('A'+i%26)),
			Email: "e@example.com", Role: "EMPLOYEE", Status: "ACTIVE", CreatedAt: at, UpdatedAt: at}
		r.employees = append(r.employees, e)
		for j := range perEmployee {
			end := at.Add(time.Duration(j+1) * time.Hour)
			te := &store.TimeEntry{ID: uuid.New(), EmployeeID: e.ID, ProjectID: projects[j%8].ID,
				StartTime: at.Add(time.Duration(j) * time.Hour), EndTime: &end, Billable: j%3 == 0, Source: "MANUAL",
				CreatedAt: at, UpdatedAt: at}
			if j%2 == 0 {
				te.TaskID = &tasks[j%8].ID
			}
			r.entries[e.ID] = append(r.entries[e.ID], te)
		}
	}
	return r
}

// handler is the real GraphQL handler over r, and the ADMIN principal to hand it.
func (r *memoryRoot) handler() (*handler.Server, *auth.Principal) {
	tiers := ratelimit.DefaultTiers() // budgets that never refuse, as apitest's
	huge := ratelimit.PerSecond(1<<30, 1<<29)
	for role := range tiers.ByRole {
		tiers.ByRole[role] = huge
	}
	tiers.Default, tiers.MaxQueryCost = huge, 1<<30
	h := graph.NewServer(graph.ServerOpts{Resolvers: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Budgets: cost.Budgets{Tiers: tiers}})
	h.AddTransport(transport.POST{}) // httpapi's transports add nothing these tests look at
	return h, &auth.Principal{TenantID: uuid.New(), EmployeeID: uuid.New(), Roles: []string{"ADMIN"},
		ExpiresAt: time.Now().Add(time.Hour)}
}

func (r *memoryRoot) Query() graph.QueryResolver         { return memoryQuery{r: r} }
func (r *memoryRoot) Employee() graph.EmployeeResolver   { return memoryEmployee{r: r} }
func (r *memoryRoot) TimeEntry() graph.TimeEntryResolver { return memoryTimeEntry{r: r} }
func (r *memoryRoot) Task() graph.TaskResolver           { return memoryTask{r: r} }
func (r *memoryRoot) EmployeeConnection() graph.EmployeeConnectionResolver {
	return memoryConnection{r: r}
}

type memoryQuery struct {
	graph.QueryResolver
	r *memoryRoot
}

func (q memoryQuery) Employees(ctx context.Context, _ *model.EmployeeFilter, first *int, _ *string) (*model.EmployeeConnection, error) {
	c := &model.EmployeeConnection{PageInfo: &model.PageInfo{}}
	for i, e := range q.r.employees {
		if first != nil && i == *first {
			break
		}
		c.Edges = append(c.Edges, &model.EmployeeEdge{Cursor: e.ID.String(), Node: e})
		c.Nodes = append(c.Nodes, e)
	}
	return c, nil
}

type memoryConnection struct {
	graph.EmployeeConnectionResolver
	r *memoryRoot
}

func (c memoryConnection) TotalCount(ctx context.Context, _ *model.EmployeeConnection) (int, error) {
	if c.r.totalCountFunc != nil {
		return c.r.totalCountFunc(ctx)
	}
	return len(c.r.employees), nil
}

type memoryEmployee struct {
	graph.EmployeeResolver
	r *memoryRoot
}

func (e memoryEmployee) Department(context.Context, *store.Employee) (*store.Department, error) {
	return e.r.department, nil
}

func (e memoryEmployee) Manager(_ context.Context, obj *store.Employee) (*store.Employee, error) {
	if obj == e.r.employees[0] {
		return nil, nil
	}
	return e.r.employees[0], nil
}

func (e memoryEmployee) TimeEntries(_ context.Context, obj *store.Employee, _, _ *time.Time, first *int) ([]*store.TimeEntry, error) {
	entries := e.r.entries[obj.ID]
	if first != nil && *first < len(entries) {
		entries = entries[:*first]
	}
	return entries, nil
}

type memoryTimeEntry struct {
	graph.TimeEntryResolver
	r *memoryRoot
}

func (t memoryTimeEntry) Project(ctx context.Context, obj *store.TimeEntry) (*store.Project, error) {
	if t.r.projectFunc != nil {
		return t.r.projectFunc(ctx, obj)
	}
	return t.r.projects[obj.ProjectID], nil
}

func (t memoryTimeEntry) Task(ctx context.Context, obj *store.TimeEntry) (*store.Task, error) {
	if t.r.taskFunc != nil {
		return t.r.taskFunc(ctx, obj)
	}
	if obj.TaskID == nil {
		return nil, nil
	}
	return t.r.tasks[*obj.TaskID], nil
}

func (t memoryTimeEntry) Employee(_ context.Context, obj *store.TimeEntry) (*store.Employee, error) {
	for _, e := range t.r.employees {
		if e.ID == obj.EmployeeID {
			return e, nil
		}
	}
	return nil, nil
}

type memoryTask struct {
	graph.TaskResolver
	r *memoryRoot
}

func (t memoryTask) Project(_ context.Context, obj *store.Task) (*store.Project, error) {
	return t.r.projects[obj.ProjectID], nil
}

// Assignee: tasks are unassigned.
func (t memoryTask) Assignee(context.Context, *store.Task) (*store.Employee, error) { return nil, nil }
