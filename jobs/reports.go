package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/workingtracker/api/store"
)

// ReportRefresher is what the report refresh needs of the store.
type ReportRefresher interface {
	// RefreshReports refreshes the report views concurrently and records the next refresh as
	// due in nextIn; it does nothing while another refresh runs.
	RefreshReports(ctx context.Context, nextIn time.Duration) ([]store.ReportRefresh, error)
}

// DefaultReportsRefresh is how often the report views are refreshed when the configuration
// does not say (REPORTS_REFRESH_INTERVAL).
const DefaultReportsRefresh = 5 * time.Minute

// ReportRefresh refreshes the report materialized views every Every (a periodic job the
// leader inserts, and once when elected), so reports are at most about Every plus a refresh's
// duration old. Bulk imports (seed) refresh them as they finish.
type ReportRefresh struct {
	Store  ReportRefresher
	Logger *slog.Logger
	Every  time.Duration
}

func (r ReportRefresh) every() time.Duration {
	if r.Every <= 0 {
		return DefaultReportsRefresh
	}
	return r.Every
}

// RunOnce refreshes the views now.
func (r ReportRefresh) RunOnce(ctx context.Context) error {
	refreshed, err := r.Store.RefreshReports(ctx, r.every())
	if err != nil {
		return err
	}
	if len(refreshed) == 0 {
		r.Logger.InfoContext(ctx, "report views: another refresh is running")
		return nil
	}
	var took time.Duration
	for _, v := range refreshed {
		took += v.Duration
	}
	r.Logger.InfoContext(ctx, "refreshed report views", "views", len(refreshed), "duration", took)
	return nil
}

// RefreshReportsArgs is the periodic refresh of the report views. It concerns every tenant:
// the views are shared.
type RefreshReportsArgs struct{}

// Kind names the job in river_job.
func (RefreshReportsArgs) Kind() string { return "reports_refresh" }

// InsertOpts: a failed refresh is retried a few times; the next period refreshes anyway.
func (RefreshReportsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

type reportRefreshWorker struct {
	river.WorkerDefaults[RefreshReportsArgs]
	r ReportRefresh
}

func (w *reportRefreshWorker) Work(ctx context.Context, _ *river.Job[RefreshReportsArgs]) error {
	return w.r.RunOnce(ctx)
}

// Timeout: a large tenant's refresh takes longer than river's default minute.
func (w *reportRefreshWorker) Timeout(*river.Job[RefreshReportsArgs]) time.Duration {
	return store.RefreshTimeout
}

func (r ReportRefresh) periodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(r.every()),
		func() (river.JobArgs, *river.InsertOpts) { return RefreshReportsArgs{}, nil },
		&river.PeriodicJobOpts{ID: RefreshReportsArgs{}.Kind(), RunOnStart: true})
}
