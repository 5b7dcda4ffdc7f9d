package jobs

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/workingtracker/api/store"
)

// ReconcileStore is what the reconciliation job needs of the store (part of ScreenshotStore).
type ReconcileStore interface {
	// InterruptedScreenshots lists up to limit screenshots of any tenant left PENDING or
	// PROCESSING since before olderThan with no live processing job.
	InterruptedScreenshots(ctx context.Context, olderThan time.Time, limit int) ([]store.InterruptedScreenshot, error)
	// FailInterruptedScreenshot marks one FAILED in its tenant if it still is such a screenshot.
	FailInterruptedScreenshot(ctx context.Context, scope store.Scope, id uuid.UUID, capturedAt, olderThan time.Time,
		reason string) (*store.Screenshot, bool, error)
}

// Defaults of the reconciliation (ScreenshotPipeline's InterruptedAfter, ReconcileEvery and
// ReconcileBatch).
const (
	// DefaultInterruptedAfter is how long a screenshot must have stayed PENDING or PROCESSING,
	// with no live job, before it is taken for interrupted: far longer than an attempt
	// (DefaultScreenshotTimeout) plus the rescue of a killed worker's job
	// (DefaultRescueStuckJobsAfter), so that it never races the job's own last word.
	DefaultInterruptedAfter = 30 * time.Minute
	DefaultReconcileEvery   = 10 * time.Minute
	DefaultReconcileBatch   = 500
)

// InterruptedReason is the failure reason of a screenshot whose processing was interrupted
// (its owner reads it).
const InterruptedReason = "processing was interrupted and not retried"

// ReconcileScreenshotsArgs is the periodic reconciliation of screenshots whose processing job
// is gone: a worker killed during the job's last attempt (river's rescuer discards the job
// without running our code, so nothing marks the row), or a job an operator discarded or
// cancelled. Such a screenshot would stay PENDING or PROCESSING forever and its subscribers
// would never see a final status: the job marks it FAILED with InterruptedReason and publishes
// it. The leader inserts it every ReconcileEvery; one run handles up to ReconcileBatch rows
// (the next period continues).
type ReconcileScreenshotsArgs struct{}

// Kind names the job in river_job.
func (ReconcileScreenshotsArgs) Kind() string { return "screenshot_reconcile" }

// InsertOpts: a failed run is retried a few times, then left to the next period; one pending
// run at a time.
func (ReconcileScreenshotsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileScreenshotsArgs]
	p   ScreenshotPipeline
	now func() time.Time
}

func (w *reconcileWorker) Timeout(*river.Job[ReconcileScreenshotsArgs]) time.Duration {
	return 5 * time.Minute
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileScreenshotsArgs]) error {
	rs := w.p.Store
	olderThan := w.now().Add(-orDefault(w.p.InterruptedAfter, DefaultInterruptedAfter))
	found, err := rs.InterruptedScreenshots(ctx, olderThan, orDefault(w.p.ReconcileBatch, DefaultReconcileBatch))
	if err != nil {
		return err
	}
	failed := 0
	for _, f := range found {
		scope, err := TenantScope(TenantArgs{TenantID: f.TenantID})
		if err != nil {
			return err
		}
		shot, changed, err := rs.FailInterruptedScreenshot(ctx, scope, f.ID, f.CapturedAt, olderThan, InterruptedReason)
		if err != nil {
			return err // those marked so far stay marked; the retry finds the rest
		}
		if changed {
			failed++
			w.p.publish(ctx, shot)
		}
	}
	if failed > 0 {
		w.p.logger().WarnContext(ctx, "marked interrupted screenshots FAILED", "count", failed)
	}
	return nil
}

// reconcileJob inserts the reconciliation every ReconcileEvery, and once when a leader is
// elected.
func (p ScreenshotPipeline) reconcileJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(orDefault(p.ReconcileEvery, DefaultReconcileEvery)),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileScreenshotsArgs{}, nil },
		&river.PeriodicJobOpts{ID: ReconcileScreenshotsArgs{}.Kind(), RunOnStart: true})
}
