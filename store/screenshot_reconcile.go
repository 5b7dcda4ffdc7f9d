package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What the screenshot reconciliation job (jobs.ReconcileScreenshotsArgs) reads and writes: the
// screenshots of every tenant left PENDING or PROCESSING with no processing job that would
// still finish them, and the transition of each to FAILED in its own tenant.

// InterruptedScreenshot names a screenshot left unfinished with no live processing job.
type InterruptedScreenshot struct {
	TenantID, ID uuid.UUID
	CapturedAt   time.Time
}

// MaxInterruptedScreenshots bounds one InterruptedScreenshots call (the database function
// clamps it too).
const MaxInterruptedScreenshots = 1000

// liveProcessJob is true when river_job holds a screenshot_process job for the screenshot s
// names in a state that would still run it. It probes river's GIN index on args (containment
// of the tenant and screenshot ids) rather than unique_key: that is a hash of river's own
// encoding of the arguments (captured_at's format included), which we must not rebuild.
const liveProcessJob = `EXISTS (SELECT FROM river_job j WHERE j.kind = 'screenshot_process'
	AND j.args @> jsonb_build_object('tenant_id', s.tenant_id, 'screenshot_id', s.id)
	AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled'))`

// InterruptedScreenshots returns up to limit screenshots of any tenant that are PENDING or
// PROCESSING, unchanged since before olderThan, and have no live processing job (the worker
// was killed during its last attempt and river's rescuer discarded the job, or an operator
// discarded or cancelled it). The cross-tenant read is the database function
// interrupted_screenshots (migration 20261207000500), which returns keys only: each row is
// then written through a tenant scope (FailInterruptedScreenshot).
func (s *Store) InterruptedScreenshots(ctx context.Context, olderThan time.Time, limit int) ([]InterruptedScreenshot, error) {
	limit = min(max(limit, 0), MaxInterruptedScreenshots)
	return collect(ctx, s.pool, "interrupted screenshots",
		`SELECT tenant_id, id, captured_at FROM interrupted_screenshots($1, $2)`,
		[]any{olderThan, limit}, func(row pgx.Row) (InterruptedScreenshot, error) {
			var is InterruptedScreenshot
			err := row.Scan(&is.TenantID, &is.ID, &is.CapturedAt)
			is.CapturedAt = is.CapturedAt.UTC()
			return is, err
		})
}

// FailInterruptedScreenshot moves the scope's screenshot to FAILED with reason, in one
// statement, only if it is still what InterruptedScreenshots found: PENDING or PROCESSING,
// unchanged since before olderThan, and with no live processing job (an operator may have
// retried the job meanwhile: then its worker decides). changed is false, and shot nil, when
// it no longer is.
func (s *Store) FailInterruptedScreenshot(ctx context.Context, scope Scope, id uuid.UUID, capturedAt, olderThan time.Time,
	reason string,
) (shot *Screenshot, changed bool, err error) {
	now := s.now().UTC()
	shot, changed, err = s.updateScreenshotStatus(ctx, scope, `UPDATE screenshots s SET status = ?, failure = ?,
		processed_at = ?, updated_at = ?
		WHERE s.tenant_id = ? AND s.id = ? AND s.captured_at = ? AND s.status IN (?, ?) AND s.updated_at < ?
			AND NOT `+liveProcessJob+screenshotReturning,
		ScreenshotFailed, reason, now, now, scope.TenantID, id, capturedAt, ScreenshotPending, ScreenshotProcessing, olderThan)
	if err != nil {
		return nil, false, fmt.Errorf("fail interrupted screenshot: %w", err)
	}
	return shot, changed, nil
}
