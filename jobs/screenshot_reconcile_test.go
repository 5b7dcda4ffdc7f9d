package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// parkedQueue holds the processing jobs these tests insert: no client works it, so a job stays
// in the state the test puts it in.
const parkedQueue = "parked"

// staleShot writes a screenshot of employee in tenant with status, unchanged for age, and (when
// jobState is set) its processing job in that state.
func staleShot(t *testing.T, s *store.Store, c *jobs.Client, tenant, employee uuid.UUID, status string, age time.Duration,
	jobState rivertype.JobState,
) shotRow {
	t.Helper()
	ctx := context.Background()
	row := insertShotRow(t, s, nil, tenant, employee, nil, nil)
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE screenshots SET status = $2, updated_at = now() - make_interval(secs => $3)
			WHERE id = $1`, row.ID, status, age.Seconds())
		return err
	}))
	if jobState == "" {
		return row
	}
	res, err := c.River().Insert(ctx, jobs.ProcessScreenshotArgs{TenantArgs: jobs.TenantArgs{TenantID: tenant},
		ScreenshotID: row.ID, CapturedAt: row.CapturedAt}, &river.InsertOpts{Queue: parkedQueue})
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `UPDATE river_job SET state = $2::text::river_job_state,
		attempt = 1, attempted_at = now(),
		scheduled_at = CASE WHEN $2::text IN ('retryable', 'scheduled') THEN now() + interval '1 hour' ELSE scheduled_at END,
		finalized_at = CASE WHEN $2::text IN ('cancelled', 'completed', 'discarded') THEN now() END
		WHERE id = $1`, res.Job.ID, string(jobState))
	require.NoError(t, err)
	return row
}

// reconcile runs the reconciliation job once and waits for it to complete.
func reconcile(t *testing.T, c *jobs.Client) {
	t.Helper()
	res, err := c.Enqueue(context.Background(), jobs.ReconcileScreenshotsArgs{})
	require.NoError(t, err)
	require.False(t, res.UniqueSkippedAsDuplicate)
	waitJob(t, c, res.Job.ID, rivertype.JobStateCompleted)
}

// TestReconcileInterruptedScreenshots: a screenshot left PENDING or PROCESSING, unchanged for
// longer than InterruptedAfter, whose processing job will never run again (discarded,
// cancelled, or lost), is marked FAILED with a reason and published, in its own tenant, by a
// worker connected as the ordinary application role; one whose job may still run, a recent
// one, or a finished one is left alone. A run handles at most ReconcileBatch screenshots.
func TestReconcileInterruptedScreenshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	app, err := store.Open(ctx, testdb.AppRoleURL(t, url), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	bypass, err := app.BypassesRowSecurity(ctx)
	require.NoError(t, err)
	require.False(t, bypass)

	b := setupShots(t, app, func(p *jobs.ScreenshotPipeline, _ *jobs.Opts) {
		p.InterruptedAfter = time.Hour
		p.ReconcileBatch = 3
	})
	other, err := app.CreateTenant(ctx, "reconcile-other", "Other")
	require.NoError(t, err)
	otherScope := store.Scope{TenantID: other.ID}
	otherEmployee, _ := employeeWithEntry(t, app, otherScope)

	old := 2 * time.Hour
	shot := func(status string, age time.Duration, job rivertype.JobState) shotRow {
		return staleShot(t, app, b.client, b.scope.TenantID, b.employee.ID, status, age, job)
	}
	interrupted := map[string]shotRow{
		// The worker was killed during the last attempt: the rescuer discarded the job.
		"ProcessingDiscarded": shot(store.ScreenshotProcessing, old, rivertype.JobStateDiscarded),
		// An operator cancelled the job before it ran.
		"PendingCancelled": shot(store.ScreenshotPending, old, rivertype.JobStateCancelled),
		// The job is gone altogether (deleted by hand, or river's cleaner removed it).
		"PendingWithoutJob": shot(store.ScreenshotPending, old, ""),
		// The job completed without finishing the row (e.g. it named another tenant).
		"PendingCompleted": shot(store.ScreenshotPending, old, rivertype.JobStateCompleted),
	}
	otherRow := staleShot(t, app, b.client, other.ID, otherEmployee.ID, store.ScreenshotProcessing, old,
		rivertype.JobStateDiscarded)
	untouched := map[string]shotRow{
		"ProcessingRunning":   shot(store.ScreenshotProcessing, old, rivertype.JobStateRunning),
		"ProcessingRetryable": shot(store.ScreenshotProcessing, old, rivertype.JobStateRetryable),
		"PendingAvailable":    shot(store.ScreenshotPending, old, rivertype.JobStateAvailable), // a queue backlog
		"PendingScheduled":    shot(store.ScreenshotPending, old, rivertype.JobStateScheduled),
		"RecentWithoutJob":    shot(store.ScreenshotPending, 10*time.Minute, ""),
		"RecentDiscarded":     shot(store.ScreenshotProcessing, 10*time.Minute, rivertype.JobStateDiscarded),
		"Processed":           shot(store.ScreenshotProcessed, old, rivertype.JobStateDiscarded),
		"Failed":              shot(store.ScreenshotFailed, old, ""),
	}
	// A live job naming this screenshot id in another tenant does not keep it alive.
	impostor := shot(store.ScreenshotPending, old, "")
	_, err = b.client.River().Insert(ctx, jobs.ProcessScreenshotArgs{TenantArgs: jobs.TenantArgs{TenantID: other.ID},
		ScreenshotID: impostor.ID, CapturedAt: impostor.CapturedAt}, &river.InsertOpts{Queue: parkedQueue})
	require.NoError(t, err)
	interrupted["LiveJobOfAnotherTenant"] = impostor
	before := map[uuid.UUID]*store.Screenshot{}
	for _, row := range untouched {
		before[row.ID] = b.shot(t, row.ID)
	}

	failedCount := func() int {
		n := 0
		for _, row := range interrupted {
			if b.shot(t, row.ID).Status == store.ScreenshotFailed {
				n++
			}
		}
		rows, err := app.ScreenshotsByIDs(ctx, otherScope, []uuid.UUID{otherRow.ID})
		require.NoError(t, err)
		if rows[0].Status == store.ScreenshotFailed {
			n++
		}
		return n
	}
	reconcile(t, b.client)
	require.Equal(t, 3, failedCount(), "one run handles ReconcileBatch screenshots")
	reconcile(t, b.client)
	require.Equal(t, 6, failedCount(), "the next run continues")
	reconcile(t, b.client)
	require.Equal(t, 6, failedCount(), "nothing is left")

	for name, row := range interrupted {
		got := b.shot(t, row.ID)
		require.Equal(t, store.ScreenshotFailed, got.Status, name)
		require.Equal(t, jobs.InterruptedReason, *got.FailureReason, name)
		require.NotNil(t, got.ProcessedAt, name)
		require.Equal(t, []string{store.ScreenshotFailed}, b.events.statuses(row.ID), "%s: published once", name)
	}
	rows, err := app.ScreenshotsByIDs(ctx, otherScope, []uuid.UUID{otherRow.ID})
	require.NoError(t, err)
	require.Equal(t, store.ScreenshotFailed, rows[0].Status, "the other tenant's, in its tenant")
	require.Equal(t, []string{store.ScreenshotFailed}, b.events.statuses(otherRow.ID))
	for _, e := range b.events.events {
		switch e.ScreenshotID {
		case otherRow.ID:
			require.Equal(t, other.ID, e.TenantID)
			require.Equal(t, otherEmployee.ID, e.EmployeeID)
		default:
			require.Equal(t, b.scope.TenantID, e.TenantID)
			require.Equal(t, b.employee.ID, e.EmployeeID)
		}
	}
	for name, row := range untouched {
		require.Equal(t, before[row.ID], b.shot(t, row.ID), name)
		require.Empty(t, b.events.statuses(row.ID), name)
	}

	t.Run("FailOnlyWhatIsStillInterrupted", func(t *testing.T) {
		// Between the listing and the write, an operator retried the job: its worker decides.
		row := shot(store.ScreenshotProcessing, old, rivertype.JobStateDiscarded)
		cutoff := time.Now().Add(-time.Hour)
		found, err := app.InterruptedScreenshots(ctx, cutoff, 100)
		require.NoError(t, err)
		require.Contains(t, found, store.InterruptedScreenshot{TenantID: b.scope.TenantID, ID: row.ID, CapturedAt: row.CapturedAt})
		_, err = app.Pool().Exec(ctx, `UPDATE river_job SET state = 'available', finalized_at = NULL
			WHERE args @> jsonb_build_object('screenshot_id', $1::uuid)`, row.ID)
		require.NoError(t, err)
		_, changed, err := app.FailInterruptedScreenshot(ctx, b.scope, row.ID, row.CapturedAt, cutoff, jobs.InterruptedReason)
		require.NoError(t, err)
		require.False(t, changed)
		require.Equal(t, store.ScreenshotProcessing, b.shot(t, row.ID).Status)
		// Another tenant's scope cannot fail it either (row-level security and the tenant filter).
		_, err = app.Pool().Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()
			WHERE args @> jsonb_build_object('screenshot_id', $1::uuid)`, row.ID)
		require.NoError(t, err)
		_, changed, err = app.FailInterruptedScreenshot(ctx, otherScope, row.ID, row.CapturedAt, cutoff, jobs.InterruptedReason)
		require.NoError(t, err)
		require.False(t, changed)
		require.Equal(t, store.ScreenshotProcessing, b.shot(t, row.ID).Status)
	})
	t.Run("TheListingLeavesTheSessionsTenantAlone", func(t *testing.T) {
		// The function names each tenant in app.tenant_id in turn and puts the caller's back.
		require.NoError(t, testdb.AsTenant(ctx, app.Pool(), other.ID, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM interrupted_screenshots(now(), 1000)`).Scan(&n); err != nil {
				return err
			}
			require.Positive(t, n, "every tenant's, whichever the session names")
			var setting string
			if err := tx.QueryRow(ctx, `SELECT current_setting('app.tenant_id')`).Scan(&setting); err != nil {
				return err
			}
			require.Equal(t, other.ID.String(), setting)
			return nil
		}))
		found, err := app.InterruptedScreenshots(ctx, time.Now().Add(time.Hour), 1) // a future cutoff is now
		require.NoError(t, err)
		require.Len(t, found, 1)
	})
	t.Run("Periodic", func(t *testing.T) {
		require.Len(t, jobs.PeriodicJobs(jobs.Deps{Screenshots: jobs.ScreenshotPipeline{Store: app}}), 2,
			"partitions and the reconciliation")
		require.Contains(t, jobs.Kinds(), jobs.ReconcileScreenshotsArgs{}.Kind())
	})
}
