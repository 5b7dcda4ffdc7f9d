package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/workingtracker/api/internal/apperr"
)

// Bounds on a time entry. An entry longer than a day is almost always a forgotten timer or a
// typo; a future entry is not tracked time.
const (
	MaxEntryDuration = 24 * time.Hour
	MaxClockSkew     = 5 * time.Minute
	OldestEntryAge   = 5 * 365 * 24 * time.Hour
)

// Time entry sources.
const (
	SourceManual = "MANUAL"
	SourceTimer  = "TIMER"
	SourceAgent  = "AGENT"
)

// TimeEntry is time an employee spent on a project. EndTime is nil while its timer runs.
type TimeEntry struct {
	bun.BaseModel `bun:"table:time_entries"`

	TenantID    uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID          uuid.UUID  `bun:"id,pk,type:uuid"`
	EmployeeID  uuid.UUID  `bun:"employee_id,type:uuid,notnull"`
	ProjectID   uuid.UUID  `bun:"project_id,type:uuid,notnull"`
	TaskID      *uuid.UUID `bun:"task_id,type:uuid"`
	StartTime   time.Time  `bun:"start_time,pk,notnull"`
	EndTime     *time.Time `bun:"end_time"`
	Description string     `bun:"description,notnull"`
	Billable    bool       `bun:"billable,notnull"`
	Source      string     `bun:"source,notnull"`
	CreatedAt   time.Time  `bun:"created_at,notnull"`
	UpdatedAt   time.Time  `bun:"updated_at,notnull"`
}

// Running reports whether the entry's timer is still running.
func (t *TimeEntry) Running() bool { return t.EndTime == nil }

// DurationSeconds is the entry's length; nil while running.
func (t *TimeEntry) DurationSeconds() *int {
	if t.EndTime == nil {
		return nil
	}
	d := int(t.EndTime.Sub(t.StartTime) / time.Second)
	return &d
}

const timeEntryColumns = `t.id, t.tenant_id, t.employee_id, t.project_id, t.task_id, t.start_time, t.end_time,
	t.description, t.billable, t.source, t.created_at, t.updated_at`

func scanTimeEntry(row pgx.Row) (*TimeEntry, error) {
	var t TimeEntry
	err := row.Scan(&t.ID, &t.TenantID, &t.EmployeeID, &t.ProjectID, &t.TaskID, &t.StartTime, &t.EndTime,
		&t.Description, &t.Billable, &t.Source, &t.CreatedAt, &t.UpdatedAt)
	return &t, err
}

// TimeEntriesByIDs returns the scope's time entries among ids, in any order.
func (s *Store) TimeEntriesByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) ([]*TimeEntry, error) {
	return collect(ctx, s.pool, "time entries by ids",
		`SELECT `+timeEntryColumns+` FROM time_entries t WHERE t.tenant_id = $1 AND t.id = ANY($2)`,
		[]any{scope.TenantID, ids}, scanTimeEntry)
}

// TimeRange is a half-open interval on start_time; zero ends are unbounded.
type TimeRange struct {
	From time.Time
	To   time.Time
}

// bounds turns open ends into ±infinity, so one statement (and one generic plan) serves every
// combination; runtime partition pruning still applies to the bound values.
func (r TimeRange) bounds() (from, to any) {
	from, to = "-infinity", "infinity"
	if !r.From.IsZero() {
		from = r.From
	}
	if !r.To.IsZero() {
		to = r.To
	}
	return from, to
}

// LatestTimeEntriesByEmployeeIDs returns, for each employee, their latest `limit` entries that
// started within r, newest first, in one statement for all employees.
func (s *Store) LatestTimeEntriesByEmployeeIDs(ctx context.Context, scope Scope, employeeIDs []uuid.UUID, r TimeRange, limit int) ([]*TimeEntry, error) {
	from, to := r.bounds()
	return collect(ctx, s.pool, "latest time entries",
		`SELECT `+timeEntryColumns+` FROM unnest($2::uuid[]) AS k(employee_id)
		CROSS JOIN LATERAL (
			SELECT * FROM time_entries te
			WHERE te.tenant_id = $1 AND te.employee_id = k.employee_id
			  AND te.start_time >= $3::timestamptz AND te.start_time < $4::timestamptz
			ORDER BY te.start_time DESC, te.id DESC
			LIMIT $5) t`,
		[]any{scope.TenantID, employeeIDs, from, to, limit}, scanTimeEntry)
}

