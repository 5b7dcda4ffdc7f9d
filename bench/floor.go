package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/workingtracker/api/store"
)

// This file is the only place outside store/ that speaks SQL: the floor's hand-written
// statements, the fixture lookups, and the pg_stat_statements probes.

// Floor fetches each workload's data the way a careful hand-written handler would: the root
// rows, then one batched statement per relationship, on one pooled connection per request,
// selecting only the columns the response needs. Statements go through pgx's default statement
// cache (prepared once per connection), and the pool is opened by store.Open with the server's
// options, so it runs with the same settings, plan_cache_mode=force_generic_plan included.
type Floor struct {
	store    *store.Store
	pool     *pgxpool.Pool
	tenantID uuid.UUID
}

// OpenFloor opens the floor's own pool with opts, the options the server's store was opened with.
func OpenFloor(ctx context.Context, databaseURL string, opts store.Opts, tenantID uuid.UUID) (*Floor, error) {
	s, err := store.Open(ctx, databaseURL, opts)
	if err != nil {
		return nil, fmt.Errorf("open floor pool: %w", err)
	}
	return &Floor{store: s, pool: s.Pool(), tenantID: tenantID}, nil
}

// Close releases the floor's connections.
func (f *Floor) Close() { f.store.Close() }

// Fixture is the data the workloads cycle through.
type Fixture struct {
	TenantID uuid.UUID
	AdminID  uuid.UUID
	// EmployeeIDs are all of the tenant's employees, in id order (a random order, ids being
	// random), so consecutive requests touch unrelated rows.
	EmployeeIDs []uuid.UUID
	// MonthFrom and MonthTo bound the last whole month with data: [MonthFrom, MonthTo).
	MonthFrom, MonthTo time.Time
}

func (f *Floor) fixture(ctx context.Context, adminID uuid.UUID) (Fixture, error) {
	fx := Fixture{TenantID: f.tenantID, AdminID: adminID}
	rows, _ := f.pool.Query(ctx, `SELECT id FROM employees WHERE tenant_id = $1 ORDER BY id`, f.tenantID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fx, fmt.Errorf("list employees: %w", err)
	}
	if len(ids) == 0 {
		return fx, errors.New("the tenant has no employees: seed it with `workingtracker seed --scale large`")
	}
	fx.EmployeeIDs = ids
	var latest pgtype.Timestamptz
	if err := f.pool.QueryRow(ctx, `SELECT max(start_time) FROM time_entries WHERE tenant_id = $1`, f.tenantID).Scan(&latest); err != nil {
		return fx, fmt.Errorf("find the latest time entry: %w", err)
	}
	if !latest.Valid {
		return fx, errors.New("the tenant has no time entries: seed it with `workingtracker seed --scale large`")
	}
	// The latest entry's month may have just begun; the one before it is complete.
	t := latest.Time.UTC()
	fx.MonthTo = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	fx.MonthFrom = fx.MonthTo.AddDate(0, -1, 0)
	return fx, nil
}

