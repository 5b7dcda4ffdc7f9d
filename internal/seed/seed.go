// Package seed fills a database with deterministic demo data: two tenants (so isolation can be
// tried), departments, a management hierarchy, projects with members and tasks, and months of
// time entries. The same scale and anchor day always produce the same rows.
package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Scale sizes the demo tenant.
type Scale struct {
	Name          string
	Employees     int
	Projects      int
	Months        int
	EntriesPerDay float64 // average entries per employee per working day
}

// Scales by name.
var Scales = map[string]Scale{
	"small": {Name: "small", Employees: 40, Projects: 8, Months: 3, EntriesPerDay: 2},
	// ~2,000 employees × ~250 working days × 2 ≈ 1,000,000 time entries over 12 months.
	"large": {Name: "large", Employees: 2000, Projects: 500, Months: 12, EntriesPerDay: 2},
}

// Tenants seeded: the demo tenant at the chosen scale and a second, small one.
const (
	DemoTenant  = "acme"
	OtherTenant = "globex"
)

// Result counts what was written.
type Result struct {
	Tenants, Employees, Projects, Tasks, TimeEntries int
}

// Run seeds the database. It refuses to seed over an existing demo tenant (returns ok=false).
func Run(ctx context.Context, pool *pgxpool.Pool, scale Scale, anchor time.Time) (res Result, ok bool, err error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE slug = $1)`, DemoTenant).Scan(&exists); err != nil {
		return res, false, fmt.Errorf("check existing seed: %w", err)
	}
	if exists {
		return res, false, nil
	}
	anchor = time.Date(anchor.Year(), anchor.Month(), anchor.Day(), 0, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `SELECT ensure_monthly_partitions(p::regclass, $1::date, $2::date)
		FROM unnest(ARRAY['time_entries', 'activity_samples', 'screenshots']) AS p`,
		anchor.AddDate(0, -scale.Months-1, 0), anchor.AddDate(0, 3, 0)); err != nil {
		return res, false, fmt.Errorf("create partitions: %w", err)
	}
	small := Scales["small"]
	for i, t := range []struct {
		slug, name string
		scale      Scale
	}{{DemoTenant, "Acme Corporation", scale}, {OtherTenant, "Globex Inc.", small}} {
		g := &generator{rng: rand.New(rand.NewPCG(uint64(i+1), 42)), anchor: anchor, scale: t.scale}
		if err := g.tenant(ctx, pool, t.slug, t.name, &res); err != nil {
			return res, false, fmt.Errorf("seed tenant %s: %w", t.slug, err)
		}
	}
	// Fresh statistics and visibility maps: plans and index-only scans are right from the start.
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) tenants, departments, employees, projects, project_members, tasks, time_entries`); err != nil {
		return res, false, fmt.Errorf("vacuum analyze: %w", err)
	}
	// A bulk import refreshes the report views (the periodic job schedules the next refresh).
	if _, err := pool.Exec(ctx, `SELECT count(*) FROM refresh_report_views(NULL)`); err != nil {
		return res, false, fmt.Errorf("refresh report views: %w", err)
	}
	return res, true, nil
}

type generator struct {
	rng    *rand.Rand
	anchor time.Time
	scale  Scale
}

