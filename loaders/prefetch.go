package loaders

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/store"
)

// A root field knows every row its children will ask about. Prefetching the relationships the
// client selected on those rows — and what it selected on those relations in turn — starts each
// batch at once: no batching window to wait out, no chance for a busy scheduler to split a batch,
// and the children's loads become cache hits. Anything not prefetched still batches through the
// loaders' window.
//
// What is selected, and with which arguments, is read from the operation gqlgen is executing:
// the field being resolved, its selection (fragments and @skip/@include applied by
// graphql.CollectFields) and its arguments with the schema's defaults and the request's
// variables applied (ast.Field.ArgumentMap). A relation's arguments the resolver would refuse
// are not prefetched: the resolver reports them.

// PrefetchEmployees loads what the client selected on rows, the employees the field being
// resolved returns (as a list, one row, or a connection's nodes and edges). Loads that fail are
// remembered by their loaders and reported by the fields that need them.
func PrefetchEmployees(ctx context.Context, rows []*store.Employee) {
	if l, op, sel, ok := prefetching(ctx, "Employee"); ok {
		l.prefetchEmployees(ctx, op, rows, sel)
	}
}

// PrefetchProjects is PrefetchEmployees for projects.
func PrefetchProjects(ctx context.Context, rows []*store.Project) {
	if l, op, sel, ok := prefetching(ctx, "Project"); ok {
		l.prefetchProjects(ctx, op, rows, sel)
	}
}

// PrefetchTimeEntries is PrefetchEmployees for time entries.
func PrefetchTimeEntries(ctx context.Context, rows []*store.TimeEntry) {
	if l, _, sel, ok := prefetching(ctx, "TimeEntry"); ok {
		l.prefetchTimeEntries(ctx, rows, sel)
	}
}

// PrefetchTasks is PrefetchEmployees for tasks.
func PrefetchTasks(ctx context.Context, rows []*store.Task) {
	if l, op, sel, ok := prefetching(ctx, "Task"); ok {
		l.prefetchTasks(ctx, op, rows, sel)
	}
}

// prefetching returns the request's loaders and the fields selected on the rowType rows of the
// field being resolved; ok is false outside a request with loaders or a field.
func prefetching(ctx context.Context, rowType string) (*Loaders, *graphql.OperationContext, selection, bool) {
	l, err := For(ctx)
	if err != nil {
		return nil, nil, nil, false
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil || !graphql.HasOperationContext(ctx) {
		return nil, nil, nil, false
	}
	op := graphql.GetOperationContext(ctx)
	return l, op, rowFields(op, fc.Field.Field, rowType), true
}

// selection is the fields selected on an object type, by name.
type selection map[string]graphql.CollectedField

func (s selection) has(name string) bool {
	_, ok := s[name]
	return ok
}

// rowFields returns the fields selected on the rowType rows field returns: on the field itself
// when it returns rowType (or a list of it), else on the `nodes` and `edges { node }` of the
// connection it returns.
func rowFields(op *graphql.OperationContext, field *ast.Field, rowType string) selection {
	if field.Definition.Type.Name() == rowType {
		return fieldsOf(op, field.SelectionSet, rowType)
	}
	rows := selection{}
	for _, f := range graphql.CollectFields(op, field.SelectionSet, []string{field.Definition.Type.Name()}) {
		switch f.Name {
		case "nodes":
			rows.add(fieldsOf(op, f.Selections, rowType))
		case "edges":
			for _, e := range graphql.CollectFields(op, f.Selections, []string{f.Definition.Type.Name()}) {
				if e.Name == "node" {
					rows.add(fieldsOf(op, e.Selections, rowType))
				}
			}
		}
	}
	return rows
}

func (s selection) add(fields selection) {
	for name, f := range fields {
		s[name] = f
	}
}

// fieldsOf collects the fields of set that apply to typ.
func fieldsOf(op *graphql.OperationContext, set ast.SelectionSet, typ string) selection {
	fields := selection{}
	for _, f := range graphql.CollectFields(op, set, satisfies(set, typ)) {
		fields[f.Name] = f
	}
	return fields
}

// satisfies is the type names a fragment in set may name for its fields to apply to an object of
// type typ: typ, the unions that list it (federation's _Entity) and, conservatively, any
// interface. graphql.CollectFields skips fragments on any other type.
func satisfies(set ast.SelectionSet, typ string) []string {
	names := []string{typ}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, s := range set {
			var def *ast.Definition
			var inner ast.SelectionSet
			switch s := s.(type) {
			case *ast.InlineFragment:
				def, inner = s.ObjectDefinition, s.SelectionSet
			case *ast.FragmentSpread:
				if s.Definition != nil {
					def, inner = s.Definition.Definition, s.Definition.SelectionSet
				}
			default:
				continue
			}
			if def != nil && !slices.Contains(names, def.Name) &&
				(def.Kind == ast.Interface || def.Kind == ast.Union && slices.Contains(def.Types, typ)) {
				names = append(names, def.Name)
			}
			walk(inner)
		}
	}
	walk(set)
	return names
}

