package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/workingtracker/api/internal/apperr"
)

// Reports read materialized views (migration 20261208000400): per employee and UTC day, ISO week
// or month; per project, employee and month; per project in all. The views have no row-level
// security, so every statement here names the scope's tenant and, when the scope sees only some
// employees, those employees: the same rule as time entries. Only finished entries count, each on
// the period its start time falls in.

// Report groupings (the GraphQL enum ReportGroupBy).
const (
	GroupByDay   = "DAY"
	GroupByWeek  = "WEEK"
	GroupByMonth = "MONTH"
)

// MaxReportRange is the longest range one report or export may cover.
const MaxReportRange = 3 * 366 * 24 * time.Hour

// MaxReportEmployees bounds a report's employeeIds filter.
const MaxReportEmployees = 100

type reportGrain struct {
	view, column, trunc string
}

var reportGrains = map[string]reportGrain{
	GroupByDay:   {"report_employee_daily", "day", "day"},
	GroupByWeek:  {"report_employee_weekly", "week", "week"},
	GroupByMonth: {"report_employee_monthly", "month", "month"},
}

// periodStart truncates t (UTC) to the start of its period.
func periodStart(groupBy string, t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch groupBy {
	case GroupByWeek:
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // ISO weeks start on Monday
	case GroupByMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

// PeriodEnd is the exclusive end of the period starting at start.
func PeriodEnd(groupBy string, start time.Time) time.Time {
	switch groupBy {
	case GroupByWeek:
		return start.AddDate(0, 0, 7)
	case GroupByMonth:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// ProductivityParams select a productivity report: the periods in [From, To) of GroupBy, for
// EmployeeIDs (all within reach when empty) of DepartmentID (its current members; any when nil).
type ProductivityParams struct {
	From, To     time.Time
	GroupBy      string
	EmployeeIDs  []uuid.UUID
	DepartmentID *uuid.UUID
	// Live computes the figures from time_entries instead of the views (tests and benchmarks
	// compare the two; the API reads the views).
	Live bool
}

// Validate checks the parameters: BAD_USER_INPUT naming the field at fault. From and To must be
// period boundaries of GroupBy (UTC midnight; a Monday for WEEK; the 1st for MONTH), so that
// every row is a whole period.
func (p *ProductivityParams) Validate() error {
	if p.GroupBy == "" {
		p.GroupBy = GroupByDay
	}
	if _, ok := reportGrains[p.GroupBy]; !ok {
		return apperr.Invalid("groupBy", "groupBy must be DAY, WEEK or MONTH")
	}
	if len(p.EmployeeIDs) > MaxReportEmployees {
		return apperr.Invalid("employeeIds", "at most %d employeeIds", MaxReportEmployees)
	}
	return validateReportRange(p.GroupBy, p.From, p.To, true)
}

func validateReportRange(groupBy string, from, to time.Time, required bool) error {
	what := map[string]string{GroupByDay: "a UTC midnight", GroupByWeek: "a Monday, UTC midnight",
		GroupByMonth: "the first of a month, UTC midnight"}[groupBy]
	for _, b := range []struct {
		field string
		t     time.Time
	}{{"from", from}, {"to", to}} {
		if b.t.IsZero() {
			if required {
				return apperr.Invalid(b.field, "%s is required", b.field)
			}
			continue
		}
		if !b.t.Equal(periodStart(groupBy, b.t)) {
			return apperr.Invalid(b.field, "%s must be %s (the start of a %s), such as %s", b.field, what,
				map[string]string{GroupByDay: "day", GroupByWeek: "week", GroupByMonth: "month"}[groupBy],
				periodStart(groupBy, b.t).Format(time.RFC3339))
		}
	}
	if from.IsZero() || to.IsZero() {
		return nil
	}
	if !to.After(from) {
		return apperr.Invalid("to", "to must be after from")
	}
	if to.Sub(from) > MaxReportRange {
		return apperr.Invalid("to", "a report covers at most %d days", int(MaxReportRange/(24*time.Hour)))
	}
	return nil
}

// ProductivityRow is one employee's figures over one period.
type ProductivityRow struct {
	EmployeeID       uuid.UUID
	PeriodStart      time.Time
	PeriodEnd        time.Time
	TotalSeconds     int
	BillableSeconds  int
	EntryCount       int
	DistinctProjects int
}

// TotalHours is TotalSeconds in hours.
func (r *ProductivityRow) TotalHours() float64 { return float64(r.TotalSeconds) / 3600 }

// BillableHours is BillableSeconds in hours.
func (r *ProductivityRow) BillableHours() float64 { return float64(r.BillableSeconds) / 3600 }

type productivityCursor struct {
	Period   time.Time `json:"p"`
	Employee uuid.UUID `json:"e"`
}

// ProductivityCursor is the opaque cursor of r in the report's order (period, then employee).
func ProductivityCursor(r *ProductivityRow) string {
	return encodeCursor(productivityCursor{r.PeriodStart, r.EmployeeID})
}

// productivitySQL is the report's statement (without ORDER BY and LIMIT, which callers add) over
// the view of p.GroupBy, or over time_entries when p.Live. The columns are employee, period,
// total, billable, entries and distinct projects, in (period, employee) order.
func productivitySQL(scope Scope, p ProductivityParams, after *productivityCursor) (string, []any) {
	g := reportGrains[p.GroupBy]
	w := &where{}
	var sql string
	if p.Live {
		w.add("te.tenant_id = ?", scope.TenantID)
		w.add("te.start_time >= ?", p.From)
		w.add("te.start_time < ?", p.To)
		w.add("te.duration_seconds IS NOT NULL")
		employeeFilters(w, scope, p, "te.employee_id")
		period := "date_trunc('" + g.trunc + "', te.start_time AT TIME ZONE 'UTC')::date"
		sql = `SELECT te.employee_id, ` + period + ` AS period, sum(te.duration_seconds)::int8,
			coalesce(sum(te.duration_seconds) FILTER (WHERE te.billable), 0)::int8, count(*)::int4,
			count(DISTINCT te.project_id)::int4
			FROM time_entries te WHERE ` + w.String() + ` GROUP BY te.employee_id, period`
		if after != nil {
			sql = `SELECT * FROM (` + sql + `) r WHERE (r.period, r.employee_id) > (` + w.arg(after.Period) + `::date, ` +
				w.arg(after.Employee) + `)`
		}
		return sql, w.args
	}
	col := "r." + g.column
	w.add("r.tenant_id = ?", scope.TenantID)
	w.add(col+" >= ?::date", p.From)
	w.add(col+" < ?::date", p.To)
	employeeFilters(w, scope, p, "r.employee_id")
	if after != nil {
		w.add("("+col+", r.employee_id) > (?::date, ?)", after.Period, after.Employee)
	}
	return `SELECT r.employee_id, ` + col + ` AS period, r.total_seconds, r.billable_seconds, r.entry_count,
		r.distinct_projects FROM ` + g.view + ` r WHERE ` + w.String(), w.args
}

// employeeFilters limits a report to the scope's employees and to the parameters' choice.
func employeeFilters(w *where, scope Scope, p ProductivityParams, column string) {
	if scope.restricted() {
		w.add(column+" = ANY(?)", scope.Visible)
	}
	if len(p.EmployeeIDs) > 0 {
		w.add(column+" = ANY(?)", p.EmployeeIDs)
	}
	if p.DepartmentID != nil {
		w.add(column+" IN (SELECT e.id FROM employees e WHERE e.tenant_id = ? AND e.department_id = ?)", scope.TenantID, *p.DepartmentID)
	}
}

// ProductivityReport returns a page of the report, ordered by period, then employee.
func (s *Store) ProductivityReport(ctx context.Context, scope Scope, p ProductivityParams, page PageParams) (Page[*ProductivityRow], error) {
	if err := p.Validate(); err != nil {
		return Page[*ProductivityRow]{}, err
	}
	if err := page.validate(); err != nil {
		return Page[*ProductivityRow]{}, err
	}
	var after *productivityCursor
	if page.After != "" {
		after = new(productivityCursor)
		if err := decodeCursor(page.After, after); err != nil {
			return Page[*ProductivityRow]{}, err
		}
	}
	sql, args := productivitySQL(scope, p, after)
	args = append(args, page.First+1)
	sql = `SELECT * FROM (` + sql + `) q ORDER BY 2, 1 LIMIT $` + fmt.Sprint(len(args))
	groupBy := p.GroupBy
	rows, err := collect(scope.bind(ctx), s.pool, "productivity report", sql, args, func(row pgx.Row) (*ProductivityRow, error) {
		r := new(ProductivityRow)
		return r, scanProductivityRow(row, groupBy, r)
	})
	return trimPage(rows, page.First), err
}

func scanProductivityRow(row pgx.Row, groupBy string, r *ProductivityRow) error {
	var period pgtype.Date
	var total, billable int64
	var entries, projects int32
	if err := row.Scan(&r.EmployeeID, &period, &total, &billable, &entries, &projects); err != nil {
		return err
	}
	r.PeriodStart = period.Time.UTC()
	r.PeriodEnd = PeriodEnd(groupBy, r.PeriodStart)
	r.TotalSeconds, r.BillableSeconds, r.EntryCount, r.DistinctProjects = int(total), int(billable), int(entries), int(projects)
	return nil
}

// ExportBatchRows is how many rows StreamProductivityReport fetches from its cursor at a time.
const ExportBatchRows = 1000

// StreamProductivityReport reads the whole report from the views in one read-only, repeatable-read
// transaction through a server-side cursor, so memory stays constant however many rows there
// are. It first counts the rows and calls admit with the count (an error from admit ends it
// before any row is read: the caller prices the export by it, and the rows that follow are
// exactly those counted); then it calls row for each row in order (period, employee), with a
// value it reuses. Each FETCH is its own statement, so the pool's statement timeout bounds a
// batch, not the whole export.
func (s *Store) StreamProductivityReport(ctx context.Context, scope Scope, p ProductivityParams,
	admit func(rows int) error, row func(*ProductivityRow) error,
) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p.Live = false
	tx, err := s.pool.BeginTx(scope.bind(ctx), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin export: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only; nothing to keep
	sql, args := productivitySQL(scope, p, nil)
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (`+sql+`) q`, args...).Scan(&n); err != nil {
		return fmt.Errorf("count export rows: %w", err)
	}
	if err := admit(n); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DECLARE export_rows NO SCROLL CURSOR FOR `+sql+` ORDER BY 2, 1`, args...); err != nil {
		return fmt.Errorf("declare export cursor: %w", err)
	}
	var r ProductivityRow
	for {
		rows, err := tx.Query(ctx, fmt.Sprintf(`FETCH %d FROM export_rows`, ExportBatchRows))
		if err != nil {
			return fmt.Errorf("fetch export rows: %w", err)
		}
		got := 0
		for rows.Next() {
			got++
			if err := scanProductivityRow(rows, p.GroupBy, &r); err != nil {
				rows.Close()
				return fmt.Errorf("scan export row: %w", err)
			}
			if err := row(&r); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read export rows: %w", err)
		}
		if got < ExportBatchRows {
			return nil
		}
	}
}

// ProjectHoursParams select a project hours report: projects of Status (any when nil), with the
// hours of the months in [From, To) (all time when both are zero; either end may be open). From
// and To must be the first of a month, UTC midnight.
type ProjectHoursParams struct {
	Status   *string
	From, To time.Time
	// Live sums time_entries instead of the views (tests compare the two).
	Live bool
}

// ProjectHoursRow is a project's figures within the report's range and the scope's reach.
type ProjectHoursRow struct {
	Project *Project
	// TeamSize counts the employees (within reach) who tracked time on the project.
	TeamSize        int
	TotalSeconds    int
	BillableSeconds int
	EntryCount      int
	// LastActivity is when the latest counted entry ended; nil when none.
	LastActivity *time.Time
}

// TotalHours is TotalSeconds in hours.
func (r *ProjectHoursRow) TotalHours() float64 { return float64(r.TotalSeconds) / 3600 }

// BillableHours is BillableSeconds in hours.
func (r *ProjectHoursRow) BillableHours() float64 { return float64(r.BillableSeconds) / 3600 }

// BudgetUtilisation is TotalHours over the project's budget (1 = all of it); nil without a
// positive budget.
func (r *ProjectHoursRow) BudgetUtilisation() *float64 {
	if r.Project == nil || r.Project.BudgetHours == nil || *r.Project.BudgetHours <= 0 {
		return nil
	}
	u := r.TotalHours() / *r.Project.BudgetHours
	return &u
}

// ProjectHoursReport returns a page of projects (by name, as ListProjects orders them: the same
// cursors) with their hours. Projects are the tenant's (every principal reads them); their hours
// are those of the scope's employees. Without a range and with the whole tenant in reach it reads
// report_project_totals, otherwise it sums report_project_monthly over the range's months.
func (s *Store) ProjectHoursReport(ctx context.Context, scope Scope, p ProjectHoursParams, page PageParams) (Page[*ProjectHoursRow], error) {
	if err := validateReportRange(GroupByMonth, p.From, p.To, false); err != nil {
		return Page[*ProjectHoursRow]{}, err
	}
	if err := page.validate(); err != nil {
		return Page[*ProjectHoursRow]{}, err
	}
	w := (ListProjectsParams{Status: p.Status}).where(scope)
	if page.After != "" {
		var c projectCursor
		if err := decodeCursor(page.After, &c); err != nil {
			return Page[*ProjectHoursRow]{}, err
		}
		cond, args := projectList.after(c)
		w.add(cond, args...)
	}
	limit := w.arg(page.First + 1)
	pageSQL := `SELECT p.* FROM projects p WHERE ` + w.String() + ` ORDER BY p.name, p.id LIMIT ` + limit
	var figures string
	switch {
	case p.Live:
		f := &where{args: w.args}
		f.add("te.tenant_id = p.tenant_id AND te.project_id = p.id AND te.duration_seconds IS NOT NULL")
		if !p.From.IsZero() {
			f.add("te.start_time >= ?", p.From)
		}
		if !p.To.IsZero() {
			f.add("te.start_time < ?", p.To)
		}
		if scope.restricted() {
			f.add("te.employee_id = ANY(?)", scope.Visible)
		}
		w.args = f.args
		figures = `SELECT count(DISTINCT te.employee_id)::int4 AS team_size, coalesce(sum(te.duration_seconds), 0)::int8 AS total_seconds,
			coalesce(sum(te.duration_seconds) FILTER (WHERE te.billable), 0)::int8 AS billable_seconds,
			count(*)::int4 AS entry_count, max(te.end_time) AS last_activity
			FROM time_entries te WHERE ` + f.String()
	case p.From.IsZero() && p.To.IsZero() && !scope.restricted():
		figures = `SELECT t.team_size, t.total_seconds, t.billable_seconds, t.entry_count, t.last_activity
			FROM report_project_totals t WHERE t.tenant_id = p.tenant_id AND t.project_id = p.id`
	default:
		f := &where{args: w.args}
		f.add("m.tenant_id = p.tenant_id AND m.project_id = p.id")
		if !p.From.IsZero() {
			f.add("m.month >= ?::date", p.From)
		}
		if !p.To.IsZero() {
			f.add("m.month < ?::date", p.To)
		}
		if scope.restricted() {
			f.add("m.employee_id = ANY(?)", scope.Visible)
		}
		w.args = f.args
		figures = `SELECT count(DISTINCT m.employee_id)::int4 AS team_size, coalesce(sum(m.total_seconds), 0)::int8 AS total_seconds,
			coalesce(sum(m.billable_seconds), 0)::int8 AS billable_seconds, coalesce(sum(m.entry_count), 0)::int4 AS entry_count,
			max(m.last_activity) AS last_activity
			FROM report_project_monthly m WHERE ` + f.String()
	}
	sql := `SELECT coalesce(f.team_size, 0)::int4, coalesce(f.total_seconds, 0)::int8, coalesce(f.billable_seconds, 0)::int8,
		coalesce(f.entry_count, 0)::int4, f.last_activity, ` + projectColumns + `
		FROM (` + pageSQL + `) p LEFT JOIN LATERAL (` + figures + `) f ON true ORDER BY p.name, p.id`
	rows, err := collect(scope.bind(ctx), s.pool, "project hours report", sql, w.args, func(row pgx.Row) (*ProjectHoursRow, error) {
		r := &ProjectHoursRow{Project: new(Project)}
		var total, billable int64
		var team, entries int32
		var last pgtype.Timestamptz
		if err := scanProjectInto(r.Project, row, &team, &total, &billable, &entries, &last); err != nil {
			return nil, err
		}
		r.TeamSize, r.TotalSeconds, r.BillableSeconds, r.EntryCount = int(team), int(total), int(billable), int(entries)
		if last.Valid {
			t := last.Time.UTC()
			r.LastActivity = &t
		}
		return r, nil
	})
	return trimPage(rows, page.First), err
}