func (g *generator) id() uuid.UUID {
	var u uuid.UUID
	for i := 0; i < 16; i += 8 {
		v := g.rng.Uint64()
		for j := 0; j < 8; j++ {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

var (
	firstNames = []string{"Ada", "Alan", "Barbara", "Brian", "Claude", "Donald", "Edsger", "Frances", "Grace", "Hedy",
		"Ivan", "John", "Katherine", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tim", "Whitfield", "Yukihiro"}
	lastNames = []string{"Lovelace", "Turing", "Liskov", "Kernighan", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper",
		"Lamarr", "Sutherland", "McCarthy", "Johnson", "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman", "Goldwasser",
		"Berners-Lee", "Diffie", "Matsumoto"}
	departmentNames = []string{"Engineering", "Design", "Sales", "Marketing", "Finance", "People", "Support", "Operations"}
	projectWords    = []string{"Apollo", "Borealis", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Horizon", "Indigo",
		"Juniper", "Keystone", "Lumen", "Meridian", "Nimbus", "Orion", "Pioneer", "Quasar", "Redwood", "Summit", "Tundra"}
	taskVerbs = []string{"Design", "Implement", "Review", "Test", "Document", "Deploy", "Refactor", "Measure"}
	taskNouns = []string{"login flow", "billing export", "timesheet view", "reporting API", "mobile sync", "audit trail",
		"onboarding", "search", "notifications", "dashboard"}
)

type employeeRow struct {
	id      uuid.UUID
	manager *uuid.UUID
	role    string
}

func (g *generator) tenant(ctx context.Context, pool *pgxpool.Pool, slug, name string, res *Result) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	tenantID := g.id()
	created := g.anchor.AddDate(0, -g.scale.Months-1, 0)
	if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, $2, $3, $4)`,
		tenantID, slug, name, created); err != nil {
		return fmt.Errorf("insert tenant: %w", err)
	}
	res.Tenants++
	// Row-level security admits only rows of the tenant the transaction names.
	if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenantID.String()); err != nil {
		return fmt.Errorf("set tenant: %w", err)
	}

	deptIDs := make([]uuid.UUID, len(departmentNames))
	var deptRows [][]any
	for i, d := range departmentNames {
		deptIDs[i] = g.id()
		deptRows = append(deptRows, []any{tenantID, deptIDs[i], d, created})
	}
	if err := copyRows(ctx, tx, "departments", []string{"tenant_id", "id", "name", "created_at"}, deptRows); err != nil {
		return err
	}

	// Roles: one admin, two HR, one auditor, a manager per ~8 people, the rest employees.
	// Managers report to the admin; everyone else to a manager.
	emps := make([]employeeRow, g.scale.Employees)
	var managers []uuid.UUID
	var empRows [][]any
	for i := range emps {
		e := employeeRow{id: g.id()}
		switch {
		case i == 0:
			e.role = "ADMIN"
		case i <= 2:
			e.role = "HR"
		case i == 3:
			e.role = "AUDITOR"
		case i%8 == 4:
			e.role = "MANAGER"
		default:
			e.role = "EMPLOYEE"
		}
		if i > 0 {
			boss := emps[0].id
			if e.role == "EMPLOYEE" && len(managers) > 0 {
				boss = managers[g.rng.IntN(len(managers))]
			}
			e.manager = &boss
		}
		if e.role == "MANAGER" {
			managers = append(managers, e.id)
		}
		emps[i] = e
		first, last := firstNames[g.rng.IntN(len(firstNames))], lastNames[g.rng.IntN(len(lastNames))]
		rate := float64(25+g.rng.IntN(100)) + 0.5
		status := "ACTIVE"
		if g.rng.IntN(50) == 0 && i > 3 {
			status = "ON_LEAVE"
		}
		empRows = append(empRows, []any{tenantID, e.id, deptIDs[g.rng.IntN(len(deptIDs))], e.manager,
			fmt.Sprintf("%s %s", first, last), fmt.Sprintf("%s.%s.%d@%s.example", strings.ToLower(first), strings.ToLower(last), i, slug),
			e.role, status, rate, created, created})
	}
	if err := copyRows(ctx, tx, "employees", []string{"tenant_id", "id", "department_id", "manager_id", "name", "email",
		"role", "status", "hourly_rate", "created_at", "updated_at"}, empRows); err != nil {
		return err
	}
	res.Employees += len(emps)

	projectIDs := make([]uuid.UUID, g.scale.Projects)
	tasksOf := make([][]uuid.UUID, g.scale.Projects)
	var projRows, taskRows [][]any
	for i := range projectIDs {
		projectIDs[i] = g.id()
		status := "ACTIVE"
		if g.rng.IntN(10) == 0 {
			status = []string{"PLANNED", "ON_HOLD", "COMPLETED"}[g.rng.IntN(3)]
		}
		projRows = append(projRows, []any{tenantID, projectIDs[i],
			fmt.Sprintf("%s %s %d", projectWords[i%len(projectWords)], projectWords[(i/len(projectWords)+3)%len(projectWords)], i+1),
			"Demo project", status, float64(200 + g.rng.IntN(4000)), g.rng.IntN(4) != 0, created, created})
		for t := 0; t < 3+g.rng.IntN(6); t++ {
			taskID := g.id()
			tasksOf[i] = append(tasksOf[i], taskID)
			taskRows = append(taskRows, []any{tenantID, taskID, projectIDs[i],
				fmt.Sprintf("%s %s", taskVerbs[g.rng.IntN(len(taskVerbs))], taskNouns[g.rng.IntN(len(taskNouns))]),
				"", []string{"TODO", "IN_PROGRESS", "DONE"}[g.rng.IntN(3)], float64(2 + g.rng.IntN(40)), created, created})
		}
	}
	if err := copyRows(ctx, tx, "projects", []string{"tenant_id", "id", "name", "description", "status", "budget_hours",
		"billable", "created_at", "updated_at"}, projRows); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, "tasks", []string{"tenant_id", "id", "project_id", "title", "description", "status",
		"estimate_hours", "created_at", "updated_at"}, taskRows); err != nil {
		return err
	}
	res.Projects += len(projectIDs)
	res.Tasks += len(taskRows)

	// Each employee works on 2–4 projects; entries fall on working days, 08:00–18:00 UTC.
	var memberRows [][]any
	projectsOf := make([][]int, len(emps))
	for i, e := range emps {
		seen := map[int]bool{}
		for n := 2 + g.rng.IntN(3); len(projectsOf[i]) < n && len(seen) < len(projectIDs); {
			p := g.rng.IntN(len(projectIDs))
			if seen[p] {
				continue
			}
			seen[p] = true
			projectsOf[i] = append(projectsOf[i], p)
			memberRows = append(memberRows, []any{tenantID, projectIDs[p], e.id, created})
		}
	}
	if err := copyRows(ctx, tx, "project_members", []string{"tenant_id", "project_id", "employee_id", "added_at"}, memberRows); err != nil {
		return err
	}

	entries := 0
	start := g.anchor.AddDate(0, -g.scale.Months, 0)
	src := &entrySource{g: g, tenantID: tenantID, emps: emps, projectsOf: projectsOf, projectIDs: projectIDs,
		tasksOf: tasksOf, day: start, end: g.anchor, count: &entries}
	if err := copyInto(ctx, tx, "time_entries", []string{"tenant_id", "id", "employee_id", "project_id",
		"task_id", "start_time", "end_time", "description", "billable", "source", "created_at", "updated_at"}, src); err != nil {
		return err
	}
	res.TimeEntries += entries
	return tx.Commit(ctx)
}

// entrySource streams time entries into COPY without holding a million rows in memory.
type entrySource struct {
	g          *generator
	tenantID   uuid.UUID
	emps       []employeeRow
	projectsOf [][]int
	projectIDs []uuid.UUID
	tasksOf    [][]uuid.UUID
	day, end   time.Time
	emp        int
	pending    [][]any
	row        []any
	count      *int
}

func (s *entrySource) Next() bool {
	for len(s.pending) == 0 {
		if !s.day.Before(s.end) {
			return false
		}
		s.fill()
	}
	s.row, s.pending = s.pending[0], s.pending[1:]
	*s.count++
	return true
}

// fill generates one employee-day, then moves to the next employee or day.
func (s *entrySource) fill() {
	g := s.g
	day := s.day
	if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
		e := s.emps[s.emp]
		n := int(g.scale.EntriesPerDay)
		if g.rng.Float64() < g.scale.EntriesPerDay-float64(n) {
			n++
		}
		clock := day.Add(8 * time.Hour).Add(time.Duration(g.rng.IntN(60)) * time.Minute)
		for k := 0; k < n && len(s.projectsOf[s.emp]) > 0; k++ {
			p := s.projectsOf[s.emp][g.rng.IntN(len(s.projectsOf[s.emp]))]
			var task *uuid.UUID
			if tasks := s.tasksOf[p]; len(tasks) > 0 && g.rng.IntN(3) != 0 {
				t := tasks[g.rng.IntN(len(tasks))]
				task = &t
			}
			dur := time.Duration(30+g.rng.IntN(210)) * time.Minute
			end := clock.Add(dur)
			s.pending = append(s.pending, []any{s.tenantID, g.id(), e.id, s.projectIDs[p], task, clock, end,
				"", true, "MANUAL", end, end})
			clock = end.Add(time.Duration(g.rng.IntN(30)) * time.Minute)
		}
	}
	s.emp++
	if s.emp == len(s.emps) {
		s.emp = 0
		s.day = s.day.AddDate(0, 0, 1)
	}
}

func (s *entrySource) Values() ([]any, error) { return s.row, nil }
func (s *entrySource) Err() error             { return nil }

func copyRows(ctx context.Context, tx pgx.Tx, table string, columns []string, rows [][]any) error {
	return copyInto(ctx, tx, table, columns, pgx.CopyFromRows(rows))
}

// copyInto bulk-loads rows into a table under row-level security, which refuses COPY: COPY
// into a temporary table of the same shape, then one INSERT … SELECT, which the policies check.
func copyInto(ctx context.Context, tx pgx.Tx, table string, columns []string, src pgx.CopyFromSource) error {
	staging := "seed_" + table
	cols := strings.Join(columns, ", ")
	if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA`,
		staging, cols, table)); err != nil {
		return fmt.Errorf("stage %s: %w", table, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{staging}, columns, src); err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM %s`, table, cols, cols, staging)); err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	_, err := tx.Exec(ctx, `DROP TABLE `+staging)
	return err
}
