package resolvers

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/store"
)

// A root field knows every row its children will ask about. Prefetching the relationships the
// client selected on those rows — and, for the latest time entries of employees, the relations
// selected on those entries in turn — starts each batch at once: no batching window to wait
// out, no chance for a busy scheduler to split a batch, and the children's loads become cache
// hits. Anything not prefetched still batches through the loaders' window.

// selection is the fields selected on an object type, by name.
type selection map[string]graphql.CollectedField

func (s selection) has(name string) bool {
	_, ok := s[name]
	return ok
}

// objectFields returns the fields selected on the object the current field returns.
func objectFields(ctx context.Context, typ string) selection {
	fc := graphql.GetFieldContext(ctx)
	op := graphql.GetOperationContext(ctx)
	if fc == nil || op == nil || fc.Field.Field == nil {
		return nil
	}
	return fieldsOf(op, fc.Field.Selections, typ)
}

// rowFields returns the fields selected on the rows of the connection being resolved (under
// `nodes` and `edges { node }`), fragments included.
func rowFields(ctx context.Context, connType, edgeType, rowType string) selection {
	fc := graphql.GetFieldContext(ctx)
	op := graphql.GetOperationContext(ctx)
	if fc == nil || op == nil || fc.Field.Field == nil {
		return nil
	}
	rows := selection{}
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, []string{connType}) {
		switch f.Name {
		case "nodes":
			for name, field := range fieldsOf(op, f.Selections, rowType) {
				rows[name] = field
			}
		case "edges":
			for _, e := range graphql.CollectFields(op, f.Selections, []string{edgeType}) {
				if e.Name == "node" {
					for name, field := range fieldsOf(op, e.Selections, rowType) {
						rows[name] = field
					}
				}
			}
		}
	}
	return rows
}

// fieldsOf collects the fields of set that apply to typ (fragments resolved).
func fieldsOf(op *graphql.OperationContext, set ast.SelectionSet, typ string) selection {
	fields := selection{}
	for _, f := range graphql.CollectFields(op, set, []string{typ}) {
		fields[f.Name] = f
	}
	return fields
}

func prefetchEmployees(ctx context.Context, l *loaders.Loaders, rows []*store.Employee, sel selection) {
	prefetch(ctx,
		when(sel.has("department"), func(ctx context.Context) error {
			return l.Department().LoadMany(ctx, ids(rows, func(e *store.Employee) *uuid.UUID { return e.DepartmentID }))
		}),
		when(sel.has("manager"), func(ctx context.Context) error {
			return l.Employee().LoadMany(ctx, ids(rows, func(e *store.Employee) *uuid.UUID { return e.ManagerID }))
		}),
		whenChildren(ctx, sel, "projects", defaultProjectsOfEmployee, func(ctx context.Context, limit int) error {
			return l.ProjectsOfEmployee().LoadMany(ctx, loaders.ChildrenOf(ids(rows, func(e *store.Employee) *uuid.UUID { return &e.ID }), limit))
		}),
		when(sel.has("timeEntries"), func(ctx context.Context) error {
			return prefetchLatestEntries(ctx, l, rows, sel["timeEntries"])
		}),
	)
}

// prefetchLatestEntries loads the latest entries of every employee with the arguments the
// client gave Employee.timeEntries, then what it selected on those entries. Arguments the
// resolver would refuse are left to it to report.
func prefetchLatestEntries(ctx context.Context, l *loaders.Loaders, rows []*store.Employee, field graphql.CollectedField) error {
	op := graphql.GetOperationContext(ctx)
	args := field.ArgumentMap(op.Variables)
	from, okFrom := optionalTime(args["from"])
	to, okTo := optionalTime(args["to"])
	limit, okLimit := intArg(args["first"], defaultLatestEntries)
	if !okFrom || !okTo || !okLimit || limit < 0 || limit > store.MaxPageSize {
		return nil
	}
	lean := leanEntries(op, field.Selections)
	keys := make([]loaders.LatestEntriesKey, len(rows))
	for i, e := range rows {
		keys[i] = loaders.LatestKey(e.ID, from, to, limit, lean)
	}
	if err := l.LatestEntriesOfEmployee().LoadMany(ctx, keys); err != nil {
		return err
	}
	var entries []*store.TimeEntry
	for _, k := range keys {
		got, err := l.LatestEntriesOfEmployee().Get(ctx, k)
		if err != nil {
			return err
		}
		entries = append(entries, got...)
	}
	prefetchTimeEntries(ctx, l, entries, fieldsOf(op, field.Selections, "TimeEntry"))
	return nil
}