// ListTimeEntriesParams narrows ListTimeEntries.
type ListTimeEntriesParams struct {
	EmployeeID *uuid.UUID
	ProjectID  *uuid.UUID
	Range      TimeRange
}

type timeEntryCursor struct {
	Start time.Time `json:"s"`
	ID    uuid.UUID `json:"i"`
}

// TimeEntryCursor is the opaque cursor of t in ListTimeEntries' order.
func TimeEntryCursor(t *TimeEntry) string { return encodeCursor(timeEntryCursor{t.StartTime, t.ID}) }

func (f ListTimeEntriesParams) where(scope Scope) (*where, error) {
	if !f.Range.From.IsZero() && !f.Range.To.IsZero() && !f.Range.To.After(f.Range.From) {
		return nil, apperr.Invalid("to", "to must be after from")
	}
	w := &where{}
	w.add("t.tenant_id = ?", scope.TenantID)
	if f.EmployeeID != nil {
		w.add("t.employee_id = ?", *f.EmployeeID)
	}
	if f.ProjectID != nil {
		w.add("t.project_id = ?", *f.ProjectID)
	}
	if !f.Range.From.IsZero() {
		w.add("t.start_time >= ?", f.Range.From)
	}
	if !f.Range.To.IsZero() {
		w.add("t.start_time < ?", f.Range.To)
	}
	return w, nil
}

// ListTimeEntries returns a page of the scope's time entries, newest first.
func (s *Store) ListTimeEntries(ctx context.Context, scope Scope, filter ListTimeEntriesParams, page PageParams) (Page[*TimeEntry], error) {
	if err := page.validate(); err != nil {
		return Page[*TimeEntry]{}, err
	}
	w, err := filter.where(scope)
	if err != nil {
		return Page[*TimeEntry]{}, err
	}
	if page.After != "" {
		var c timeEntryCursor
		if err := decodeCursor(page.After, &c); err != nil {
			return Page[*TimeEntry]{}, err
		}
		w.add("(t.start_time, t.id) < (?, ?)", c.Start, c.ID)
	}
	limit := w.arg(page.First + 1)
	rows, err := collect(ctx, s.pool, "time entries",
		`SELECT `+timeEntryColumns+` FROM time_entries t WHERE `+w.String()+
			` ORDER BY t.start_time DESC, t.id DESC LIMIT `+limit, w.args, scanTimeEntry)
	return trimPage(rows, page.First), err
}