// intArg returns field's Int argument name: the client's value (a literal or a variable), or the
// schema's default when it is absent or null, as the resolvers read it. ok is false when there is
// neither or it is not an Int.
func intArg(op *graphql.OperationContext, field *ast.Field, name string) (int, bool) {
	v := field.ArgumentMap(op.Variables)[name]
	if v == nil {
		if v = ArgumentDefault(field.Definition, name); v == nil {
			return 0, false
		}
	}
	n, err := graphql.UnmarshalInt(v)
	return n, err == nil
}

// ArgumentDefault is the schema's default of the argument name of def, or nil when it has none.
func ArgumentDefault(def *ast.FieldDefinition, name string) any {
	if def == nil {
		return nil
	}
	arg := def.Arguments.ForName(name)
	if arg == nil || arg.DefaultValue == nil {
		return nil
	}
	v, err := arg.DefaultValue.Value(nil)
	if err != nil {
		return nil
	}
	return v
}

// pageSize is a relation list's `first` (see intArg), when the resolver would accept it.
func pageSize(op *graphql.OperationContext, field graphql.CollectedField) (int, bool) {
	n, ok := intArg(op, field.Field, "first")
	return n, ok && n >= 0 && n <= store.MaxPageSize
}

// timeArg returns field's Time argument name, nil when absent or null.
func timeArg(op *graphql.OperationContext, field *ast.Field, name string) (*time.Time, bool) {
	v := field.ArgumentMap(op.Variables)[name]
	if v == nil {
		return nil, true
	}
	t, err := model.UnmarshalTime(v)
	if err != nil {
		return nil, false
	}
	return &t, true
}

func (l *Loaders) prefetchEmployees(ctx context.Context, op *graphql.OperationContext, rows []*store.Employee, sel selection) {
	prefetch(ctx,
		when(sel.has("department"), func(ctx context.Context) error {
			return l.Department().LoadMany(ctx, ids(rows, func(e *store.Employee) *uuid.UUID { return e.DepartmentID }))
		}),
		when(sel.has("manager"), func(ctx context.Context) error {
			return l.Employee().LoadMany(ctx, ids(rows, func(e *store.Employee) *uuid.UUID { return e.ManagerID }))
		}),
		whenChildren(op, sel, "projects", func(ctx context.Context, limit int, _ graphql.CollectedField) error {
			return l.ProjectsOfEmployee().LoadMany(ctx, ChildrenOf(ids(rows, func(e *store.Employee) *uuid.UUID { return &e.ID }), limit))
		}),
		when(sel.has("timeEntries"), func(ctx context.Context) error {
			return l.prefetchLatestEntries(ctx, op, rows, sel["timeEntries"])
		}),
		l.prefetchPII(ctx, rows, sel),
	)
}

// prefetchLatestEntries loads the latest entries of every employee with the arguments the
// client gave Employee.timeEntries, then what it selected on those entries.
func (l *Loaders) prefetchLatestEntries(ctx context.Context, op *graphql.OperationContext, rows []*store.Employee, field graphql.CollectedField) error {
	from, okFrom := timeArg(op, field.Field, "from")
	to, okTo := timeArg(op, field.Field, "to")
	limit, okLimit := pageSize(op, field)
	if !okFrom || !okTo || !okLimit {
		return nil
	}
	summary := summaryAnswers(op, field.Selections)
	keys := make([]LatestEntriesKey, len(rows))
	for i, e := range rows {
		keys[i] = latestKey(e.ID, from, to, limit, summary)
	}
	entries, err := loadChildren(ctx, l.LatestEntriesOfEmployee(), keys)
	if err != nil {
		return err
	}
	l.prefetchTimeEntries(ctx, entries, fieldsOf(op, field.Selections, "TimeEntry"))
	return nil
}

