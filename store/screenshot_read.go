package store

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/apperr"
)

// Reading screenshots: the same row-level rules as time entries (Scope.Visible), lists newest
// capture first with opaque keyset cursors.

// ScreenshotStatuses are the statuses a screenshot may have, in pipeline order.
func ScreenshotStatuses() []string {
	return []string{ScreenshotPending, ScreenshotProcessing, ScreenshotProcessed, ScreenshotFailed}
}

// ListScreenshotsParams narrows ListScreenshots.
type ListScreenshotsParams struct {
	EmployeeID *uuid.UUID
	// Range is a half-open interval on captured_at.
	Range  TimeRange
	Status *string
}

type screenshotCursor struct {
	Captured time.Time `json:"c"`
	ID       uuid.UUID `json:"i"`
}

// ScreenshotCursor is the opaque cursor of s in ListScreenshots' order.
func ScreenshotCursor(s *Screenshot) string {
	return encodeCursor(screenshotCursor{s.CapturedAt, s.ID})
}

// screenshotQuery is a filter's conditions on screenshots s, shaped for the index that serves it
// (see migration 20261207000100): the tenant's screenshots by (tenant_id, captured_at DESC, id
// DESC), one employee's by (tenant_id, employee_id, captured_at DESC, id DESC). A scope that
// reaches several employees (a manager) reads each one's newest through that index, LATERAL,
// and merges them: `employee_id = ANY(…)` cannot be read in capture order from either index, and
// was a sort of everything the employees ever captured.
type screenshotQuery struct {
	w *where
	// each, when set, are the employees read one by one (w does not name them).
	each []uuid.UUID
	// none: the scope reaches no employee the filter asks for.
	none bool
}

func (f ListScreenshotsParams) query(scope Scope) (screenshotQuery, error) {
	if !f.Range.From.IsZero() && !f.Range.To.IsZero() && !f.Range.To.After(f.Range.From) {
		return screenshotQuery{}, apperr.Invalid("to", "to must be after from")
	}
	if f.Status != nil && !slices.Contains(ScreenshotStatuses(), *f.Status) {
		return screenshotQuery{}, apperr.Invalid("status", "status must be one of %v", ScreenshotStatuses())
	}
	q := screenshotQuery{w: &where{}}
	q.w.add("s.tenant_id = ?", scope.TenantID)
	employees := scope.Visible // nil: every employee
	if f.EmployeeID != nil {
		if !scope.visible(*f.EmployeeID) {
			return screenshotQuery{none: true}, nil // out of reach reads as none
		}
		employees = []uuid.UUID{*f.EmployeeID}
	}
	switch {
	case employees == nil:
	case len(employees) == 0:
		q.none = true
	case len(employees) == 1:
		q.w.add("s.employee_id = ?", employees[0])
	default:
		q.each = employees
	}
	if f.Status != nil {
		q.w.add("s.status = ?", *f.Status)
	}
	if !f.Range.From.IsZero() {
		q.w.add("s.captured_at >= ?", f.Range.From)
	}
	if !f.Range.To.IsZero() {
		q.w.add("s.captured_at < ?", f.Range.To)
	}
	return q, nil
}

var screenshotList = keysetList[*Screenshot, screenshotCursor]{
	what: "screenshots", from: "screenshots s", columns: screenshotColumns, order: "s.captured_at DESC, s.id DESC",
	after: func(c screenshotCursor) (string, []any) {
		return "(s.captured_at, s.id) < (?, ?)", []any{c.Captured, c.ID}
	},
	scan: scanScreenshot,
}

// ListScreenshots returns a page of the scope's screenshots matching filter, newest capture
// first. Errors: BAD_USER_INPUT (to before from, an unknown status, a bad cursor or page size).
func (s *Store) ListScreenshots(ctx context.Context, scope Scope, filter ListScreenshotsParams, page PageParams) (Page[*Screenshot], error) {
	q, err := filter.query(scope)
	if err != nil {
		return Page[*Screenshot]{}, err
	}
	switch {
	case q.none:
		// Nothing to read; the page's arguments are checked all the same.
		return Page[*Screenshot]{}, screenshotPageAfter(&where{}, page)
	case q.each != nil:
		return s.screenshotsOfEach(scope.bind(ctx), q, page)
	}
	return screenshotList.page(scope.bind(ctx), s.pool, q.w, page)
}

