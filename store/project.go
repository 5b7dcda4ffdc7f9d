package store

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/workingtracker/api/internal/apperr"
)

// Project statuses.
const (
	ProjectPlanned   = "PLANNED"
	ProjectActive    = "ACTIVE"
	ProjectOnHold    = "ON_HOLD"
	ProjectCompleted = "COMPLETED"
	ProjectArchived  = "ARCHIVED"
)

// Project is work time is tracked against.
type Project struct {
	bun.BaseModel `bun:"table:projects"`

	TenantID    uuid.UUID `bun:"tenant_id,pk,type:uuid"`
	ID          uuid.UUID `bun:"id,pk,type:uuid"`
	Name        string    `bun:"name,notnull"`
	Description string    `bun:"description,notnull"`
	Status      string    `bun:"status,notnull"`
	BudgetHours *float64  `bun:"budget_hours"`
	Billable    bool      `bun:"billable,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
	UpdatedAt   time.Time `bun:"updated_at,notnull"`
}

const projectColumns = `p.id, p.tenant_id, p.name, p.description, p.status, p.budget_hours::float8, p.billable, p.created_at, p.updated_at`

func scanProjectInto(p *Project, row pgx.Row, extra ...any) error {
	return row.Scan(append(extra, &p.ID, &p.TenantID, &p.Name, &p.Description, &p.Status, &p.BudgetHours, &p.Billable,
		&p.CreatedAt, &p.UpdatedAt)...)
}

func scanProject(row pgx.Row) (*Project, error) {
	var p Project
	return &p, scanProjectInto(&p, row)
}

// ProjectsByIDs returns the scope's projects among ids, in any order.
func (s *Store) ProjectsByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) ([]*Project, error) {
	return collect(scope.bind(ctx), s.pool, "projects by ids",
		`SELECT `+projectColumns+` FROM projects p WHERE p.tenant_id = $1 AND p.id = ANY($2)`,
		[]any{scope.TenantID, ids}, scanProject)
}

// EmployeeProject pairs an employee with a project they are a member of.
type EmployeeProject struct {
	EmployeeID uuid.UUID
	Project    *Project
}

// ProjectsByEmployeeIDs returns the first `limit` projects each employee is a member of, by name,
// in one statement for all employees.
func (s *Store) ProjectsByEmployeeIDs(ctx context.Context, scope Scope, employeeIDs []uuid.UUID, limit int) ([]EmployeeProject, error) {
	return collect(scope.bind(ctx), s.pool, "projects by employee",
		// One join and a window rather than a LATERAL per employee: an employee belongs to a
		// handful of projects, and the nested page's 50 LATERAL probes cost 2.5 ms against
		// 0.5 ms for this (pgbench, the large seed). Project.members keeps its LATERAL: there
		// the lists are long and the limit saves the reading.
		`SELECT p.employee_id, `+projectColumns+` FROM (
			SELECT pm.employee_id, p.*, row_number() OVER (PARTITION BY pm.employee_id ORDER BY p.name, p.id) AS rank
			FROM project_members pm JOIN projects p ON p.tenant_id = pm.tenant_id AND p.id = pm.project_id
			WHERE pm.tenant_id = $1 AND pm.employee_id = ANY($2)) p
		WHERE p.rank <= $3
		ORDER BY p.employee_id, p.rank`,
		[]any{scope.TenantID, employeeIDs, limit}, func(row pgx.Row) (EmployeeProject, error) {
			ep := EmployeeProject{Project: new(Project)}
			return ep, scanProjectInto(ep.Project, row, &ep.EmployeeID)
		})
}

// ProjectSeconds is the tracked time of one project.
type ProjectSeconds struct {
	ProjectID uuid.UUID
	Seconds   int64
}

// TrackedSecondsByProjectIDs sums the finished time entries of each project that the scope
// may see: those of its Visible employees (every employee's when it is nil). Projects with no
// such time are absent.
func (s *Store) TrackedSecondsByProjectIDs(ctx context.Context, scope Scope, projectIDs []uuid.UUID) ([]ProjectSeconds, error) {
	scan := func(row pgx.Row) (ProjectSeconds, error) {
		var ps ProjectSeconds
		err := row.Scan(&ps.ProjectID, &ps.Seconds)
		return ps, err
	}
	if !scope.restricted() {
		// A statement of its own, so the tenant-wide sum keeps its index-only scan.
		return collect(scope.bind(ctx), s.pool, "project totals",
			`SELECT project_id, sum(duration_seconds)::int8 FROM time_entries
			WHERE tenant_id = $1 AND project_id = ANY($2) AND duration_seconds IS NOT NULL
			GROUP BY project_id`,
			[]any{scope.TenantID, projectIDs}, scan)
	}
	return collect(scope.bind(ctx), s.pool, "project totals within reach",
		`SELECT project_id, sum(duration_seconds)::int8 FROM time_entries
		WHERE tenant_id = $1 AND project_id = ANY($2) AND employee_id = ANY($3) AND duration_seconds IS NOT NULL
		GROUP BY project_id`,
		[]any{scope.TenantID, projectIDs, scope.Visible}, scan)
}

// ListProjectsParams narrows ListProjects.
type ListProjectsParams struct {
	Status   *string
	Billable *bool
	// Search matches a prefix of the name, case-insensitively.
	Search *string
}

type projectCursor struct {
	Name string    `json:"n"`
	ID   uuid.UUID `json:"i"`
}

// ProjectCursor is the opaque cursor of p in ListProjects' order.
func ProjectCursor(p *Project) string { return encodeCursor(projectCursor{p.Name, p.ID}) }

func (f ListProjectsParams) where(scope Scope) *where {
	w := &where{}
	w.add("p.tenant_id = ?", scope.TenantID)
	if f.Status != nil {
		w.add("p.status = ?", *f.Status)
	}
	if f.Billable != nil {
		w.add("p.billable = ?", *f.Billable)
	}
	if f.Search != nil && strings.TrimSpace(*f.Search) != "" {
		w.add("p.name ILIKE ?", escapeLike(strings.TrimSpace(*f.Search))+"%")
	}
	return w
}

var projectList = keysetList[*Project, projectCursor]{
	what: "projects", from: "projects p", columns: projectColumns, order: "p.name, p.id",
	after: func(c projectCursor) (string, []any) { return "(p.name, p.id) > (?, ?)", []any{c.Name, c.ID} },
	scan:  scanProject,
}

// ListProjects returns a page of the scope's projects ordered by name.
func (s *Store) ListProjects(ctx context.Context, scope Scope, filter ListProjectsParams, page PageParams) (Page[*Project], error) {
	return projectList.page(scope.bind(ctx), s.pool, filter.where(scope), page)
}

// CountProjects counts the scope's projects matching filter.
func (s *Store) CountProjects(ctx context.Context, scope Scope, filter ListProjectsParams) (int, error) {
	return projectList.count(scope.bind(ctx), s.pool, filter.where(scope))
}

// ProjectParams are the writable fields of a project; nil leaves a field unchanged on update.
type ProjectParams struct {
	Name        *string
	Description *string
	Status      *string
	BudgetHours *float64
	Billable    *bool
}

func (p ProjectParams) apply(pr *Project) error {
	if p.Name != nil {
		pr.Name = strings.TrimSpace(*p.Name)
		if pr.Name == "" || len(pr.Name) > 200 {
			return apperr.Invalid("name", "name must be 1 to 200 characters")
		}
	}
	if p.Description != nil {
		if len(*p.Description) > 10000 {
			return apperr.Invalid("description", "description must be at most 10000 characters")
		}
		pr.Description = *p.Description
	}
	if p.Status != nil {
		pr.Status = *p.Status
	}
	if p.BudgetHours != nil {
		if *p.BudgetHours < 0 || *p.BudgetHours > 1e7 {
			return apperr.Invalid("budgetHours", "budgetHours must be between 0 and 10000000")
		}
		pr.BudgetHours = p.BudgetHours
	}
	if p.Billable != nil {
		pr.Billable = *p.Billable
	}
	return nil
}

// CreateProject inserts a project. Name is required.
func (s *Store) CreateProject(ctx context.Context, scope Scope, p ProjectParams) (*Project, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Project, error) { return tx.createProject(ctx, scope, p) })
}

func (s *Store) createProject(ctx context.Context, scope Scope, p ProjectParams) (*Project, error) {
	if p.Name == nil {
		return nil, apperr.Invalid("name", "name is required")
	}
	now := s.now().UTC()
	pr := &Project{TenantID: scope.TenantID, ID: newID(), Status: ProjectActive, Billable: true, CreatedAt: now, UpdatedAt: now}
	if err := p.apply(pr); err != nil {
		return nil, err
	}
	if _, err := s.db.NewInsert().Model(pr).Exec(ctx); err != nil {
		return nil, translate(err, "project")
	}
	if scope.Writes.JoinCreatedProjects && scope.ActorID != uuid.Nil {
		if err := s.addMember(ctx, scope, pr.ID, scope.ActorID); err != nil {
			return nil, err
		}
	}
	return pr, nil
}

func (s *Store) addMember(ctx context.Context, scope Scope, projectID, employeeID uuid.UUID) error {
	_, err := s.db.NewRaw(`INSERT INTO project_members (tenant_id, project_id, employee_id, added_at)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, scope.TenantID, projectID, employeeID, s.now().UTC()).Exec(ctx)
	return translate(err, "project member")
}

