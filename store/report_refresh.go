package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// ReportFreshness says how current the report views are. The views are refreshed together, so
// it is the oldest view's refresh.
type ReportFreshness struct {
	// RefreshedAt: the figures include every entry committed before this moment.
	RefreshedAt time.Time
	// StaleSeconds is how long ago that was, when read (never negative).
	StaleSeconds int
	// NextRefreshAt is when the periodic refresh is next due; nil when none is scheduled (a
	// refresh made by a bulk import, before the job has run).
	NextRefreshAt *time.Time
}

// ReportFreshness reads when the report views were last refreshed and when the next refresh is
// due (HTTP caching derives max-age from it). The views are shared by every tenant, so it takes
// no scope.
func (s *Store) ReportFreshness(ctx context.Context) (ReportFreshness, error) {
	var f ReportFreshness
	var next pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT min(refreshed_at), min(next_due_at) FROM report_refreshes`).Scan(&f.RefreshedAt, &next)
	if err != nil {
		return f, fmt.Errorf("read report freshness: %w", err)
	}
	f.RefreshedAt = f.RefreshedAt.UTC()
	f.StaleSeconds = max(int(s.now().Sub(f.RefreshedAt)/time.Second), 0)
	if next.Valid {
		t := next.Time.UTC()
		f.NextRefreshAt = &t
	}
	return f, nil
}

// ReportRefresh is what a refresh did to one view.
type ReportRefresh struct {
	View        string
	RefreshedAt time.Time
	Duration    time.Duration
}

// RefreshTimeout bounds a refresh of the report views (the serving pool bounds statements at
// 30 s; a large tenant's refresh may take longer).
const RefreshTimeout = 15 * time.Minute

// RefreshReports refreshes every report view concurrently (readers are not blocked; they see
// the previous figures until it commits) through refresh_report_views, which runs with the
// views' owner's rights. nextIn is when the next refresh is due (0: none scheduled). While
// another refresh runs it does nothing and returns no rows.
func (s *Store) RefreshReports(ctx context.Context, nextIn time.Duration) ([]ReportRefresh, error) {
	var out []ReportRefresh
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL statement_timeout = %d`, RefreshTimeout.Milliseconds())); err != nil {
			return err
		}
		var next any
		if nextIn > 0 {
			next = fmt.Sprintf("%d milliseconds", nextIn.Milliseconds())
		}
		rows, err := tx.Query(ctx, `SELECT view_name, refreshed_at, duration_ms FROM refresh_report_views($1::interval)`, next)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReportRefresh, error) {
			var r ReportRefresh
			var ms int32
			err := row.Scan(&r.View, &r.RefreshedAt, &ms)
			r.Duration = time.Duration(ms) * time.Millisecond
			return r, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("refresh report views: %w", err)
	}
	return out, nil
}

// ReportedSecondsByProjectIDs is TrackedSecondsByProjectIDs read from the report views (as of
// their last refresh): the same reach rule, each project's finished time of the scope's Visible
// employees (every employee's when nil). Projects with no such time are absent.
func (s *Store) ReportedSecondsByProjectIDs(ctx context.Context, scope Scope, projectIDs []uuid.UUID) ([]ProjectSeconds, error) {
	scan := func(row pgx.Row) (ProjectSeconds, error) {
		var ps ProjectSeconds
		err := row.Scan(&ps.ProjectID, &ps.Seconds)
		return ps, err
	}
	if !scope.restricted() {
		return collect(scope.bind(ctx), s.pool, "reported project totals",
			`SELECT project_id, total_seconds FROM report_project_totals
			WHERE tenant_id = $1 AND project_id = ANY($2) AND total_seconds > 0`,
			[]any{scope.TenantID, projectIDs}, scan)
	}
	return collect(scope.bind(ctx), s.pool, "reported project totals within reach",
		`SELECT project_id, sum(total_seconds)::int8 FROM report_project_monthly
		WHERE tenant_id = $1 AND project_id = ANY($2) AND employee_id = ANY($3)
		GROUP BY project_id`,
		[]any{scope.TenantID, projectIDs, scope.Visible}, scan)
}