// screenshotPageAfter checks page and adds its cursor's condition to w.
func screenshotPageAfter(w *where, page PageParams) error {
	if err := page.validate(); err != nil {
		return err
	}
	if page.After == "" {
		return nil
	}
	var c screenshotCursor
	if err := decodeCursor(page.After, &c); err != nil {
		return err
	}
	cond, args := screenshotList.after(c)
	w.add(cond, args...)
	return nil
}

// screenshotsOfEach reads each employee's newest first+1 screenshots past the cursor, through
// the employee index, and keeps the newest first+1 of them all.
func (s *Store) screenshotsOfEach(ctx context.Context, q screenshotQuery, page PageParams) (Page[*Screenshot], error) {
	if err := screenshotPageAfter(q.w, page); err != nil {
		return Page[*Screenshot]{}, err
	}
	each := q.w.arg(q.each)
	q.w.add("s.employee_id = k.employee_id")
	limit := q.w.arg(page.First + 1)
	rows, err := collect(ctx, s.pool, "screenshots of each employee",
		`SELECT `+screenshotColumns+` FROM unnest(`+each+`::uuid[]) AS k(employee_id)
		CROSS JOIN LATERAL (
			SELECT * FROM screenshots s WHERE `+q.w.String()+`
			ORDER BY s.captured_at DESC, s.id DESC LIMIT `+limit+`) s
		ORDER BY s.captured_at DESC, s.id DESC LIMIT `+limit, q.w.args, scanScreenshot)
	return trimPage(rows, page.First), err
}

// CountScreenshots counts the scope's screenshots matching filter.
func (s *Store) CountScreenshots(ctx context.Context, scope Scope, filter ListScreenshotsParams) (int, error) {
	q, err := filter.query(scope)
	if err != nil || q.none {
		return 0, err
	}
	if q.each != nil {
		q.w.add("s.employee_id = ANY(?)", q.each)
	}
	return screenshotList.count(scope.bind(ctx), s.pool, q.w)
}

// ScreenshotsByTimeEntryIDs returns, for each time entry, its latest `limit` screenshots, newest
// capture first, in one statement for all entries (one index probe of screenshots_time_entry_idx
// per entry and partition). Screenshots of employees out of the scope's reach are left out.
func (s *Store) ScreenshotsByTimeEntryIDs(ctx context.Context, scope Scope, entryIDs []uuid.UUID, limit int) ([]*Screenshot, error) {
	if limit <= 0 || len(entryIDs) == 0 {
		return nil, nil
	}
	return collect(scope.bind(ctx), s.pool, "screenshots by time entry ids",
		`SELECT `+screenshotColumns+` FROM unnest($2::uuid[]) AS k(time_entry_id)
		CROSS JOIN LATERAL (
			SELECT * FROM screenshots x
			WHERE x.tenant_id = $1 AND x.time_entry_id = k.time_entry_id
				AND ($4::uuid[] IS NULL OR x.employee_id = ANY($4))
			ORDER BY x.captured_at DESC, x.id DESC
			LIMIT $3) s`,
		[]any{scope.TenantID, entryIDs, limit, scope.Visible}, scanScreenshot)
}

// ScreenshotSettings are the scope's tenant's screenshot settings. Errors: NOT_FOUND when the
// tenant is gone.
func (s *Store) ScreenshotSettings(ctx context.Context, scope Scope) (*ScreenshotSettings, error) {
	var out ScreenshotSettings
	err := s.pool.QueryRow(scope.bind(ctx), `SELECT blur_screenshots FROM tenants WHERE id = $1`, scope.TenantID).
		Scan(&out.Blur)
	if err != nil {
		return nil, translate(err, "tenant")
	}
	return &out, nil
}

// SetScreenshotBlur turns blurring of the scope's tenant's screenshots on or off; screenshots
// processed from then on follow it (processed ones keep theirs). Who may call it is the
// caller's rule (an ADMIN, by the schema). Errors: NOT_FOUND when the tenant is gone.
func (s *Store) SetScreenshotBlur(ctx context.Context, scope Scope, enabled bool) (*ScreenshotSettings, error) {
	// In a transaction of its own, like every write, so that a mutation's audit entry commits
	// with it.
	return inTx(ctx, s, scope, func(tx *Store) (*ScreenshotSettings, error) {
		var out ScreenshotSettings
		err := tx.db.NewRaw(`UPDATE tenants SET blur_screenshots = ? WHERE id = ? RETURNING blur_screenshots`,
			enabled, scope.TenantID).Scan(ctx, &out.Blur)
		if err != nil {
			return nil, translate(err, "tenant")
		}
		return &out, nil
	})
}