// UpdateProject changes the fields set in p.
func (s *Store) UpdateProject(ctx context.Context, scope Scope, id uuid.UUID, p ProjectParams) (*Project, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Project, error) { return tx.updateProject(ctx, scope, id, p) })
}

func (s *Store) updateProject(ctx context.Context, scope Scope, id uuid.UUID, p ProjectParams) (*Project, error) {
	pr, err := s.writableProject(ctx, scope, id, "UPDATE")
	if err != nil {
		return nil, err
	}
	if err := p.apply(pr); err != nil {
		return nil, err
	}
	pr.UpdatedAt = s.now().UTC()
	if _, err := s.db.NewUpdate().Model(pr).Column("name", "description", "status", "budget_hours", "billable", "updated_at").
		WherePK().Exec(ctx); err != nil {
		return nil, translate(err, "project")
	}
	return pr, nil
}

// AddProjectMember makes an employee a member of a project and returns the project; adding a
// member twice changes nothing.
func (s *Store) AddProjectMember(ctx context.Context, scope Scope, projectID, employeeID uuid.UUID) (*Project, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Project, error) {
		pr, err := tx.writableProject(ctx, scope, projectID, "SHARE")
		if err != nil {
			return nil, err
		}
		if err := tx.mustReach(ctx, scope, employeeID, "employeeId"); err != nil {
			return nil, err
		}
		return pr, tx.addMember(ctx, scope, projectID, employeeID)
	})
}

