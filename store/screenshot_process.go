package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// What the background jobs of the screenshot pipeline read and write (package jobs): the
// processing job's status transitions, the tenant's blur setting, and the cleanup of a deleted
// time entry's screenshots. Every method takes the job's tenant scope; captured_at, the
// partition key, travels with the job so that each statement touches one partition.

// ScreenshotResult is what the processing job stored for a screenshot.
type ScreenshotResult struct {
	BlobKey, ThumbnailKey      string
	Width, Height              int
	ImageBytes, ThumbnailBytes int
	Blurred                    bool
}

// screenshotReturning are screenshotColumns for UPDATE … RETURNING on alias s.
const screenshotReturning = ` RETURNING ` + screenshotColumns

// ClaimScreenshot moves a PENDING screenshot to PROCESSING in its own short transaction and
// returns it, with changed set when this call made the transition. A screenshot already
// PROCESSING (its previous worker died mid-job) is returned unchanged and may be processed
// again; a PROCESSED or FAILED one is returned as it is, and the caller does nothing. A
// screenshot that no longer exists (deleted with its time entry) is NOT_FOUND.
func (s *Store) ClaimScreenshot(ctx context.Context, scope Scope, id uuid.UUID, capturedAt time.Time) (shot *Screenshot, changed bool, err error) {
	err = s.InTx(ctx, scope, func(tx *Store) error {
		shot = new(Screenshot)
		err := tx.db.NewRaw(`SELECT `+screenshotColumns+` FROM screenshots s
			WHERE s.tenant_id = ? AND s.id = ? AND s.captured_at = ? FOR UPDATE`,
			scope.TenantID, id, capturedAt).Scan(ctx, shot)
		if err != nil {
			return translate(err, "screenshot")
		}
		if shot.Status != ScreenshotPending {
			return nil
		}
		changed = true
		return tx.db.NewRaw(`UPDATE screenshots s SET status = ?, updated_at = ?
			WHERE s.tenant_id = ? AND s.id = ? AND s.captured_at = ?`+screenshotReturning,
			ScreenshotProcessing, s.now().UTC(), scope.TenantID, id, capturedAt).Scan(ctx, shot)
	})
	if err != nil {
		return nil, false, fmt.Errorf("claim screenshot: %w", err)
	}
	return shot, changed, nil
}

// MarkScreenshotProcessed records the processing job's results and moves the screenshot from
// PROCESSING to PROCESSED, in one statement. It changes nothing (changed false, shot nil) unless
// the screenshot is PROCESSING: a job that runs twice records one result and one transition.
func (s *Store) MarkScreenshotProcessed(ctx context.Context, scope Scope, id uuid.UUID, capturedAt time.Time,
	r ScreenshotResult,
) (shot *Screenshot, changed bool, err error) {
	now := s.now().UTC()
	return s.updateScreenshotStatus(ctx, scope, `UPDATE screenshots s SET status = ?, blob_key = ?, thumbnail_key = ?,
		width = ?, height = ?, image_bytes = ?, thumbnail_bytes = ?, blurred = ?, failure = NULL,
		processed_at = ?, updated_at = ?
		WHERE s.tenant_id = ? AND s.id = ? AND s.captured_at = ? AND s.status = ?`+screenshotReturning,
		ScreenshotProcessed, r.BlobKey, r.ThumbnailKey, r.Width, r.Height, r.ImageBytes, r.ThumbnailBytes, r.Blurred,
		now, now, scope.TenantID, id, capturedAt, ScreenshotProcessing)
}

// MarkScreenshotFailed moves an unfinished (PENDING or PROCESSING) screenshot to FAILED with
// reason, a message its owner may read. A finished one is left as it is (changed false).
func (s *Store) MarkScreenshotFailed(ctx context.Context, scope Scope, id uuid.UUID, capturedAt time.Time,
	reason string,
) (shot *Screenshot, changed bool, err error) {
	now := s.now().UTC()
	return s.updateScreenshotStatus(ctx, scope, `UPDATE screenshots s SET status = ?, failure = ?, processed_at = ?,
		updated_at = ?
		WHERE s.tenant_id = ? AND s.id = ? AND s.captured_at = ? AND s.status IN (?, ?)`+screenshotReturning,
		ScreenshotFailed, reason, now, now, scope.TenantID, id, capturedAt, ScreenshotPending, ScreenshotProcessing)
}

