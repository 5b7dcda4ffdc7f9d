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

func (f ListScreenshotsParams) where(scope Scope) (*where, error) {
	if !f.Range.From.IsZero() && !f.Range.To.IsZero() && !f.Range.To.After(f.Range.From) {
		return nil, apperr.Invalid("to", "to must be after from")
	}
	if f.Status != nil && !slices.Contains(ScreenshotStatuses(), *f.Status) {
		return nil, apperr.Invalid("status", "status must be one of %v", ScreenshotStatuses())
	}
	w := &where{}
	w.add("s.tenant_id = ?", scope.TenantID)
	if scope.restricted() {
		w.add("s.employee_id = ANY(?)", scope.Visible)
	}
	if f.EmployeeID != nil {
		w.add("s.employee_id = ?", *f.EmployeeID)
	}
	if f.Status != nil {
		w.add("s.status = ?", *f.Status)
	}
	if !f.Range.From.IsZero() {
		w.add("s.captured_at >= ?", f.Range.From)
	}
	if !f.Range.To.IsZero() {
		w.add("s.captured_at < ?", f.Range.To)
	}
	return w, nil
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
	w, err := filter.where(scope)
	if err != nil {
		return Page[*Screenshot]{}, err
	}
	return screenshotList.page(scope.bind(ctx), s.pool, w, page)
}

// CountScreenshots counts the scope's screenshots matching filter.
func (s *Store) CountScreenshots(ctx context.Context, scope Scope, filter ListScreenshotsParams) (int, error) {
	w, err := filter.where(scope)
	if err != nil {
		return 0, err
	}
	return screenshotList.count(scope.bind(ctx), s.pool, w)
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
	var out ScreenshotSettings
	err := s.db.NewRaw(`UPDATE tenants SET blur_screenshots = ? WHERE id = ? RETURNING blur_screenshots`,
		enabled, scope.TenantID).Scan(ctx, &out.Blur)
	if err != nil {
		return nil, translate(err, "tenant")
	}
	return &out, nil
}