// RemoveProjectMember removes an employee from a project and returns the project. Existing time
// entries stay.
func (s *Store) RemoveProjectMember(ctx context.Context, scope Scope, projectID, employeeID uuid.UUID) (*Project, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Project, error) {
		pr, err := tx.writableProject(ctx, scope, projectID, "SHARE")
		if err != nil {
			return nil, err
		}
		if err := tx.mustReach(ctx, scope, employeeID, "employeeId"); err != nil {
			return nil, err
		}
		res, err := tx.db.NewRaw(`DELETE FROM project_members WHERE tenant_id = ? AND project_id = ? AND employee_id = ?`,
			scope.TenantID, projectID, employeeID).Exec(ctx)
		if err != nil {
			return nil, translate(err, "project member")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, apperr.New(apperr.NotFound, "the employee is not a member of this project")
		}
		return pr, nil
	})
}

// writableProject reads a project the scope may change, locked (FOR lock: UPDATE to change the
// row, SHARE to keep it from being deleted while its members or tasks change) until the
// transaction ends: NOT_FOUND when there is none, FORBIDDEN when none of its members is among
// the scope's Writes.ProjectsOf.
func (s *Store) writableProject(ctx context.Context, scope Scope, id uuid.UUID, lock string) (*Project, error) {
	pr := new(Project)
	if err := s.db.NewSelect().Model(pr).Where("tenant_id = ? AND id = ?", scope.TenantID, id).For(lock).Scan(ctx); err != nil {
		return nil, translate(err, "project")
	}
	if scope.Writes.ProjectsOf == nil {
		return pr, nil
	}
	ok := len(scope.Writes.ProjectsOf) > 0
	if ok {
		var err error
		ok, err = s.db.NewSelect().Table("project_members").
			Where("tenant_id = ? AND project_id = ? AND employee_id IN (?)", scope.TenantID, id, bun.In(scope.Writes.ProjectsOf)).
			Exists(ctx)
		if err != nil {
			return nil, translate(err, "project membership")
		}
	}
	if !ok {
		return nil, apperr.New(apperr.Forbidden, "you may change only projects with a member in your reach")
	}
	return pr, nil
}

// mustReach reports an employee out of the scope's reach exactly like one that does not exist.
func (s *Store) mustReach(ctx context.Context, scope Scope, employeeID uuid.UUID, field string) error {
	if !scope.visible(employeeID) {
		return &apperr.Error{Code: apperr.NotFound, Message: "employee not found", Field: field}
	}
	return s.mustExist(ctx, scope, "employees", employeeID, field, "employee")
}

// mustExist reports a reference to a missing row of table as bad input in field.
func (s *Store) mustExist(ctx context.Context, scope Scope, table string, id uuid.UUID, field, what string) error {
	ok, err := s.db.NewSelect().Table(table).Where("tenant_id = ? AND id = ?", scope.TenantID, id).Exists(ctx)
	if err != nil {
		return translate(err, what)
	}
	if !ok {
		return &apperr.Error{Code: apperr.NotFound, Message: what + " not found", Field: field}
	}
	return nil
}
