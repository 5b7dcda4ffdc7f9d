package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/workingtracker/api/internal/apperr"
)

// Bounds of a screenshot's capture time: not in the future beyond MaxClockSkew (the agent's
// clock may run a little ahead), and not older than OldestScreenshotAge (an agent that was
// offline uploads what it queued; a week covers a holiday's laptop, not a backfill of years).
const OldestScreenshotAge = 7 * 24 * time.Hour

// CreateScreenshotParams describe an uploaded screenshot, its original already in blob storage.
type CreateScreenshotParams struct {
	// ID is chosen by the caller, which named the original's blob after it.
	ID          uuid.UUID
	EmployeeID  uuid.UUID
	TimeEntryID *uuid.UUID
	CapturedAt  time.Time
	// OriginalKey, OriginalBytes and OriginalFormat describe the upload as stored.
	OriginalKey    string
	OriginalBytes  int
	OriginalFormat string
	// Job processes the screenshot; it is inserted in the row's transaction.
	Job river.JobArgs
}

// ValidateScreenshotCapture checks a capture time against the bounds (BAD_USER_INPUT on
// capturedAt), before anything is stored.
func (s *Store) ValidateScreenshotCapture(capturedAt time.Time) error {
	now := s.now()
	if capturedAt.After(now.Add(MaxClockSkew)) {
		return apperr.Invalid("capturedAt", "capturedAt cannot be in the future")
	}
	if capturedAt.Before(now.Add(-OldestScreenshotAge)) {
		return apperr.Invalid("capturedAt", "capturedAt is more than %d days ago", int(OldestScreenshotAge.Hours()/24))
	}
	return nil
}

// CreateScreenshot writes a PENDING screenshot of p.EmployeeID and its processing job in one
// transaction: both exist, or neither. The employee must be the scope's own and active
// (FORBIDDEN otherwise: a screenshot is uploaded by its employee or their agent, never for
// someone else); a time entry, when given, must be one of that employee's (NOT_FOUND otherwise,
// as another's entry is absent to them) and the capture must fall within it (BAD_USER_INPUT on
// timeEntryId). The upload's blob intent for p.ID, if any, is deleted in the same transaction.
// The entry is share-locked until commit, so a concurrent deletion of the entry
// sees the screenshot it must clean up.
func (s *Store) CreateScreenshot(ctx context.Context, scope Scope, jobs JobInserter, p CreateScreenshotParams) (*Screenshot, error) {
	if err := s.ValidateScreenshotCapture(p.CapturedAt); err != nil {
		return nil, err
	}
	if err := s.ensurePartition(ctx, "screenshots", p.CapturedAt); err != nil {
		return nil, err
	}
	return inTx(ctx, s, scope, func(tx *Store) (*Screenshot, error) { return tx.createScreenshot(ctx, scope, jobs, p) })
}

func (s *Store) createScreenshot(ctx context.Context, scope Scope, jobs JobInserter, p CreateScreenshotParams) (*Screenshot, error) {
	if p.EmployeeID == uuid.Nil || p.EmployeeID != scope.ActorID || !scope.visible(p.EmployeeID) {
		return nil, apperr.New(apperr.Forbidden, "a screenshot is uploaded by its own employee (or their agent)")
	}
	var status string
	err := s.db.NewRaw(`SELECT status FROM employees WHERE tenant_id = ? AND id = ? FOR KEY SHARE`,
		scope.TenantID, p.EmployeeID).Scan(ctx, &status)
	if err != nil {
		return nil, translate(err, "employee")
	}
	if status == EmployeeTerminated {
		return nil, apperr.New(apperr.Forbidden, "the employee is terminated")
	}
	if p.TimeEntryID != nil {
		var start time.Time
		var end *time.Time
		err := s.db.NewRaw(`SELECT start_time, end_time FROM time_entries
			WHERE tenant_id = ? AND id = ? AND employee_id = ? FOR KEY SHARE`,
			scope.TenantID, *p.TimeEntryID, p.EmployeeID).Scan(ctx, &start, &end)
		if err != nil {
			if err = translate(err, "time entry"); apperr.Is(err, apperr.NotFound) {
				return nil, &apperr.Error{Code: apperr.NotFound, Message: "time entry not found", Field: "timeEntryId"}
			}
			return nil, err
		}
		if p.CapturedAt.Before(start.Add(-MaxClockSkew)) || end != nil && p.CapturedAt.After(end.Add(MaxClockSkew)) {
			return nil, apperr.Invalid("timeEntryId", "the screenshot was not captured during this time entry")
		}
	}
	now := s.now().UTC()
	shot := &Screenshot{TenantID: scope.TenantID, ID: p.ID, EmployeeID: p.EmployeeID, TimeEntryID: p.TimeEntryID,
		CapturedAt: p.CapturedAt.UTC(), Status: ScreenshotPending, OriginalKey: &p.OriginalKey,
		OriginalBytes: &p.OriginalBytes, OriginalFormat: &p.OriginalFormat, CreatedAt: now, UpdatedAt: now}
	if _, err := s.db.NewInsert().Model(shot).Exec(ctx); err != nil {
		return nil, translate(err, "screenshot")
	}
	if _, err := s.EnqueueInTx(ctx, jobs, p.Job); err != nil {
		return nil, err
	}
	// The original now has its row: the upload's intent (RecordScreenshotBlobIntent) goes with
	// the commit, so the sweeper never looks at a committed upload.
	if err := s.DeleteScreenshotBlobIntent(ctx, scope, p.ID); err != nil {
		return nil, err
	}
	return shot, nil
}