// CountTimeEntries counts the scope's time entries matching filter.
func (s *Store) CountTimeEntries(ctx context.Context, scope Scope, filter ListTimeEntriesParams) (int, error) {
	w, err := filter.where(scope)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM time_entries t WHERE `+w.String(), w.args...).Scan(&n)
	return n, translate(err, "count time entries")
}

// TimeEntryParams are the writable fields of a time entry; nil leaves a field unchanged.
type TimeEntryParams struct {
	EmployeeID  *uuid.UUID
	ProjectID   *uuid.UUID
	TaskID      *uuid.UUID
	ClearTask   bool
	StartTime   *time.Time
	EndTime     *time.Time
	Description *string
	Billable    *bool
}

func (p TimeEntryParams) apply(t *TimeEntry) error {
	if p.ProjectID != nil {
		t.ProjectID = *p.ProjectID
	}
	if p.TaskID != nil {
		t.TaskID = p.TaskID
	}
	if p.ClearTask {
		t.TaskID = nil
	}
	if p.StartTime != nil {
		t.StartTime = p.StartTime.UTC().Truncate(time.Microsecond)
	}
	if p.EndTime != nil {
		end := p.EndTime.UTC().Truncate(time.Microsecond)
		t.EndTime = &end
	}
	if p.Description != nil {
		if len(*p.Description) > 2000 {
			return apperr.Invalid("description", "description must be at most 2000 characters")
		}
		t.Description = strings.TrimSpace(*p.Description)
	}
	if p.Billable != nil {
		t.Billable = *p.Billable
	}
	return nil
}

// validate checks an entry's times against now and its references against the database: the
// employee must be a member of the project and the task must belong to it.
func (s *Store) validateTimeEntry(ctx context.Context, scope Scope, t *TimeEntry) error {
	now := s.now()
	if t.StartTime.After(now.Add(MaxClockSkew)) {
		return apperr.Invalid("startTime", "startTime cannot be in the future")
	}
	if t.StartTime.Before(now.Add(-OldestEntryAge)) {
		return apperr.Invalid("startTime", "startTime is more than 5 years ago")
	}
	if t.EndTime != nil {
		if !t.EndTime.After(t.StartTime) {
			return apperr.Invalid("endTime", "endTime must be after startTime")
		}
		if t.EndTime.Sub(t.StartTime) > MaxEntryDuration {
			return apperr.Invalid("endTime", "a time entry can last at most 24 hours")
		}
		if t.EndTime.After(now.Add(MaxClockSkew)) {
			return apperr.Invalid("endTime", "endTime cannot be in the future")
		}
	}
	if err := s.mustExist(ctx, scope, "employees", t.EmployeeID, "employeeId", "employee"); err != nil {
		return err
	}
	if err := s.mustExist(ctx, scope, "projects", t.ProjectID, "projectId", "project"); err != nil {
		return err
	}
	member, err := s.isMember(ctx, scope, t.ProjectID, t.EmployeeID)
	if err != nil {
		return err
	}
	if !member {
		return apperr.Invalid("projectId", "the employee is not a member of this project")
	}
	if t.TaskID != nil {
		ok, err := s.db.NewSelect().Table("tasks").
			Where("tenant_id = ? AND id = ? AND project_id = ?", scope.TenantID, *t.TaskID, t.ProjectID).Exists(ctx)
		if err != nil {
			return translate(err, "task")
		}
		if !ok {
			return apperr.Invalid("taskId", "the task does not exist in this project")
		}
	}
	return nil
}

// CreateTimeEntry records finished time. EmployeeID, ProjectID, StartTime and EndTime are required.
func (s *Store) CreateTimeEntry(ctx context.Context, scope Scope, p TimeEntryParams) (*TimeEntry, error) {
	return inTx(ctx, s, func(tx *Store) (*TimeEntry, error) { return tx.createTimeEntry(ctx, scope, p) })
}

func (s *Store) createTimeEntry(ctx context.Context, scope Scope, p TimeEntryParams) (*TimeEntry, error) {
	if p.EmployeeID == nil || p.ProjectID == nil || p.StartTime == nil || p.EndTime == nil {
		return nil, apperr.Invalid("input", "employeeId, projectId, startTime and endTime are required")
	}
	now := s.now().UTC()
	t := &TimeEntry{TenantID: scope.TenantID, ID: newID(), EmployeeID: *p.EmployeeID, Billable: true,
		Source: SourceManual, CreatedAt: now, UpdatedAt: now}
	if err := p.apply(t); err != nil {
		return nil, err
	}
	if err := s.validateTimeEntry(ctx, scope, t); err != nil {
		return nil, err
	}
	return t, s.insertTimeEntry(ctx, t)
}

func (s *Store) insertTimeEntry(ctx context.Context, t *TimeEntry) error {
	if err := s.ensurePartition(ctx, "time_entries", t.StartTime); err != nil {
		return err
	}
	_, err := s.db.NewInsert().Model(t).ExcludeColumn("duration_seconds").Exec(ctx)
	return translate(err, "time entry")
}

// timeEntryForUpdate locks one entry. Without start_time every partition's primary key index is
// probed once; entries are edited rarely enough for that to be cheap.
func (s *Store) timeEntryForUpdate(ctx context.Context, scope Scope, id uuid.UUID) (*TimeEntry, error) {
	t := new(TimeEntry)
	err := s.db.NewSelect().Model(t).Where("tenant_id = ? AND id = ?", scope.TenantID, id).For("UPDATE").Scan(ctx)
	return t, translate(err, "time entry")
}

// UpdateTimeEntry changes the fields set in p. Ending a running entry here stops its timer.
func (s *Store) UpdateTimeEntry(ctx context.Context, scope Scope, id uuid.UUID, p TimeEntryParams) (*TimeEntry, error) {
	return inTx(ctx, s, func(tx *Store) (*TimeEntry, error) { return tx.updateTimeEntry(ctx, scope, id, p) })
}

func (s *Store) updateTimeEntry(ctx context.Context, scope Scope, id uuid.UUID, p TimeEntryParams) (*TimeEntry, error) {
	t, err := s.timeEntryForUpdate(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if p.EmployeeID != nil && *p.EmployeeID != t.EmployeeID {
		return nil, apperr.Invalid("employeeId", "a time entry cannot move to another employee")
	}
	wasRunning := t.Running()
	if err := p.apply(t); err != nil {
		return nil, err
	}
	if err := s.validateTimeEntry(ctx, scope, t); err != nil {
		return nil, err
	}
	if err := s.ensurePartition(ctx, "time_entries", t.StartTime); err != nil {
		return nil, err
	}
	t.UpdatedAt = s.now().UTC()
	// The primary key includes start_time, which may be what changed: match on id alone.
	_, err = s.db.NewUpdate().Model(t).
		Column("project_id", "task_id", "start_time", "end_time", "description", "billable", "updated_at").
		Where("tenant_id = ? AND id = ?", scope.TenantID, id).Exec(ctx)
	if err != nil {
		return nil, translate(err, "time entry")
	}
	if wasRunning && !t.Running() {
		if err := s.clearRunningTimer(ctx, scope, t.EmployeeID); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// DeleteTimeEntry removes an entry (and its running timer, if it is one).
func (s *Store) DeleteTimeEntry(ctx context.Context, scope Scope, id uuid.UUID) (*TimeEntry, error) {
	return inTx(ctx, s, func(tx *Store) (*TimeEntry, error) { return tx.deleteTimeEntry(ctx, scope, id) })
}

func (s *Store) deleteTimeEntry(ctx context.Context, scope Scope, id uuid.UUID) (*TimeEntry, error) {
	t, err := s.timeEntryForUpdate(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.NewDelete().Model(t).Where("tenant_id = ? AND id = ?", scope.TenantID, id).Exec(ctx); err != nil {
		return nil, translate(err, "time entry")
	}
	if t.Running() {
		if err := s.clearRunningTimer(ctx, scope, t.EmployeeID); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// StartTimer starts a running entry for an employee. An employee has at most one running timer:
// a second start fails with CONFLICT, whatever the concurrency, because the guard row's primary
// key decides. Run it in a transaction.
func (s *Store) StartTimer(ctx context.Context, scope Scope, p TimeEntryParams) (*TimeEntry, error) {
	return inTx(ctx, s, func(tx *Store) (*TimeEntry, error) { return tx.startTimer(ctx, scope, p) })
}

func (s *Store) startTimer(ctx context.Context, scope Scope, p TimeEntryParams) (*TimeEntry, error) {
	if p.EmployeeID == nil || p.ProjectID == nil {
		return nil, apperr.Invalid("input", "employeeId and projectId are required")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	p.StartTime, p.EndTime = &now, nil
	t := &TimeEntry{TenantID: scope.TenantID, ID: newID(), EmployeeID: *p.EmployeeID, Billable: true,
		Source: SourceTimer, CreatedAt: now, UpdatedAt: now}
	if err := p.apply(t); err != nil {
		return nil, err
	}
	if err := s.validateTimeEntry(ctx, scope, t); err != nil {
		return nil, err
	}
	res, err := s.db.NewRaw(`INSERT INTO running_timers (tenant_id, employee_id, time_entry_id, start_time)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, scope.TenantID, t.EmployeeID, t.ID, t.StartTime).Exec(ctx)
	if err != nil {
		return nil, translate(err, "running timer")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, apperr.New(apperr.Conflict, "a timer is already running for this employee; stop it first")
	}
	return t, s.insertTimeEntry(ctx, t)
}