// leanEntryFields are the TimeEntry fields a lean entry (store.LatestTimeEntriesByEmployeeIDs)
// answers. A field not listed here — description, source, createdAt, updatedAt, or one added
// later — makes the entries full.
var leanEntryFields = map[string]bool{
	"__typename": true, "id": true, "startTime": true, "endTime": true, "durationSeconds": true, "running": true,
	"billable": true, "employee": true, "project": true, "task": true,
}

// timeEntryTypes are the types a fragment on a TimeEntry may name: what gqlgen collects the
// entry's fields with.
var timeEntryTypes = []string{"TimeEntry", "_Entity"}

// leanEntries reports whether set, selected on TimeEntry values, reads only fields of lean
// entries. The prefetch and Employee.timeEntries ask it of the same field, so they agree on the
// loader key.
func leanEntries(op *graphql.OperationContext, set ast.SelectionSet) bool {
	for _, f := range graphql.CollectFields(op, set, timeEntryTypes) {
		if !leanEntryFields[f.Name] {
			return false
		}
	}
	return true
}

// latestEntriesLean is leanEntries for the Employee.timeEntries field being resolved.
func latestEntriesLean(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	op := graphql.GetOperationContext(ctx)
	if fc == nil || op == nil || fc.Field.Field == nil {
		return false
	}
	return leanEntries(op, fc.Field.Selections)
}

func prefetchProjects(ctx context.Context, l *loaders.Loaders, rows []*store.Project, sel selection) {
	projectIDs := ids(rows, func(p *store.Project) *uuid.UUID { return &p.ID })
	prefetch(ctx,
		whenChildren(ctx, sel, "members", defaultMembers, func(ctx context.Context, limit int) error {
			members, err := loadChildren(ctx, l.MembersOfProject(), loaders.ChildrenOf(projectIDs, limit))
			if err == nil {
				prefetchEmployees(ctx, l, members, fieldsOf(graphql.GetOperationContext(ctx), sel["members"].Selections, "Employee"))
			}
			return err
		}),
		whenChildren(ctx, sel, "tasks", defaultTasks, func(ctx context.Context, limit int) error {
			tasks, err := loadChildren(ctx, l.TasksOfProject(), loaders.ChildrenOf(projectIDs, limit))
			if err == nil {
				prefetchTasks(ctx, l, tasks, fieldsOf(graphql.GetOperationContext(ctx), sel["tasks"].Selections, "Task"))
			}
			return err
		}),
		when(sel.has("totalHours"), func(ctx context.Context) error { return l.TrackedSeconds().LoadMany(ctx, projectIDs) }),
	)
}

func prefetchTasks(ctx context.Context, l *loaders.Loaders, rows []*store.Task, sel selection) {
	prefetch(ctx,
		whenChildren(ctx, sel, "dependencies", defaultDependencies, func(ctx context.Context, limit int) error {
			return l.DependenciesOfTask().LoadMany(ctx, loaders.ChildrenOf(ids(rows, func(t *store.Task) *uuid.UUID { return &t.ID }), limit))
		}),
	)
}

