package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

// Test job kinds. Each test registers its own worker instances, so their state is the test's.

type noopArgs struct{ Note string }

func (noopArgs) Kind() string { return "test_noop" }

type noopWorker struct{ river.WorkerDefaults[noopArgs] }

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// flakyArgs fails its first FailTimes attempts.
type flakyArgs struct{ FailTimes int }

func (flakyArgs) Kind() string { return "test_flaky" }

func (flakyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

type flakyWorker struct {
	river.WorkerDefaults[flakyArgs]
}

func (flakyWorker) Work(_ context.Context, job *river.Job[flakyArgs]) error {
	if job.Attempt <= job.Args.FailTimes {
		return fmt.Errorf("boom on attempt %d", job.Attempt)
	}
	return nil
}

// blockArgs runs until released or until its context ends.
type blockArgs struct{}

func (blockArgs) Kind() string { return "test_block" }

type blockWorker struct {
	river.WorkerDefaults[blockArgs]
	started chan int64
	release chan struct{}
}

func (w *blockWorker) Work(ctx context.Context, job *river.Job[blockArgs]) error {
	w.started <- job.ID
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fastRetry retries after 10 ms, so that tests of retries take milliseconds (river's default
// waits attempt⁴ seconds).
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

type testBundle struct {
	store  *store.Store
	client *jobs.Client
}

// setup builds a client over s with the given workers added to the test kinds; Workers 0 is an
// insert-only client.
func setup(t *testing.T, s *store.Store, opts jobs.Opts, add ...func(*river.Workers)) *testBundle {
	t.Helper()
	w := river.NewWorkers()
	river.AddWorker(w, noopWorker{})
	river.AddWorker(w, flakyWorker{})
	for _, f := range add {
		f(w)
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.RetryPolicy = fastRetry{}
	opts.FetchCooldown, opts.FetchPollInterval = 5*time.Millisecond, 50*time.Millisecond
	opts.TestOnly = true
	c, err := jobs.New(s, w, opts)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, c.Shutdown(ctx))
	})
	return &testBundle{store: s, client: c}
}

// waitForState waits until job id is in state and returns it. The bound is generous: a rescued
// job is made available again only by river's scheduler, which runs every 5 seconds
// (maintenance.JobSchedulerIntervalDefault) after the new leader's election, and a loaded CI
// machine took more than 10 seconds for the whole of it.
func waitForState(t *testing.T, c *jobs.Client, id int64, state rivertype.JobState) *rivertype.JobRow {
	t.Helper()
	var job *rivertype.JobRow
	require.Eventually(t, func() bool {
		var err error
		job, err = c.River().JobGet(context.Background(), id)
		require.NoError(t, err)
		return job.State == state
	}, 30*time.Second, 10*time.Millisecond, "job %d never reached %s", id, state)
	return job
}

// TestEnqueueTxCommitsAndRollsBackWithItsRow: a job inserted in a transaction exists exactly
// when the transaction's rows do.
func TestEnqueueTxCommitsAndRollsBackWithItsRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, testdb.Open(t, store.Opts{}), jobs.Opts{}) // insert only: nothing works the jobs
	tenant, err := b.store.CreateTenant(ctx, "alpha", "Alpha")
	require.NoError(t, err)
	scope := store.Scope{TenantID: tenant.ID}
	var _ store.JobInserter = b.client // the store's declaration of what it needs
	var _ jobs.Inserter = b.client

	t.Run("RolledBack", func(t *testing.T) {
		errBoom := errors.New("boom")
		var jobID int64
		err := b.store.InTx(ctx, scope, func(tx *store.Store) error {
			if _, err := tx.CreateDepartment(ctx, scope, "Rolled back"); err != nil {
				return err
			}
			res, err := tx.EnqueueInTx(ctx, b.client, noopArgs{Note: "rolled back"})
			if err != nil {
				return err
			}
			jobID = res.Job.ID
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		_, err = b.client.River().JobGet(ctx, jobID)
		require.ErrorIs(t, err, river.ErrNotFound, "the job went with its transaction")
		require.Zero(t, departments(t, b.store, tenant.ID, "Rolled back"))
	})
	t.Run("Committed", func(t *testing.T) {
		var jobID int64
		err := b.store.InTx(ctx, scope, func(tx *store.Store) error {
			if _, err := tx.CreateDepartment(ctx, scope, "Committed"); err != nil {
				return err
			}
			res, err := tx.EnqueueInTx(ctx, b.client, noopArgs{Note: "committed"})
			if err != nil {
				return err
			}
			jobID = res.Job.ID
			_, err = b.client.River().JobGet(ctx, jobID)
			require.ErrorIs(t, err, river.ErrNotFound, "invisible to others until the transaction commits")
			return nil
		})
		require.NoError(t, err)
		job, err := b.client.River().JobGet(ctx, jobID)
		require.NoError(t, err)
		require.Equal(t, rivertype.JobStateAvailable, job.State)
		require.Contains(t, string(job.EncodedArgs), "committed")
		require.Equal(t, 1, departments(t, b.store, tenant.ID, "Committed"))
	})
	t.Run("ErrNotInTx", func(t *testing.T) {
		_, err := b.store.EnqueueInTx(ctx, b.client, noopArgs{})
		require.ErrorIs(t, err, store.ErrNotInTx)
	})
	t.Run("ErrUnknownKind", func(t *testing.T) {
		_, err := b.client.Enqueue(ctx, blockArgs{})
		require.ErrorContains(t, err, "test_block", "a kind no worker is registered for is refused at insert")
	})
}

func departments(t *testing.T, s *store.Store, tenant uuid.UUID, name string) int {
	t.Helper()
	var n int
	require.NoError(t, testdb.AsTenant(context.Background(), s.Pool(), tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM departments WHERE name = $1`, name).Scan(&n)
	}))
	return n
}

// TestRetries: a failing job is retried with backoff; after its last attempt it is discarded
// with every attempt's error kept.
func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, testdb.Open(t, store.Opts{}), jobs.Opts{Workers: 2})

	t.Run("FailsOnceThenSucceeds", func(t *testing.T) {
		t.Parallel()
		res, err := b.client.Enqueue(ctx, flakyArgs{FailTimes: 1})
		require.NoError(t, err)
		job := waitForState(t, b.client, res.Job.ID, rivertype.JobStateCompleted)
		require.Equal(t, 2, job.Attempt)
		require.Len(t, job.Errors, 1)
		require.Equal(t, "boom on attempt 1", job.Errors[0].Error)
	})
	t.Run("DiscardedWithItsErrors", func(t *testing.T) {
		t.Parallel()
		res, err := b.client.Enqueue(ctx, flakyArgs{FailTimes: 100})
		require.NoError(t, err)
		job := waitForState(t, b.client, res.Job.ID, rivertype.JobStateDiscarded)
		require.Equal(t, 3, job.Attempt, "MaxAttempts")
		require.NotNil(t, job.FinalizedAt)
		require.Len(t, job.Errors, 3)
		for i, e := range job.Errors {
			require.Equal(t, i+1, e.Attempt)
			require.Equal(t, fmt.Sprintf("boom on attempt %d", i+1), e.Error, "the reason of each attempt is kept")
		}
	})
}

// TestShutdown: running jobs finish within the shutdown timeout; those still running at the
// deadline are cancelled and made available again, without spending an attempt, and run to
// completion under the next worker.
func TestShutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	newBlock := func() *blockWorker { return &blockWorker{started: make(chan int64, 1), release: make(chan struct{})} }

	t.Run("RunningJobsFinish", func(t *testing.T) {
		t.Parallel()
		s := testdb.Open(t, store.Opts{})
		w := newBlock()
		b := setup(t, s, jobs.Opts{Workers: 1, ShutdownTimeout: 5 * time.Second},
			func(ws *river.Workers) { river.AddWorker(ws, w) })
		res, err := b.client.Enqueue(ctx, blockArgs{})
		require.NoError(t, err)
		<-w.started
		time.AfterFunc(100*time.Millisecond, func() { close(w.release) })
		require.NoError(t, b.client.Shutdown(ctx))
		job, err := b.client.River().JobGet(ctx, res.Job.ID)
		require.NoError(t, err)
		require.Equal(t, rivertype.JobStateCompleted, job.State, "Shutdown waited for it")
	})
	t.Run("CancelledAtTheDeadlineAndRetried", func(t *testing.T) {
		t.Parallel()
		s := testdb.Open(t, store.Opts{})
		w := newBlock()
		b := setup(t, s, jobs.Opts{Workers: 1, ShutdownTimeout: 200 * time.Millisecond},
			func(ws *river.Workers) { river.AddWorker(ws, w) })
		res, err := b.client.Enqueue(ctx, blockArgs{})
		require.NoError(t, err)
		<-w.started
		start := time.Now()
		require.NoError(t, b.client.Shutdown(ctx))
		require.Less(t, time.Since(start), 5*time.Second, "the deadline bounds the stop")
		job, err := b.client.River().JobGet(ctx, res.Job.ID)
		require.NoError(t, err)
		require.Equal(t, rivertype.JobStateAvailable, job.State, "returned to the queue, not lost")
		require.Zero(t, job.Attempt, "an interrupted attempt is not spent")

		next := newBlock()
		close(next.release)
		b2 := setup(t, s, jobs.Opts{Workers: 1}, func(ws *river.Workers) { river.AddWorker(ws, next) })
		require.Equal(t, res.Job.ID, <-next.started)
		waitForState(t, b2.client, res.Job.ID, rivertype.JobStateCompleted)
	})
}

// TestTenantJobs: a tenant job works in its tenant's scope and sees only that tenant's rows,
// as the ordinary application role (row-level security binds it, as it binds requests); the
// whole queue — insert, fetch, complete — runs with that role's grants.
func TestTenantJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	owner, err := store.Open(ctx, url, store.Opts{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(owner.Close)
	app, err := store.Open(ctx, testdb.AppRoleURL(t, url), store.Opts{MaxConns: 6})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	bypass, err := app.BypassesRowSecurity(ctx)
	require.NoError(t, err)
	require.False(t, bypass)

	var ids []uuid.UUID
	tenants := map[string]uuid.UUID{}
	for _, slug := range []string{"alpha", "bravo"} {
		tenant, err := owner.CreateTenant(ctx, slug, slug)
		require.NoError(t, err)
		tenants[slug] = tenant.ID
		for _, name := range []string{"Engineering", "Sales"} {
			d, err := owner.CreateDepartment(ctx, store.Scope{TenantID: tenant.ID}, slug+" "+name)
			require.NoError(t, err)
			ids = append(ids, d.ID)
		}
	}
	w := &tenantReader{store: app, seen: make(chan tenantSeen, 1)}
	b := setup(t, app, jobs.Opts{Workers: 2}, func(ws *river.Workers) { river.AddWorker(ws, w) })

	t.Run("SeesOnlyItsTenant", func(t *testing.T) {
		res, err := b.client.Enqueue(ctx, tenantReadArgs{TenantArgs: jobs.TenantArgs{TenantID: tenants["alpha"]}, IDs: ids})
		require.NoError(t, err)
		seen := <-w.seen
		require.ElementsMatch(t, []string{"alpha Engineering", "alpha Sales"}, seen.names, "bravo's ids were asked for too")
		require.Zero(t, seen.unscoped, "a read that forgot the scope sees no tenant's rows")
		waitForState(t, b.client, res.Job.ID, rivertype.JobStateCompleted)
	})
	t.Run("CancelledWithoutTenant", func(t *testing.T) {
		res, err := b.client.Enqueue(ctx, tenantReadArgs{IDs: ids})
		require.NoError(t, err)
		job := waitForState(t, b.client, res.Job.ID, rivertype.JobStateCancelled)
		require.Len(t, job.Errors, 1, "not retried: no attempt would find a tenant")
		require.Contains(t, job.Errors[0].Error, jobs.ErrNoTenant.Error())
	})
}

type tenantReadArgs struct {
	jobs.TenantArgs
	IDs []uuid.UUID `json:"ids"`
}

func (tenantReadArgs) Kind() string { return "test_tenant_read" }

type tenantSeen struct {
	names    []string
	unscoped int
}

type tenantReader struct {
	river.WorkerDefaults[tenantReadArgs]
	store *store.Store
	seen  chan tenantSeen
}

func (w *tenantReader) Work(ctx context.Context, job *river.Job[tenantReadArgs]) error {
	scope, err := jobs.TenantScope(job.Args.TenantArgs)
	if err != nil {
		return err
	}
	ds, err := w.store.DepartmentsByIDs(ctx, scope, job.Args.IDs)
	if err != nil {
		return err
	}
	var seen tenantSeen
	for _, d := range ds {
		seen.names = append(seen.names, d.Name)
	}
	// The mistake row-level security is for: no tenant filter, no scope bound.
	if err := w.store.Pool().QueryRow(ctx, `SELECT count(*) FROM departments`).Scan(&seen.unscoped); err != nil {
		return err
	}
	w.seen <- seen
	return nil
}

// TestPartitionUpkeepIsAPeriodicJob: the elected leader inserts the partition job when it
// starts (RunOnStart), and a worker creates the partitions, as the application role.
func TestPartitionUpkeepIsAPeriodicJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	future := time.Now().AddDate(1, 0, 0) // past the migrations' partitions
	url := testdb.URL(t)
	app, err := store.Open(ctx, testdb.AppRoleURL(t, url), store.Opts{Now: func() time.Time { return future }})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	deps := jobs.Deps{Partitions: jobs.PartitionMaintenance{Store: app, Logger: slog.New(slog.DiscardHandler), Months: 2}}
	c, err := jobs.New(app, jobs.NewWorkers(deps), jobs.Opts{Workers: 1, PeriodicJobs: jobs.PeriodicJobs(deps), TestOnly: true})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() { require.NoError(t, c.Shutdown(ctx)) })

	var list *river.JobListResult
	require.Eventually(t, func() bool {
		list, err = c.River().JobList(ctx, river.NewJobListParams().Kinds(jobs.PartitionArgs{}.Kind()).
			States(rivertype.JobStateCompleted))
		require.NoError(t, err)
		return len(list.Jobs) == 1
	}, 10*time.Second, 20*time.Millisecond)
	var exists bool
	name := "time_entries_" + future.AddDate(0, 2, 0).Format("y2006m01")
	require.NoError(t, app.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists))
	require.True(t, exists, name)
	require.True(t, strings.HasPrefix(list.Jobs[0].Kind, "partition"))
}