// StopTimer ends the employee's running timer now. A timer left running longer than
// MaxEntryDuration is closed at that bound, so a forgotten timer cannot record days of work.
func (s *Store) StopTimer(ctx context.Context, scope Scope, employeeID uuid.UUID) (*TimeEntry, error) {
	return inTx(ctx, s, func(tx *Store) (*TimeEntry, error) { return tx.stopTimer(ctx, scope, employeeID) })
}

func (s *Store) stopTimer(ctx context.Context, scope Scope, employeeID uuid.UUID) (*TimeEntry, error) {
	var entryID uuid.UUID
	var start time.Time
	err := s.db.NewRaw(`DELETE FROM running_timers WHERE tenant_id = ? AND employee_id = ?
		RETURNING time_entry_id, start_time`, scope.TenantID, employeeID).Scan(ctx, &entryID, &start)
	if err != nil {
		err = translate(err, "running timer")
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "no timer is running for this employee")
		}
		return nil, err
	}
	end := s.now().UTC().Truncate(time.Microsecond)
	if end.Sub(start) > MaxEntryDuration {
		end = start.Add(MaxEntryDuration)
	}
	if !end.After(start) {
		end = start.Add(time.Second)
	}
	t := new(TimeEntry)
	err = s.db.NewUpdate().Model(t).Set("end_time = ?", end).Set("updated_at = ?", s.now().UTC()).
		Where("tenant_id = ? AND id = ? AND start_time = ?", scope.TenantID, entryID, start).
		Returning("*").Scan(ctx)
	return t, translate(err, "time entry")
}