func (s *Store) updateScreenshotStatus(ctx context.Context, scope Scope, query string, args ...any) (*Screenshot, bool, error) {
	var shots []*Screenshot
	err := s.InTx(ctx, scope, func(tx *Store) error {
		return tx.db.NewRaw(query, args...).Scan(ctx, &shots)
	})
	if err != nil {
		return nil, false, translate(err, "screenshot")
	}
	if len(shots) == 0 {
		return nil, false, nil
	}
	return shots[0], true, nil
}

// TenantBlursScreenshots reads the tenant's privacy setting: whether its processed screenshots
// and thumbnails are blurred.
func (s *Store) TenantBlursScreenshots(ctx context.Context, scope Scope) (bool, error) {
	var blur bool
	err := s.pool.QueryRow(scope.bind(ctx), `SELECT blur_screenshots FROM tenants WHERE id = $1`, scope.TenantID).Scan(&blur)
	if err != nil {
		return false, translate(err, "tenant")
	}
	return blur, nil
}

// ScreenshotCleanup enqueues, within the transaction that deletes a time entry, the job that
// deletes the entry's screenshots and their blobs (jobs.ScreenshotCleanup, over river). It is
// an interface of the store's because the job's arguments are package jobs', which imports
// the store.
type ScreenshotCleanup interface {
	EnqueueScreenshotCleanup(ctx context.Context, tx bun.Tx, tenantID, timeEntryID uuid.UUID) error
}

// SetScreenshotCleanup gives the store what DeleteTimeEntry enqueues the deletion of a time
// entry's screenshots with. The composition root calls it once, before serving (the job
// client is built over the store, so it cannot be an Opts field). Without one, deleting a
// time entry that has screenshots fails (an internal error), rather than leave them behind.
func (s *Store) SetScreenshotCleanup(c ScreenshotCleanup) { s.screenshotCleanup = c }

// errNoScreenshotCleanup: DeleteTimeEntry found screenshots and has no way to delete them.
var errNoScreenshotCleanup = errors.New("store: the time entry has screenshots and no screenshot cleanup is configured (SetScreenshotCleanup)")

// enqueueScreenshotCleanup, within deleteTimeEntry's transaction, enqueues the deletion of the
// entry's screenshots, when it has any (an index probe; most entries have none and cost no job).
func (s *Store) enqueueScreenshotCleanup(ctx context.Context, scope Scope, timeEntryID uuid.UUID) error {
	var has bool
	err := s.db.NewRaw(`SELECT EXISTS (SELECT FROM screenshots WHERE tenant_id = ? AND time_entry_id = ?)`,
		scope.TenantID, timeEntryID).Scan(ctx, &has)
	if err != nil {
		return translate(err, "screenshots")
	}
	if !has {
		return nil
	}
	tx, ok := s.db.(bun.Tx)
	if !ok {
		return ErrNotInTx
	}
	if s.screenshotCleanup == nil {
		return errNoScreenshotCleanup
	}
	if err := s.screenshotCleanup.EnqueueScreenshotCleanup(ctx, tx, scope.TenantID, timeEntryID); err != nil {
		return fmt.Errorf("enqueue screenshot cleanup: %w", err)
	}
	return nil
}

// TimeEntryScreenshotsForCleanup returns up to limit of the screenshots attached to a time
// entry, for the job that deletes a deleted entry's screenshots (their keys name the blobs).
func (s *Store) TimeEntryScreenshotsForCleanup(ctx context.Context, scope Scope, timeEntryID uuid.UUID, limit int) ([]*Screenshot, error) {
	return collect(scope.bind(ctx), s.pool, "time entry screenshots",
		`SELECT `+screenshotColumns+` FROM screenshots s WHERE s.tenant_id = $1 AND s.time_entry_id = $2
			ORDER BY s.captured_at, s.id LIMIT $3`,
		[]any{scope.TenantID, timeEntryID, limit}, scanScreenshot)
}

// DeleteScreenshotsByIDs deletes the tenant's screenshots among ids (rows only: the caller
// deletes their blobs first) and returns how many it deleted.
func (s *Store) DeleteScreenshotsByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	return inTx(ctx, s, scope, func(tx *Store) (int, error) {
		res, err := tx.db.NewRaw(`DELETE FROM screenshots WHERE tenant_id = ? AND id IN (?)`,
			scope.TenantID, bun.In(ids)).Exec(ctx)
		if err != nil {
			return 0, translate(err, "screenshots")
		}
		n, _ := res.RowsAffected()
		return int(n), nil
	})
}
