package loaders

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/workingtracker/api/store"
)

// The routes below are what root fields (and Employee.timeEntries) call: each reads its rows
// and what the client selected on them, the shape of the read chosen from the selection, so
// that resolvers make one call.

// EmployeeByID reads the employee a root field (employee, me) asks for, then what is selected on
// it. When the client selected its department or manager, one statement reads all three and
// primes their loaders, rather than one for the employee and then one for each relation. Nil
// when there is no such employee in reach.
func EmployeeByID(ctx context.Context, id uuid.UUID) (*store.Employee, error) {
	l, err := For(ctx)
	if err != nil {
		return nil, err
	}
	_, op, sel, _ := prefetching(ctx, "Employee")
	if !sel.has("department") && !sel.has("manager") {
		return byIDThen(ctx, l.Employee(), id, PrefetchEmployees)
	}
	rows, err := l.r.EmployeesWithRefsByIDs(ctx, l.scope, []uuid.UUID{id})
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
	l.Employee().Prime(id, row)
	if row == nil {
		return nil, nil
	}
	// Department and manager are cache hits now; the rest is fetched as for any row.
	l.prefetchEmployees(ctx, op, []*store.Employee{row}, sel)
	return row, nil
}

// ProjectByID is EmployeeByID for a project.
func ProjectByID(ctx context.Context, id uuid.UUID) (*store.Project, error) {
	l, err := For(ctx)
	if err != nil {
		return nil, err
	}
	return byIDThen(ctx, l.Project(), id, PrefetchProjects)
}

// TaskByID is EmployeeByID for a task.
func TaskByID(ctx context.Context, id uuid.UUID) (*store.Task, error) {
	l, err := For(ctx)
	if err != nil {
		return nil, err
	}
	return byIDThen(ctx, l.Task(), id, PrefetchTasks)
}

// byIDThen reads one row at once (a root field has no siblings to wait for), then prefetches
// what is selected on it.
func byIDThen[V any](ctx context.Context, loader *Loader[uuid.UUID, *V], id uuid.UUID,
	then func(context.Context, []*V),
) (*V, error) {
	if err := loader.LoadMany(ctx, []uuid.UUID{id}); err != nil {
		return nil, err
	}
	row, err := loader.Get(ctx, id)
	if err != nil || row == nil {
		return row, err
	}
	then(ctx, []*V{row})
	return row, nil
}

// TimeEntryPage reads a page of time entries, then what is selected on them. When the client
// selected their project or task, one statement reads the entries with both and primes the
// project and task loaders, rather than one for the entries and then one for each relation.
func TimeEntryPage(ctx context.Context, params store.ListTimeEntriesParams, page store.PageParams) (store.Page[*store.TimeEntry], error) {
	l, err := For(ctx)
	if err != nil {
		return store.Page[*store.TimeEntry]{}, err
	}
	_, _, sel, _ := prefetching(ctx, "TimeEntry")
	var rows store.Page[*store.TimeEntry]
	if !sel.has("project") && !sel.has("task") {
		if rows, err = l.r.ListTimeEntries(ctx, l.scope, params, page); err != nil {
			return rows, err
		}
	} else {
		refs, err := l.r.ListTimeEntriesWithRefs(ctx, l.scope, params, page)
		if err != nil {
			return rows, err
		}
		rows = store.Page[*store.TimeEntry]{Rows: make([]*store.TimeEntry, len(refs.Rows)), HasNextPage: refs.HasNextPage}
		for i, ref := range refs.Rows {
			rows.Rows[i] = ref.Entry
			l.Project().Prime(ref.Entry.ProjectID, ref.Project)
			if ref.Entry.TaskID != nil {
				l.Task().Prime(*ref.Entry.TaskID, ref.Task)
			}
		}
	}
	l.prefetchTimeEntries(ctx, rows.Rows, sel)
	return rows, nil
}

// MembersOf loads project's first limit members, for Project.members: their summaries when
// nothing selected on them reads more, as the prefetch of the projects' page decided for the
// same field.
func (l *Loaders) MembersOf(ctx context.Context, project uuid.UUID, limit int) ([]*store.Employee, error) {
	loader := l.MembersOfProject()
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Field != nil && graphql.HasOperationContext(ctx) {
		loader = l.membersLoader(graphql.GetOperationContext(ctx), fc.Field.Selections)
	}
	return loader.Get(ctx, Children(project, limit))
}

// LatestEntriesOf loads an employee's latest limit entries that started in [from, to) (nil is
// unbounded), for Employee.timeEntries: their summaries when nothing selected on them reads
// more, as the prefetch of the employees' page decided for the same field.
func (l *Loaders) LatestEntriesOf(ctx context.Context, employeeID uuid.UUID, from, to *time.Time, limit int) ([]*store.TimeEntry, error) {
	summary := false
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Field != nil && graphql.HasOperationContext(ctx) {
		summary = summaryAnswers(graphql.GetOperationContext(ctx), fc.Field.Selections)
	}
	return l.LatestEntriesOfEmployee().Get(ctx, latestKey(employeeID, from, to, limit, summary))
}
