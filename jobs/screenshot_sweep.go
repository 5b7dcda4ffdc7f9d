package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gocloud.dev/blob"

	"github.com/workingtracker/api/store"
)

// SweepScreenshotBlobsArgs is the orphan sweeper: it deletes screenshot blobs that have no
// screenshot row and are older than OrphanAge, so that an upload that died between writing its
// blob and committing its row (or a processing job that wrote results for a screenshot deleted
// meanwhile) leaves nothing behind for long. The leader inserts it every SweepEvery; one run
// looks at one page of SweepBatch keys and, when more follow, inserts the next page's run.
type SweepScreenshotBlobsArgs struct {
	// PageToken is where the listing resumes (empty: from the start).
	PageToken []byte `json:"page_token,omitempty"`
}

// Kind names the job in river_job.
func (SweepScreenshotBlobsArgs) Kind() string { return "screenshot_blobs_sweep" }

// InsertOpts: a failed page is retried a few times, then left to the next period; one pending
// run per page (a period's start does not pile up behind a slow sweep).
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

func (w *sweepWorker) Work(ctx context.Context, job *river.Job[SweepScreenshotBlobsArgs]) error {
	if w.p.Blobs == nil {
		return fmt.Errorf("screenshot sweep: no blob storage configured")
	}
	token := job.Args.PageToken
	if len(token) == 0 {
		token = blob.FirstPageToken
	}
	objs, next, err := w.p.Blobs.ListPage(ctx, token, orDefault(w.p.SweepBatch, DefaultSweepBatch),
		&blob.ListOptions{Prefix: screenshotKeysPrefix})
	if err != nil {
		return fmt.Errorf("list screenshot blobs: %w", err)
	}
	deleted, err := w.sweep(ctx, objs)
	if deleted > 0 {
		w.p.logger().InfoContext(ctx, "deleted orphaned screenshot blobs", "count", deleted)
	}
	if err != nil {
		return err
	}
	if len(next) == 0 {
		return nil
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("screenshot sweep: next page: %w", err)
	}
	if _, err := client.Insert(ctx, SweepScreenshotBlobsArgs{PageToken: next}, nil); err != nil {
		return fmt.Errorf("screenshot sweep: enqueue next page: %w", err)
	}
	return nil
}

// sweep deletes the objects old enough whose screenshot has no row, and counts them.
func (w *sweepWorker) sweep(ctx context.Context, objs []*blob.ListObject) (int, error) {
	cutoff := w.now().Add(-orDefault(w.p.OrphanAge, DefaultOrphanAge))
	// Candidates by tenant, then screenshot: a screenshot's blobs are judged by its row.
	candidates := map[uuid.UUID]map[uuid.UUID][]string{}
	for _, o := range objs {
		if o.IsDir || !o.ModTime.Before(cutoff) {
			continue
		}
		tenantID, id, ok := parseScreenshotKey(o.Key)
		if !ok {
			continue // not a screenshot's: not ours to judge
		}
		if candidates[tenantID] == nil {
			candidates[tenantID] = map[uuid.UUID][]string{}
		}
		candidates[tenantID][id] = append(candidates[tenantID][id], o.Key)
	}
	deleted := 0
	for tenantID, byID := range candidates {
		ids := make([]uuid.UUID, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		rows, err := w.p.Store.ScreenshotsByIDs(ctx, store.Scope{TenantID: tenantID}, ids)
		if err != nil {
			return deleted, err
		}
		for _, row := range rows {
			delete(byID, row.ID)
		}
		for _, keys := range byID {
			for _, key := range keys {
				if err := deleteBlob(ctx, w.p.Blobs, key); err != nil {
					return deleted, err
				}
				deleted++
			}
		}
	}
	return deleted, nil
}

// periodicJob inserts the sweep every SweepEvery, and once when a leader is elected.
func (p ScreenshotPipeline) periodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(orDefault(p.SweepEvery, DefaultSweepEvery)),
		func() (river.JobArgs, *river.InsertOpts) { return SweepScreenshotBlobsArgs{}, nil },
		&river.PeriodicJobOpts{ID: SweepScreenshotBlobsArgs{}.Kind(), RunOnStart: true})
}
