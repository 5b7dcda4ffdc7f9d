package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
	"gocloud.dev/gcerrors"

	"github.com/workingtracker/api/store"
)

// DeleteScreenshotsArgs deletes a deleted time entry's screenshots and their blobs; the store
// inserts it in the transaction that deletes the entry (through ScreenshotCleanup).
type DeleteScreenshotsArgs struct {
	TenantArgs
	TimeEntryID uuid.UUID `json:"time_entry_id"`
}

// Kind names the job in river_job.
func (DeleteScreenshotsArgs) Kind() string { return "screenshots_delete" }

// InsertOpts: retried with backoff; every attempt is idempotent.
func (DeleteScreenshotsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// ScreenshotCleanup is the store's ScreenshotCleanup over the job queue: it inserts
// DeleteScreenshotsArgs within the store's transaction.
type ScreenshotCleanup struct{ Jobs Inserter }

// EnqueueScreenshotCleanup inserts the job within tx.
func (c ScreenshotCleanup) EnqueueScreenshotCleanup(ctx context.Context, tx bun.Tx, tenantID, timeEntryID uuid.UUID) error {
	_, err := c.Jobs.EnqueueTx(ctx, tx, DeleteScreenshotsArgs{TenantArgs: TenantArgs{TenantID: tenantID}, TimeEntryID: timeEntryID})
	return err
}

var _ store.ScreenshotCleanup = ScreenshotCleanup{}

// deleteBatch is how many screenshots the cleanup deletes per round (blobs, then rows).
const deleteBatch = 100

type deleteScreenshotsWorker struct {
	river.WorkerDefaults[DeleteScreenshotsArgs]
	p ScreenshotPipeline
}

func (w *deleteScreenshotsWorker) Timeout(*river.Job[DeleteScreenshotsArgs]) time.Duration {
	return 5 * time.Minute
}

// Work deletes the entry's screenshots a batch at a time: first their blobs (a blob already
// gone is fine), then their rows, so an attempt cut short leaves rows that the next attempt
// finds again. A processing job still running for one of them may write its results after
// this; with no row left, the orphan sweeper removes them.
func (w *deleteScreenshotsWorker) Work(ctx context.Context, job *river.Job[DeleteScreenshotsArgs]) error {
	scope, err := TenantScope(job.Args.TenantArgs)
	if err != nil {
		return err
	}
	if w.p.Blobs == nil {
		return fmt.Errorf("screenshot cleanup: no blob storage configured")
	}
	deleted := 0
	for {
		shots, err := w.p.Store.TimeEntryScreenshotsForCleanup(ctx, scope, job.Args.TimeEntryID, deleteBatch)
		if err != nil {
			return err
		}
		ids := make([]uuid.UUID, 0, len(shots))
		for _, shot := range shots {
			if err := deleteScreenshotBlobs(ctx, w.p.Blobs, shot); err != nil {
				return err
			}
			ids = append(ids, shot.ID)
		}
		n, err := w.p.Store.DeleteScreenshotsByIDs(ctx, scope, ids)
		if err != nil {
			return err
		}
		deleted += n
		if len(shots) < deleteBatch {
			break
		}
	}
	if deleted > 0 {
		w.p.logger().InfoContext(ctx, "deleted a time entry's screenshots", "time_entry_id", job.Args.TimeEntryID,
			"screenshots", deleted)
	}
	return nil
}

// deleteScreenshotBlobs deletes the screenshot's blobs: the fixed keys of its folder (results a
// run wrote but never recorded included) and any other key its row records within that folder.
func deleteScreenshotBlobs(ctx context.Context, b Blobs, shot *store.Screenshot) error {
	prefix := ScreenshotKeyPrefix(shot.TenantID, shot.ID)
	keys := []string{ScreenshotOriginalKey(shot.TenantID, shot.ID), ScreenshotImageKey(shot.TenantID, shot.ID),
		ScreenshotThumbnailKey(shot.TenantID, shot.ID)}
	for _, k := range []*string{shot.OriginalKey, shot.BlobKey, shot.ThumbnailKey} {
		// Only within the screenshot's own folder: a row never names another's blob.
		if k != nil && strings.HasPrefix(*k, prefix) && !slices.Contains(keys, *k) {
			keys = append(keys, *k)
		}
	}
	for _, key := range keys {
		if err := deleteBlob(ctx, b, key); err != nil {
			return err
		}
	}
	return nil
}

// deleteBlob deletes key; a key already gone is not an error.
func deleteBlob(ctx context.Context, b Blobs, key string) error {
	if err := b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}
