package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// TestReportRefreshAsAppRole: the service's ordinary role refreshes the report views through
// refresh_report_views (it owns none of them) and records the next refresh as due one period
// on; it cannot call the functions the views read every tenant through.
func TestReportRefreshAsAppRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, testdb.AppRoleURL(t, testdb.URL(t)), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	r := jobs.ReportRefresh{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Every: 2 * time.Minute}
	before := time.Now()
	require.NoError(t, r.RunOnce(ctx))
	f, err := s.ReportFreshness(ctx)
	require.NoError(t, err)
	require.WithinDuration(t, before, f.RefreshedAt, 5*time.Second)
	require.NotNil(t, f.NextRefreshAt)
	require.WithinDuration(t, f.RefreshedAt.Add(2*time.Minute), *f.NextRefreshAt, time.Second)

	for _, sql := range []string{`SELECT count(*) FROM report_employee_rows('day')`, `SELECT count(*) FROM report_project_rows()`,
		`SELECT count(*) FROM report_project_total_rows()`} {
		_, err := s.Pool().Exec(ctx, sql)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, sql)
		require.Equal(t, "42501", pgErr.Code, "insufficient_privilege: %s", sql)
	}

	require.Len(t, jobs.PeriodicJobs(jobs.Deps{Reports: r}), 2, "partitions and reports")
	require.Contains(t, jobs.Kinds(), "reports_refresh")
}
