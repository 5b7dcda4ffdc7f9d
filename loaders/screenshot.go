package loaders

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/workingtracker/api/store"
)

// Screenshot loads screenshots by id (Query.screenshot, _entities). A screenshot of an employee
// out of reach reads as absent.
func (l *Loaders) Screenshot() *Loader[uuid.UUID, *store.Screenshot] {
	return l.screenshot.get(func() *Loader[uuid.UUID, *store.Screenshot] {
		return byID(l.named("screenshot"), func(ctx context.Context, ids []uuid.UUID) ([]*store.Screenshot, error) {
			return l.r.ScreenshotsByIDs(ctx, l.scope, ids)
		}, func(s *store.Screenshot) uuid.UUID { return s.ID })
	})
}

// ScreenshotsOfTimeEntry loads the latest screenshots of each time entry (TimeEntry.screenshots):
// one statement for a batch of entries.
func (l *Loaders) ScreenshotsOfTimeEntry() *Loader[ChildrenKey, []*store.Screenshot] {
	return l.screenshotsOfTimeEntry.get(func() *Loader[ChildrenKey, []*store.Screenshot] {
		return limitedGroups(l.named("screenshots_of_time_entry"), func(ctx context.Context, ids []uuid.UUID, limit int) ([]*store.Screenshot, error) {
			return l.r.ScreenshotsByTimeEntryIDs(ctx, l.scope, ids, limit)
		}, func(s *store.Screenshot) (uuid.UUID, *store.Screenshot) {
			// The statement reads screenshots by entry: TimeEntryID is set on every row.
			return *s.TimeEntryID, s
		})
	})
}

// ScreenshotByID reads the screenshot Query.screenshot asks for, then what is selected on it;
// nil when there is none in reach.
func ScreenshotByID(ctx context.Context, id uuid.UUID) (*store.Screenshot, error) {
	l, err := For(ctx)
	if err != nil {
		return nil, err
	}
	return byIDThen(ctx, l.Screenshot(), id, PrefetchScreenshots)
}

// ScreenshotPage reads a page of screenshots (Query.screenshots), then what is selected on them.
func ScreenshotPage(ctx context.Context, params store.ListScreenshotsParams, page store.PageParams) (store.Page[*store.Screenshot], error) {
	l, err := For(ctx)
	if err != nil {
		return store.Page[*store.Screenshot]{}, err
	}
	rows, err := l.r.ListScreenshots(ctx, l.scope, params, page)
	if err != nil {
		return rows, err
	}
	PrefetchScreenshots(ctx, rows.Rows)
	return rows, nil
}

// PrefetchScreenshots is PrefetchEmployees for screenshots.
func PrefetchScreenshots(ctx context.Context, rows []*store.Screenshot) {
	if l, _, sel, ok := prefetching(ctx, "Screenshot"); ok {
		l.prefetchScreenshots(ctx, rows, sel)
	}
}

func (l *Loaders) prefetchScreenshots(ctx context.Context, rows []*store.Screenshot, sel selection) {
	prefetch(ctx,
		when(sel.has("employee"), func(ctx context.Context) error {
			return l.Employee().LoadMany(ctx, ids(rows, func(s *store.Screenshot) *uuid.UUID { return &s.EmployeeID }))
		}),
		when(sel.has("timeEntry"), func(ctx context.Context) error {
			return l.TimeEntry().LoadMany(ctx, ids(rows, func(s *store.Screenshot) *uuid.UUID { return s.TimeEntryID }))
		}),
	)
}

// prefetchEntryScreenshots loads the screenshots of every entry with the first the client gave
// TimeEntry.screenshots, then what it selected on those screenshots.
func (l *Loaders) prefetchEntryScreenshots(ctx context.Context, rows []*store.TimeEntry, field graphql.CollectedField) error {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	op := graphql.GetOperationContext(ctx)
	limit, ok := pageSize(op, field)
	if !ok {
		return nil
	}
	shots, err := loadChildren(ctx, l.ScreenshotsOfTimeEntry(),
		ChildrenOf(ids(rows, func(t *store.TimeEntry) *uuid.UUID { return &t.ID }), limit))
	if err != nil {
		return err
	}
	l.prefetchScreenshots(ctx, shots, fieldsOf(op, field.Selections, "Screenshot"))
	return nil
}