func (s *Store) clearRunningTimer(ctx context.Context, scope Scope, employeeID uuid.UUID) error {
	_, err := s.db.NewRaw(`DELETE FROM running_timers WHERE tenant_id = ? AND employee_id = ?`, scope.TenantID, employeeID).Exec(ctx)
	return translate(err, "running timer")
}

// ensurePartition makes sure the month holding at has a partition of table. Months already seen
// by this process are remembered, so the common case costs nothing.
func (s *Store) ensurePartition(ctx context.Context, table string, at time.Time) error {
	month := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
	key := table + month.Format("2006-01")
	if _, ok := s.partitions.Load(key); ok {
		return nil
	}
	if _, err := s.db.NewRaw(`SELECT ensure_monthly_partitions(?::regclass, ?::date, ?::date)`, table, month, month).Exec(ctx); err != nil {
		return fmt.Errorf("ensure %s partition for %s: %w", table, month.Format("2006-01"), err)
	}
	s.partitions.Store(key, struct{}{})
	return nil
}

// EnsurePartitionsAhead creates the monthly partitions of every partitioned table from the
// previous month to `months` ahead (start-up and the periodic maintenance job).
func (s *Store) EnsurePartitionsAhead(ctx context.Context, months int) (int, error) {
	now := s.now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	last := first.AddDate(0, months+1, 0)
	var created int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(ensure_monthly_partitions(p::regclass, $1::date, $2::date)), 0)::int
		FROM unnest(ARRAY['time_entries', 'activity_samples', 'screenshots']) AS p`, first, last).Scan(&created)
	if err != nil {
		return 0, fmt.Errorf("ensure partitions ahead: %w", err)
	}
	return created, nil
}