// EmployeesPage is workload 1: the first page of employees by name, each with department,
// projects, and latest time entries with their projects. Five statements.
func (f *Floor) EmployeesPage(ctx context.Context) (*employeesPageData, error) {
	page := make([]pageEmployee, 0, employeesPageSize)
	err := f.pool.AcquireFunc(ctx, func(conn *pgxpool.Conn) error {
		var (
			id, dept     pgtype.UUID
			name         string
			employeeIDs  = make([]uuid.UUID, 0, employeesPageSize)
			departmentOf = make([]pgtype.UUID, 0, employeesPageSize)
		)
		rows, _ := conn.Query(ctx, `SELECT id, name, department_id FROM employees WHERE tenant_id = $1
			ORDER BY name, id LIMIT `+strconv.Itoa(employeesPageSize), f.tenantID)
		if _, err := pgx.ForEachRow(rows, []any{&id, &name, &dept}, func() error {
			page = append(page, pageEmployee{ID: id.Bytes, Name: name, Projects: []idName{},
				TimeEntries: make([]latestEntry, 0, latestEntriesLimit)})
			employeeIDs = append(employeeIDs, id.Bytes)
			departmentOf = append(departmentOf, dept)
			return nil
		}); err != nil {
			return fmt.Errorf("employees page: %w", err)
		}
		index := make(map[uuid.UUID]*pageEmployee, len(page))
		for i := range page {
			index[page[i].ID] = &page[i]
		}

		departmentIDs := make(idSet)
		for _, d := range departmentOf {
			if d.Valid {
				departmentIDs.add(d.Bytes)
			}
		}
		departments, err := idNames(ctx, conn, `SELECT id, name FROM departments WHERE tenant_id = $1 AND id = ANY($2)`,
			f.tenantID, departmentIDs.slice())
		if err != nil {
			return fmt.Errorf("departments: %w", err)
		}
		for i, d := range departmentOf {
			if d.Valid {
				page[i].Department = &named{Name: departments[d.Bytes].Name}
			}
		}

		var project idName
		rows, _ = conn.Query(ctx, `SELECT pm.employee_id, p.id, p.name
			FROM project_members pm JOIN projects p ON p.tenant_id = pm.tenant_id AND p.id = pm.project_id
			WHERE pm.tenant_id = $1 AND pm.employee_id = ANY($2)
			ORDER BY pm.employee_id, p.name, p.id`, f.tenantID, employeeIDs)
		if _, err := pgx.ForEachRow(rows, []any{&id, binary(&project.ID), &project.Name}, func() error {
			e := index[id.Bytes]
			e.Projects = append(e.Projects, project)
			return nil
		}); err != nil {
			return fmt.Errorf("projects of employees: %w", err)
		}

		var (
			entry      latestEntry
			duration   pgtype.Int4
			projectIDs = make(idSet)
		)
		// One probe per employee into the (tenant_id, employee_id, start_time DESC, id DESC)
		// index, reading the newest rows only, never an employee's whole history.
		rows, _ = conn.Query(ctx, `SELECT t.employee_id, t.id, t.project_id, t.start_time, t.duration_seconds
			FROM unnest($2::uuid[]) AS k(employee_id)
			CROSS JOIN LATERAL (
				SELECT te.employee_id, te.id, te.project_id, te.start_time, te.duration_seconds
				FROM time_entries te
				WHERE te.tenant_id = $1 AND te.employee_id = k.employee_id
				ORDER BY te.start_time DESC, te.id DESC
				LIMIT `+strconv.Itoa(latestEntriesLimit)+`) t`, f.tenantID, employeeIDs)
		if _, err := pgx.ForEachRow(rows, []any{&id, binary(&entry.ID), binary(&entry.projectID), &entry.StartTime, &duration}, func() error {
			e := index[id.Bytes]
			entry.StartTime = entry.StartTime.UTC()
			entry.DurationSeconds = nil
			if duration.Valid {
				d := int(duration.Int32)
				entry.DurationSeconds = &d
			}
			e.TimeEntries = append(e.TimeEntries, entry)
			projectIDs.add(entry.projectID)
			return nil
		}); err != nil {
			return fmt.Errorf("latest time entries: %w", err)
		}

		projects, err := idNames(ctx, conn, `SELECT id, name FROM projects WHERE tenant_id = $1 AND id = ANY($2)`,
			f.tenantID, projectIDs.slice())
		if err != nil {
			return fmt.Errorf("projects of entries: %w", err)
		}
		for i := range page {
			for j := range page[i].TimeEntries {
				te := &page[i].TimeEntries[j]
				te.Project = projects[te.projectID]
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &employeesPageData{Employees: employeeNodes{Nodes: page}}, nil
}

// Employee is workload 2: one employee with department and manager names. Three statements,
// or fewer when a reference is null.
func (f *Floor) Employee(ctx context.Context, id uuid.UUID) (*employeeData, error) {
	var data employeeData
	err := f.pool.AcquireFunc(ctx, func(conn *pgxpool.Conn) error {
		e := employeeDetail{ID: id}
		var dept, manager pgtype.UUID
		err := conn.QueryRow(ctx, `SELECT name, email, department_id, manager_id FROM employees
			WHERE tenant_id = $1 AND id = $2`, f.tenantID, id).Scan(&e.Name, &e.Email, &dept, &manager)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("employee: %w", err)
		}
		if dept.Valid {
			if e.Department, err = nameOf(ctx, conn, `SELECT name FROM departments WHERE tenant_id = $1 AND id = $2`,
				f.tenantID, dept.Bytes); err != nil {
				return fmt.Errorf("department: %w", err)
			}
		}
		if manager.Valid {
			if e.Manager, err = nameOf(ctx, conn, `SELECT name FROM employees WHERE tenant_id = $1 AND id = $2`,
				f.tenantID, manager.Bytes); err != nil {
				return fmt.Errorf("manager: %w", err)
			}
		}
		data.Employee = &e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &data, nil
}

// MonthEntries is workload 3: an employee's entries that started in [from, to), newest first,
// with project names and task titles. Three statements.
func (f *Floor) MonthEntries(ctx context.Context, employeeID uuid.UUID, from, to time.Time) (*monthEntriesData, error) {
	nodes := make([]monthEntry, 0, monthEntriesLimit)
	err := f.pool.AcquireFunc(ctx, func(conn *pgxpool.Conn) error {
		var (
			entry      monthEntry
			end        pgtype.Timestamptz
			task       pgtype.UUID
			projectIDs = make(idSet)
			taskIDs    = make(idSet)
		)
		rows, _ := conn.Query(ctx, `SELECT id, project_id, task_id, start_time, end_time FROM time_entries
			WHERE tenant_id = $1 AND employee_id = $2 AND start_time >= $3 AND start_time < $4
			ORDER BY start_time DESC, id DESC LIMIT `+strconv.Itoa(monthEntriesLimit),
			f.tenantID, employeeID, from, to)
		if _, err := pgx.ForEachRow(rows, []any{binary(&entry.ID), binary(&entry.projectID), &task, &entry.StartTime, &end}, func() error {
			entry.StartTime = entry.StartTime.UTC()
			entry.EndTime = nil
			if end.Valid {
				t := end.Time.UTC()
				entry.EndTime = &t
			}
			entry.taskID = task
			projectIDs.add(entry.projectID)
			if task.Valid {
				taskIDs.add(task.Bytes)
			}
			nodes = append(nodes, entry)
			return nil
		}); err != nil {
			return fmt.Errorf("time entries: %w", err)
		}

		projects, err := idNames(ctx, conn, `SELECT id, name FROM projects WHERE tenant_id = $1 AND id = ANY($2)`,
			f.tenantID, projectIDs.slice())
		if err != nil {
			return fmt.Errorf("projects: %w", err)
		}
		tasks, err := idNames(ctx, conn, `SELECT id, title FROM tasks WHERE tenant_id = $1 AND id = ANY($2)`,
			f.tenantID, taskIDs.slice())
		if err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
		for i := range nodes {
			n := &nodes[i]
			if p := projects[n.projectID]; p != nil {
				n.Project = &named{Name: p.Name}
			}
			if n.taskID.Valid {
				if t := tasks[n.taskID.Bytes]; t != nil {
					n.Task = &titled{Title: t.Name}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &monthEntriesData{TimeEntries: monthEntryNodes{Nodes: nodes}}, nil
}

// ProjectsPage is workload 4: the first page of projects by name, with members and the hours
// tracked on each. Three statements.
func (f *Floor) ProjectsPage(ctx context.Context) (*projectsPageData, error) {
	page := make([]pageProject, 0, projectsPageSize)
	err := f.pool.AcquireFunc(ctx, func(conn *pgxpool.Conn) error {
		var (
			p          pageProject
			projectIDs = make([]uuid.UUID, 0, projectsPageSize)
		)
		rows, _ := conn.Query(ctx, `SELECT id, name FROM projects WHERE tenant_id = $1
			ORDER BY name, id LIMIT `+strconv.Itoa(projectsPageSize), f.tenantID)
		if _, err := pgx.ForEachRow(rows, []any{binary(&p.ID), &p.Name}, func() error {
			page = append(page, pageProject{ID: p.ID, Name: p.Name, Members: []idName{}})
			projectIDs = append(projectIDs, p.ID)
			return nil
		}); err != nil {
			return fmt.Errorf("projects page: %w", err)
		}
		index := make(map[uuid.UUID]*pageProject, len(page))
		for i := range page {
			index[page[i].ID] = &page[i]
		}

		var (
			projectID uuid.UUID
			member    idName
		)
		rows, _ = conn.Query(ctx, `SELECT pm.project_id, e.id, e.name
			FROM project_members pm JOIN employees e ON e.tenant_id = pm.tenant_id AND e.id = pm.employee_id
			WHERE pm.tenant_id = $1 AND pm.project_id = ANY($2)
			ORDER BY pm.project_id, e.name, e.id`, f.tenantID, projectIDs)
		if _, err := pgx.ForEachRow(rows, []any{binary(&projectID), binary(&member.ID), &member.Name}, func() error {
			p := index[projectID]
			p.Members = append(p.Members, member)
			return nil
		}); err != nil {
			return fmt.Errorf("members: %w", err)
		}

		// The hours as the API reads them by default (totalHours(live: false)): the project
		// totals view, refreshed after seeding.
		var seconds int64
		rows, _ = conn.Query(ctx, `SELECT project_id, total_seconds FROM report_project_totals
			WHERE tenant_id = $1 AND project_id = ANY($2) AND total_seconds > 0`, f.tenantID, projectIDs)
		if _, err := pgx.ForEachRow(rows, []any{binary(&projectID), &seconds}, func() error {
			index[projectID].TotalHours = float64(seconds) / 3600
			return nil
		}); err != nil {
			return fmt.Errorf("tracked time: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &projectsPageData{Projects: projectNodes{Nodes: page}}, nil
}

// idNames runs a statement selecting (id, text) for the ids given as $2 and indexes the rows by
// id. An empty set is answered without a round trip.
func idNames(ctx context.Context, conn *pgxpool.Conn, sql string, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]*idName, error) {
	out := make(map[uuid.UUID]*idName, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var row idName
	rows, _ := conn.Query(ctx, sql, tenantID, ids)
	_, err := pgx.ForEachRow(rows, []any{binary(&row.ID), &row.Name}, func() error {
		v := row
		out[v.ID] = &v
		return nil
	})
	return out, err
}

// nameOf runs a statement selecting one name by id. A missing row is nil, as GraphQL's null.
func nameOf(ctx context.Context, conn *pgxpool.Conn, sql string, tenantID, id uuid.UUID) (*named, error) {
	var n named
	err := conn.QueryRow(ctx, sql, tenantID, id).Scan(&n.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// binary makes pgx decode a uuid column straight into id. Scanned as a uuid.UUID, which
// implements sql.Scanner and so takes precedence, each value would be formatted as text by pgx
// and parsed back by the uuid package.
func binary(id *uuid.UUID) *[16]byte { return (*[16]byte)(id) }

// idSet collects distinct ids for an "= ANY($n)" argument.
type idSet map[uuid.UUID]struct{}

func (s idSet) add(id uuid.UUID) { s[id] = struct{}{} }

func (s idSet) slice() []uuid.UUID {
	out := make([]uuid.UUID, 0, len(s))
	for id := range s {
		out = append(out, id)
	}
	return out
}

// StatementStat is one statement's pg_stat_statements counters over a phase of the run.
type StatementStat struct {
	QueryID  int64
	Query    string
	Calls    int64
	Plans    int64
	Rows     int64
	ExecTime time.Duration // total
	PlanTime time.Duration // total
}

// statStatements reads pg_stat_statements over a connection of its own, so its probes never
// share a pool (or a statement cache) with the connections being measured.
type statStatements struct {
	conn *pgx.Conn
}

// openStatStatements creates the extension if needed (the bench connects as a superuser to a
// cluster that preloads the library) and checks that it collects, planning included.
func openStatStatements(ctx context.Context, databaseURL string) (*statStatements, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("create extension pg_stat_statements: %w", err)
	}
	// Reading the view fails unless the library is in shared_preload_libraries.
	var (
		track   string
		entries int64
	)
	if err := conn.QueryRow(ctx, `SELECT current_setting('pg_stat_statements.track_planning'),
		(SELECT count(*) FROM pg_stat_statements)`).Scan(&track, &entries); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	if track != "on" {
		conn.Close(ctx)
		return nil, errors.New("pg_stat_statements.track_planning is off, so plans are not counted")
	}
	return &statStatements{conn: conn}, nil
}

func (s *statStatements) close(ctx context.Context) error { return s.conn.Close(ctx) }

func (s *statStatements) reset(ctx context.Context) error {
	_, err := s.conn.Exec(ctx, `SELECT pg_stat_statements_reset()`)
	return err
}

// snapshot returns the counters of this database's top-level statements since the last reset,
// leaving out the probes' own.
func (s *statStatements) snapshot(ctx context.Context) ([]StatementStat, error) {
	rows, _ := s.conn.Query(ctx, `SELECT queryid, query, calls, plans, rows, total_exec_time, total_plan_time
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND toplevel AND query NOT LIKE '%pg_stat_statements%'`)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (StatementStat, error) {
		var st StatementStat
		var execMS, planMS float64
		err := row.Scan(&st.QueryID, &st.Query, &st.Calls, &st.Plans, &st.Rows, &execMS, &planMS)
		st.ExecTime = time.Duration(execMS * float64(time.Millisecond))
		st.PlanTime = time.Duration(planMS * float64(time.Millisecond))
		return st, err
	})
}