func (l *Loaders) prefetchProjects(ctx context.Context, op *graphql.OperationContext, rows []*store.Project, sel selection) {
	projectIDs := ids(rows, func(p *store.Project) *uuid.UUID { return &p.ID })
	prefetch(ctx,
		whenChildren(op, sel, "members", func(ctx context.Context, limit int, field graphql.CollectedField) error {
			members, err := loadChildren(ctx, l.membersLoader(op, field.Selections), ChildrenOf(projectIDs, limit))
			if err == nil {
				l.prefetchEmployees(ctx, op, members, fieldsOf(op, field.Selections, "Employee"))
			}
			return err
		}),
		whenChildren(op, sel, "tasks", func(ctx context.Context, limit int, field graphql.CollectedField) error {
			tasks, err := loadChildren(ctx, l.TasksOfProject(), ChildrenOf(projectIDs, limit))
			if err == nil {
				l.prefetchTasks(ctx, op, tasks, fieldsOf(op, field.Selections, "Task"))
			}
			return err
		}),
		when(sel.has("totalHours"), func(ctx context.Context) error {
			if LiveTotalHours(op, sel["totalHours"]) {
				return l.TrackedSeconds().LoadMany(ctx, projectIDs)
			}
			return l.ReportedSeconds().LoadMany(ctx, projectIDs)
		}),
	)
}

func (l *Loaders) prefetchTasks(ctx context.Context, op *graphql.OperationContext, rows []*store.Task, sel selection) {
	prefetch(ctx,
		whenChildren(op, sel, "dependencies", func(ctx context.Context, limit int, _ graphql.CollectedField) error {
			return l.DependenciesOfTask().LoadMany(ctx, ChildrenOf(ids(rows, func(t *store.Task) *uuid.UUID { return &t.ID }), limit))
		}),
	)
}

func (l *Loaders) prefetchTimeEntries(ctx context.Context, rows []*store.TimeEntry, sel selection) {
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
		when(sel.has("screenshots"), func(ctx context.Context) error {
			return l.prefetchEntryScreenshots(ctx, rows, sel["screenshots"])
		}),
	)
}

// loadChildren loads the values of every key and returns them all, for prefetching what is
// selected on them in turn.
func loadChildren[K comparable, V any](ctx context.Context, loader *Loader[K, []V], keys []K) ([]V, error) {
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

// whenChildren is when for the relation list name, if selected: load gets its page size (see
// pageSize) and the field. Of a field selected under two aliases with different firsts one is
// prefetched, the other loads through the loaders' window.
func whenChildren(op *graphql.OperationContext, sel selection, name string,
	load func(ctx context.Context, limit int, field graphql.CollectedField) error,
) func(context.Context) error {
	field, ok := sel[name]
	if !ok {
		return nil
	}
	limit, ok := pageSize(op, field)
	if !ok {
		return nil
	}
	return func(ctx context.Context) error { return load(ctx, limit, field) }
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

// summaryFields are the TimeEntry fields an entry's summary
// (store.LatestTimeEntrySummariesByEmployeeIDs) answers: they read only its summary's columns.
// A field not listed here — description, source, createdAt, updatedAt, or one added later —
// makes the entries full rows.
var summaryFields = map[string]bool{
	"__typename": true, "id": true, "startTime": true, "endTime": true, "durationSeconds": true, "running": true,
	"billable": true, "employee": true, "project": true, "task": true, "screenshots": true,
}

// summaryAnswers reports whether set, selected on TimeEntry values, reads only fields an entry's
// summary answers. The prefetch and LatestEntriesOf ask it of the same field, so they agree on
// the loader key.
func summaryAnswers(op *graphql.OperationContext, set ast.SelectionSet) bool {
	for _, f := range graphql.CollectFields(op, set, satisfies(set, "TimeEntry")) {
		if !summaryFields[f.Name] {
			return false
		}
	}
	return true
}

// memberSummaryFields are the Employee fields a member summary
// (store.MemberSummariesByProjectIDs: id, tenant and name) answers. A field not listed here —
// or one added later — makes the members full rows.
var memberSummaryFields = map[string]bool{"__typename": true, "id": true, "name": true}

// membersLoader is the loader of Project.members selected with set: the summaries' when nothing
// in set reads more (memberSummaryFields). The prefetch and MembersOf ask it of the same field,
// so they agree on the loader.
func (l *Loaders) membersLoader(op *graphql.OperationContext, set ast.SelectionSet) *Loader[ChildrenKey, []*store.Employee] {
	for _, f := range graphql.CollectFields(op, set, satisfies(set, "Employee")) {
		if !memberSummaryFields[f.Name] {
			return l.MembersOfProject()
		}
	}
	return l.MemberSummariesOfProject()
}

// LiveTotalHours reports whether a Project.totalHours field asks for live figures (live: true)
// rather than the report views'.
func LiveTotalHours(op *graphql.OperationContext, field graphql.CollectedField) bool {
	live, _ := field.ArgumentMap(op.Variables)["live"].(bool)
	return live
}