// loadChildren loads the children of every key and returns them all, for prefetching what is
// selected on them in turn.
func loadChildren[V any](ctx context.Context, loader *loaders.Loader[loaders.ChildrenKey, []V], keys []loaders.ChildrenKey) ([]V, error) {
	if err := loader.LoadMany(ctx, keys); err != nil {
		return nil, err
	}
	var all []V
	for _, k := range keys {
		got, err := loader.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	return all, nil
}

func prefetchTimeEntries(ctx context.Context, l *loaders.Loaders, rows []*store.TimeEntry, sel selection) {
	prefetch(ctx,
		when(sel.has("employee"), func(ctx context.Context) error {
			return l.Employee().LoadMany(ctx, ids(rows, func(t *store.TimeEntry) *uuid.UUID { return &t.EmployeeID }))
		}),
		when(sel.has("project"), func(ctx context.Context) error {
			return l.Project().LoadMany(ctx, ids(rows, func(t *store.TimeEntry) *uuid.UUID { return &t.ProjectID }))
		}),
		when(sel.has("task"), func(ctx context.Context) error {
			return l.Task().LoadMany(ctx, ids(rows, func(t *store.TimeEntry) *uuid.UUID { return t.TaskID }))
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

// whenChildren is when for a relation list (see childLimit): load gets the first the client gave
// the field, or def. A first the resolver would refuse is left to it to report. Of a field
// selected under two aliases with different firsts one is prefetched, the other loads through
// the loaders' window.
func whenChildren(ctx context.Context, sel selection, name string, def int, load func(context.Context, int) error) func(context.Context) error {
	field, ok := sel[name]
	if !ok {
		return nil
	}
	limit, ok := intArg(field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)["first"], def)
	if !ok || limit < 0 || limit > store.MaxPageSize {
		return nil
	}
	return func(ctx context.Context) error { return load(ctx, limit) }
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

// optionalTime reads a Time argument as gqlparser hands it over (a string, or nil when absent).
func optionalTime(v any) (*time.Time, bool) {
	if v == nil {
		return nil, true
	}
	t, err := model.UnmarshalTime(v)
	if err != nil {
		return nil, false
	}
	return &t, true
}

// intArg reads an Int argument: an int64 from a literal, a json.Number from variables, def for
// null (as the resolver treats it).
func intArg(v any, def int) (int, bool) {
	switch n := v.(type) {
	case nil:
		return def, true
	case int64:
		return int(n), true
	case int:
		return n, true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

// loadEmployee is load for the employee a root field (employee, me) asks for. When the client
// selected its department or manager, one statement reads all three and primes their loaders,
// rather than one for the employee and then one for each relation.
func (r *Resolver) loadEmployee(ctx context.Context, id string) (*store.Employee, error) {
	sel := objectFields(ctx, "Employee")
	if !sel.has("department") && !sel.has("manager") {
		return load(ctx, id, employeeLoader, prefetchEmployees)
	}
	key, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	l, err := loaders.For(ctx)
	if err != nil {
		return nil, err
	}
	s, err := scope(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := r.store.EmployeesWithRefsByIDs(ctx, s, []uuid.UUID{key})
	if err != nil {
		return nil, err
	}
	var row *store.Employee
	for _, refs := range rows {
		row = refs.Employee
		// nil for a reference the scope may not see: what the loaders would have fetched.
		if row.DepartmentID != nil {
			l.Department().Prime(*row.DepartmentID, refs.Department)
		}
		if row.ManagerID != nil {
			l.Employee().Prime(*row.ManagerID, refs.Manager)
		}
	}
	l.Employee().Prime(key, row)
	if row == nil {
		return nil, nil
	}
	// Department and manager are cache hits now; the rest is fetched as load would.
	prefetchEmployees(ctx, l, []*store.Employee{row}, sel)
	return row, nil
}

// listTimeEntries reads a page of time entries. When the client selected their project or task,
// one statement reads the entries with both and primes the project and task loaders, rather
// than one for the entries and then one for each relation.
func (r *Resolver) listTimeEntries(ctx context.Context, s store.Scope, params store.ListTimeEntriesParams,
	page store.PageParams, sel selection,
) (store.Page[*store.TimeEntry], error) {
	l, err := loaders.For(ctx)
	if err != nil || (!sel.has("project") && !sel.has("task")) {
		return r.store.ListTimeEntries(ctx, s, params, page)
	}
	refs, err := r.store.ListTimeEntriesWithRefs(ctx, s, params, page)
	if err != nil {
		return store.Page[*store.TimeEntry]{}, err
	}
	rows := make([]*store.TimeEntry, len(refs.Rows))
	for i, ref := range refs.Rows {
		rows[i] = ref.Entry
		l.Project().Prime(ref.Entry.ProjectID, ref.Project)
		if ref.Entry.TaskID != nil {
			l.Task().Prime(*ref.Entry.TaskID, ref.Task)
		}
	}
	return store.Page[*store.TimeEntry]{Rows: rows, HasNextPage: refs.HasNextPage}, nil
}
