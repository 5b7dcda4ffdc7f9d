package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gocloud.dev/blob"

	"github.com/workingtracker/api/store"
)

// SweepStore is what the sweeper (and the processing job, which records an intent before
// writing its results) needs of the store's screenshot blob intents (part of ScreenshotStore).
type SweepStore interface {
	// RecordScreenshotBlobIntent records that the screenshot's blobs are about to be written.
	RecordScreenshotBlobIntent(ctx context.Context, scope store.Scope, id uuid.UUID) error
	// DueScreenshotBlobIntents lists up to limit intents of any tenant recorded before olderThan.
	DueScreenshotBlobIntents(ctx context.Context, olderThan time.Time, limit int) ([]store.ScreenshotBlobIntent, error)
	// ClearScreenshotBlobIntents deletes the tenant's intents for ids still older than olderThan.
	ClearScreenshotBlobIntents(ctx context.Context, scope store.Scope, ids []uuid.UUID, olderThan time.Time) (int, error)
}

// SweepRounds bounds one sweep run: at most this many rounds of SweepBatch intents (the next
// period continues).
const SweepRounds = 10

// SweepScreenshotBlobsArgs is the orphan sweeper: it deletes screenshot blobs that have no
// screenshot row, so that an upload that died between writing its original and committing its
// row, or a processing job that wrote results for a screenshot deleted meanwhile, leaves
// nothing behind for long. Such blobs can only be recent, and each writer records a blob intent
// (store.RecordScreenshotBlobIntent) before it writes: the sweeper reads the intents older than
// OrphanAge instead of listing the bucket. For each, when the screenshot has no row in its
// tenant, it deletes the blobs of the screenshot's folder (a listing of that folder only), then
// the intent. The leader inserts it every SweepEvery; one run reads at most SweepRounds rounds
// of SweepBatch intents, and needs no follow-up job.
type SweepScreenshotBlobsArgs struct{}

// Kind names the job in river_job.
func (SweepScreenshotBlobsArgs) Kind() string { return "screenshot_blobs_sweep" }

// InsertOpts: a failed run is retried a few times, then left to the next period; one pending
// run at a time (a period's start does not pile up behind a slow sweep).
func (SweepScreenshotBlobsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

type sweepWorker struct {
	river.WorkerDefaults[SweepScreenshotBlobsArgs]
	p   ScreenshotPipeline
	now func() time.Time
}

func (w *sweepWorker) Timeout(*river.Job[SweepScreenshotBlobsArgs]) time.Duration {
	return 5 * time.Minute
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepScreenshotBlobsArgs]) error {
	if w.p.Blobs == nil {
		return fmt.Errorf("screenshot sweep: no blob storage configured")
	}
	cutoff := w.now().Add(-orDefault(w.p.OrphanAge, DefaultOrphanAge))
	batch := min(orDefault(w.p.SweepBatch, DefaultSweepBatch), store.MaxDueScreenshotBlobIntents)
	deleted := 0
	defer func() {
		if deleted > 0 {
			w.p.logger().InfoContext(ctx, "deleted orphaned screenshot blobs", "count", deleted)
		}
	}()
	for range SweepRounds {
		due, err := w.p.Store.DueScreenshotBlobIntents(ctx, cutoff, batch)
		if err != nil {
			return err
		}
		byTenant := map[uuid.UUID][]uuid.UUID{}
		for _, i := range due {
			byTenant[i.TenantID] = append(byTenant[i.TenantID], i.ScreenshotID)
		}
		for tenantID, ids := range byTenant {
			n, err := w.sweepTenant(ctx, tenantID, ids, cutoff)
			deleted += n
			if err != nil {
				return err // the intents not cleared are found again by the retry
			}
		}
		if len(due) < batch {
			return nil
		}
	}
	return nil
}

// sweepTenant deletes the folders of the tenant's screenshots among ids that have no row, then
// the intents, and counts the blobs deleted.
func (w *sweepWorker) sweepTenant(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID, cutoff time.Time) (int, error) {
	scope, err := TenantScope(TenantArgs{TenantID: tenantID})
	if err != nil {
		return 0, err
	}
	rows, err := w.p.Store.ScreenshotsByIDs(ctx, scope, ids)
	if err != nil {
		return 0, err
	}
	exists := make(map[uuid.UUID]bool, len(rows))
	for _, row := range rows {
		exists[row.ID] = true
	}
	deleted := 0
	for _, id := range ids {
		if exists[id] {
			continue // the blobs are the row's: deleting the row deletes them
		}
		n, err := deleteFolder(ctx, w.p.Blobs, ScreenshotKeyPrefix(tenantID, id))
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	if _, err := w.p.Store.ClearScreenshotBlobIntents(ctx, scope, ids, cutoff); err != nil {
		return deleted, err
	}
	return deleted, nil
}

// folderPage is the page size of a screenshot folder's listing (it holds three blobs).
const folderPage = 100

// deleteFolder deletes every blob under prefix (one screenshot's folder), and counts them.
func deleteFolder(ctx context.Context, b Blobs, prefix string) (int, error) {
	deleted := 0
	token := blob.FirstPageToken
	for {
		objs, next, err := b.ListPage(ctx, token, folderPage, &blob.ListOptions{Prefix: prefix})
		if errors.Is(err, io.EOF) {
			return deleted, nil
		}
		if err != nil {
			return deleted, fmt.Errorf("list screenshot folder %s: %w", prefix, err)
		}
		for _, o := range objs {
			if o.IsDir {
				continue
			}
			if err := deleteBlob(ctx, b, o.Key); err != nil {
				return deleted, err
			}
			deleted++
		}
		if len(next) == 0 {
			return deleted, nil
		}
		token = next
	}
}

// periodicJob inserts the sweep every SweepEvery, and once when a leader is elected.
func (p ScreenshotPipeline) periodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(orDefault(p.SweepEvery, DefaultSweepEvery)),
		func() (river.JobArgs, *river.InsertOpts) { return SweepScreenshotBlobsArgs{}, nil },
		&river.PeriodicJobOpts{ID: SweepScreenshotBlobsArgs{}.Kind(), RunOnStart: true})
}
