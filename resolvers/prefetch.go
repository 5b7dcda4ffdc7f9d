package resolvers

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/store"
)

// A list resolver knows every row its children will ask about. Prefetching the relationships
// the client selected on those rows starts their batches at once — no batching window to wait
// out, and no chance for a busy scheduler to split a batch — and the children's loads become
// cache hits. Deeper levels still batch through the loaders' window.

// rowFields returns the fields selected on the rows of the connection being resolved (under
// `nodes` and `edges { node }`), fragments included; rowType is the rows' GraphQL type.
func rowFields(ctx context.Context, connType, rowType string) map[string]bool {
	fc := graphql.GetFieldContext(ctx)
	op := graphql.GetOperationContext(ctx)
	if fc == nil || op == nil || fc.Field.Field == nil {
		return nil
	}
	fields := map[string]bool{}
	add := func(sel []graphql.CollectedField) {
		for _, f := range sel {
			fields[f.Name] = true
		}
	}
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, []string{connType}) {
		switch f.Name {
		case "nodes":
			add(graphql.CollectFields(op, f.Selections, []string{rowType}))
		case "edges":
			for _, e := range graphql.CollectFields(op, f.Selections, []string{connType[:len(connType)-len("Connection")] + "Edge"}) {
				if e.Name == "node" {
					add(graphql.CollectFields(op, e.Selections, []string{rowType}))
				}
			}
		}
	}
	return fields
}

// objectFields returns the fields selected on the object the current field returns.
func objectFields(ctx context.Context, typ string) map[string]bool {
	fc := graphql.GetFieldContext(ctx)
	op := graphql.GetOperationContext(ctx)
	if fc == nil || op == nil || fc.Field.Field == nil {
		return nil
	}
	fields := map[string]bool{}
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, []string{typ}) {
		fields[f.Name] = true
	}
	return fields
}

func prefetchEmployees(ctx context.Context, l *loaders.Loaders, rows []*store.Employee, sel map[string]bool) {
	prefetch(ctx,
		when(sel["department"], func(ctx context.Context) error {
			return l.Department.LoadMany(ctx, ids(rows, func(e *store.Employee) *uuid.UUID { return e.DepartmentID }))
		}),
		when(sel["manager"], func(ctx context.Context) error {
			return l.Employee.LoadMany(ctx, ids(rows, func(e *store.Employee) *uuid.UUID { return e.ManagerID }))
		}),
		when(sel["projects"], func(ctx context.Context) error {
			return l.ProjectsOfEmployee.LoadMany(ctx, ids(rows, func(e *store.Employee) *uuid.UUID { return &e.ID }))
		}),
	)
}

func prefetchProjects(ctx context.Context, l *loaders.Loaders, rows []*store.Project, sel map[string]bool) {
	projectIDs := ids(rows, func(p *store.Project) *uuid.UUID { return &p.ID })
	prefetch(ctx,
		when(sel["members"], func(ctx context.Context) error { return l.MembersOfProject.LoadMany(ctx, projectIDs) }),
		when(sel["tasks"], func(ctx context.Context) error { return l.TasksOfProject.LoadMany(ctx, projectIDs) }),
		when(sel["totalHours"], func(ctx context.Context) error { return l.TrackedSeconds.LoadMany(ctx, projectIDs) }),
	)
}

func prefetchTimeEntries(ctx context.Context, l *loaders.Loaders, rows []*store.TimeEntry, sel map[string]bool) {
	prefetch(ctx,
		when(sel["employee"], func(ctx context.Context) error {
			return l.Employee.LoadMany(ctx, ids(rows, func(t *store.TimeEntry) *uuid.UUID { return &t.EmployeeID }))
		}),
		when(sel["project"], func(ctx context.Context) error {
			return l.Project.LoadMany(ctx, ids(rows, func(t *store.TimeEntry) *uuid.UUID { return &t.ProjectID }))
		}),
		when(sel["task"], func(ctx context.Context) error {
			return l.Task.LoadMany(ctx, ids(rows, func(t *store.TimeEntry) *uuid.UUID { return t.TaskID }))
		}),
	)
}

// prefetch runs loads concurrently and waits for all of them. Their errors are not returned: a
// failed batch is remembered by its loader and reported by the fields that need it.
func prefetch(ctx context.Context, loads ...func(context.Context) error) {
	var wg sync.WaitGroup
	for _, load := range loads {
		if load == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = load(ctx)
		}()
	}
	wg.Wait()
}

// when returns load if cond holds, else nil (skipped by prefetch).
func when(cond bool, load func(context.Context) error) func(context.Context) error {
	if cond {
		return load
	}
	return nil
}

// ids collects the non-nil ids of rows.
func ids[T any](rows []T, id func(T) *uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		if v := id(r); v != nil {
			out = append(out, *v)
		}
	}
	return out
}
