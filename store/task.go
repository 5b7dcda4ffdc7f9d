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

// Task statuses.
const (
	TaskTodo       = "TODO"
	TaskInProgress = "IN_PROGRESS"
	TaskBlocked    = "BLOCKED"
	TaskDone       = "DONE"
)

// Task is a unit of work within a project.
type Task struct {
	bun.BaseModel `bun:"table:tasks"`

	TenantID      uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID            uuid.UUID  `bun:"id,pk,type:uuid"`
	ProjectID     uuid.UUID  `bun:"project_id,type:uuid,notnull"`
	AssigneeID    *uuid.UUID `bun:"assignee_id,type:uuid"`
	Title         string     `bun:"title,notnull"`
	Description   string     `bun:"description,notnull"`
	Status        string     `bun:"status,notnull"`
	EstimateHours *float64   `bun:"estimate_hours"`
	CreatedAt     time.Time  `bun:"created_at,notnull"`
	UpdatedAt     time.Time  `bun:"updated_at,notnull"`
}

const taskColumns = `t.id, t.tenant_id, t.project_id, t.assignee_id, t.title, t.description, t.status,
	t.estimate_hours::float8, t.created_at, t.updated_at`

func scanTaskInto(t *Task, row pgx.Row, extra ...any) error {
	return row.Scan(append(extra, &t.ID, &t.TenantID, &t.ProjectID, &t.AssigneeID, &t.Title, &t.Description, &t.Status,
		&t.EstimateHours, &t.CreatedAt, &t.UpdatedAt)...)
}

func scanTask(row pgx.Row) (*Task, error) {
	var t Task
	return &t, scanTaskInto(&t, row)
}

// TasksByIDs returns the scope's tasks among ids, in any order.
func (s *Store) TasksByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) ([]*Task, error) {
	return collect(scope.bind(ctx), s.pool, "tasks by ids",
		`SELECT `+taskColumns+` FROM tasks t WHERE t.tenant_id = $1 AND t.id = ANY($2)`,
		[]any{scope.TenantID, ids}, scanTask)
}

// TasksByProjectIDs returns the first `limit` tasks of each project, oldest first, in one
// statement for all projects.
func (s *Store) TasksByProjectIDs(ctx context.Context, scope Scope, projectIDs []uuid.UUID, limit int) ([]*Task, error) {
	return collect(scope.bind(ctx), s.pool, "tasks by project",
		`SELECT `+taskColumns+` FROM unnest($2::uuid[]) AS k(project_id)
		CROSS JOIN LATERAL (
			SELECT * FROM tasks t WHERE t.tenant_id = $1 AND t.project_id = k.project_id
			ORDER BY t.created_at, t.id
			LIMIT $3) t`,
		[]any{scope.TenantID, projectIDs, limit}, scanTask)
}

// TaskDependency says a task waits for another.
type TaskDependency struct {
	TaskID uuid.UUID
	Task   *Task // the task depended on
}

// DependenciesByTaskIDs returns the first `limit` tasks each task depends on, oldest first, in one
// statement for all tasks.
func (s *Store) DependenciesByTaskIDs(ctx context.Context, scope Scope, taskIDs []uuid.UUID, limit int) ([]TaskDependency, error) {
	return collect(scope.bind(ctx), s.pool, "task dependencies",
		`SELECT k.task_id, `+taskColumns+` FROM unnest($2::uuid[]) AS k(task_id)
		CROSS JOIN LATERAL (
			SELECT t.* FROM task_dependencies d JOIN tasks t ON t.tenant_id = d.tenant_id AND t.id = d.depends_on_id
			WHERE d.tenant_id = $1 AND d.task_id = k.task_id
			ORDER BY t.created_at, t.id
			LIMIT $3) t`,
		[]any{scope.TenantID, taskIDs, limit}, func(row pgx.Row) (TaskDependency, error) {
			d := TaskDependency{Task: new(Task)}
			return d, scanTaskInto(d.Task, row, &d.TaskID)
		})
}

// TaskParams are the writable fields of a task; nil leaves a field unchanged on update.
type TaskParams struct {
	ProjectID     *uuid.UUID
	Title         *string
	Description   *string
	Status        *string
	AssigneeID    *uuid.UUID
	ClearAssignee bool
	EstimateHours *float64
	// DependsOn replaces the task's dependencies when non-nil.
	DependsOn *[]uuid.UUID
}

func (p TaskParams) apply(t *Task) error {
	if p.Title != nil {
		t.Title = strings.TrimSpace(*p.Title)
		if t.Title == "" || len(t.Title) > 500 {
			return apperr.Invalid("title", "title must be 1 to 500 characters")
		}
	}
	if p.Description != nil {
		if len(*p.Description) > 10000 {
			return apperr.Invalid("description", "description must be at most 10000 characters")
		}
		t.Description = *p.Description
	}
	if p.Status != nil {
		t.Status = *p.Status
	}
	if p.EstimateHours != nil {
		if *p.EstimateHours < 0 || *p.EstimateHours > 100000 {
			return apperr.Invalid("estimateHours", "estimateHours must be between 0 and 100000")
		}
		t.EstimateHours = p.EstimateHours
	}
	if p.AssigneeID != nil {
		t.AssigneeID = p.AssigneeID
	}
	if p.ClearAssignee {
		t.AssigneeID = nil
	}
	return nil
}

// CreateTask inserts a task into a project. ProjectID and Title are required; the assignee must
// be a member of the project. Dependencies are written in the same transaction.
func (s *Store) CreateTask(ctx context.Context, scope Scope, p TaskParams) (*Task, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Task, error) { return tx.createTask(ctx, scope, p) })
}

func (s *Store) createTask(ctx context.Context, scope Scope, p TaskParams) (*Task, error) {
	if p.ProjectID == nil || p.Title == nil {
		return nil, apperr.Invalid("input", "projectId and title are required")
	}
	now := s.now().UTC()
	t := &Task{TenantID: scope.TenantID, ID: newID(), ProjectID: *p.ProjectID, Status: TaskTodo, CreatedAt: now, UpdatedAt: now}
	if err := p.apply(t); err != nil {
		return nil, err
	}
	if _, err := s.writableProject(ctx, scope, t.ProjectID, "SHARE"); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, &apperr.Error{Code: apperr.NotFound, Message: "project not found", Field: "projectId"}
		}
		return nil, err
	}
	if err := s.checkAssignee(ctx, scope, t); err != nil {
		return nil, err
	}
	if _, err := s.db.NewInsert().Model(t).Exec(ctx); err != nil {
		return nil, translate(err, "task")
	}
	if p.DependsOn != nil {
		if err := s.replaceDependencies(ctx, scope, t, *p.DependsOn); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// UpdateTask changes the fields set in p. A task cannot move to another project.
func (s *Store) UpdateTask(ctx context.Context, scope Scope, id uuid.UUID, p TaskParams) (*Task, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Task, error) { return tx.updateTask(ctx, scope, id, p) })
}

func (s *Store) updateTask(ctx context.Context, scope Scope, id uuid.UUID, p TaskParams) (*Task, error) {
	t := new(Task)
	if err := s.db.NewSelect().Model(t).Where("tenant_id = ? AND id = ?", scope.TenantID, id).For("UPDATE").Scan(ctx); err != nil {
		return nil, translate(err, "task")
	}
	if p.ProjectID != nil && *p.ProjectID != t.ProjectID {
		return nil, apperr.Invalid("projectId", "a task cannot move to another project")
	}
	if _, err := s.writableProject(ctx, scope, t.ProjectID, "SHARE"); err != nil {
		return nil, err
	}
	assigneeChanges := p.AssigneeID != nil && (t.AssigneeID == nil || *p.AssigneeID != *t.AssigneeID)
	// Taking a task from its assignee (reassigning or unassigning it) is a write on their work:
	// they must be within reach, as the new assignee must.
	if (assigneeChanges || p.ClearAssignee) && t.AssigneeID != nil && !scope.visible(*t.AssigneeID) {
		return nil, &apperr.Error{Code: apperr.Forbidden, Field: "assigneeId",
			Message: "the task's assignee is not in your reach: you may not take it from them"}
	}
	if err := p.apply(t); err != nil {
		return nil, err
	}
	// Only a new assignee must be a member: one who has since left does not block other edits.
	if assigneeChanges {
		if err := s.checkAssignee(ctx, scope, t); err != nil {
			return nil, err
		}
	}
	t.UpdatedAt = s.now().UTC()
	if _, err := s.db.NewUpdate().Model(t).Column("title", "description", "status", "assignee_id", "estimate_hours", "updated_at").
		WherePK().Exec(ctx); err != nil {
		return nil, translate(err, "task")
	}
	if p.DependsOn != nil {
		if err := s.replaceDependencies(ctx, scope, t, *p.DependsOn); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (s *Store) checkAssignee(ctx context.Context, scope Scope, t *Task) error {
	if t.AssigneeID == nil {
		return nil
	}
	if err := s.mustReach(ctx, scope, *t.AssigneeID, "assigneeId"); err != nil {
		return err
	}
	member, err := s.isMember(ctx, scope, t.ProjectID, *t.AssigneeID)
	if err != nil {
		return err
	}
	if !member {
		return apperr.Invalid("assigneeId", "the assignee must be a member of the task's project")
	}
	return nil
}

// replaceDependencies sets the tasks t waits for: tasks of the same project, with no cycle.
func (s *Store) replaceDependencies(ctx context.Context, scope Scope, t *Task, dependsOn []uuid.UUID) error {
	seen := make(map[uuid.UUID]bool, len(dependsOn))
	for _, id := range dependsOn {
		if id == t.ID {
			return apperr.Invalid("dependsOn", "a task cannot depend on itself")
		}
		seen[id] = true
	}
	ids := make([]uuid.UUID, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	// Two concurrent edits could each pass the cycle check and together close a cycle: edits of
	// a project's dependency graph take turns.
	if err := s.lockHierarchy(ctx, "task dependencies", t.ProjectID); err != nil {
		return err
	}
	if len(ids) > 0 {
		var sameProject int
		err := s.db.NewSelect().Table("tasks").ColumnExpr("count(*)").
			Where("tenant_id = ? AND project_id = ? AND id IN (?)", scope.TenantID, t.ProjectID, bun.In(ids)).Scan(ctx, &sameProject)
		if err != nil {
			return translate(err, "task dependencies")
		}
		if sameProject != len(ids) {
			return apperr.Invalid("dependsOn", "dependencies must be existing tasks of the same project")
		}
		var cycle bool
		err = s.db.NewRaw(`WITH RECURSIVE reach(id) AS (
				SELECT depends_on_id FROM task_dependencies WHERE tenant_id = ? AND task_id IN (?)
				UNION
				SELECT d.depends_on_id FROM task_dependencies d JOIN reach r ON d.tenant_id = ? AND d.task_id = r.id)
			SELECT EXISTS (SELECT 1 FROM reach WHERE id = ?)`,
			scope.TenantID, bun.In(ids), scope.TenantID, t.ID).Scan(ctx, &cycle)
		if err != nil {
			return translate(err, "task dependencies")
		}
		if cycle {
			return apperr.Invalid("dependsOn", "these dependencies would form a cycle")
		}
	}
	if _, err := s.db.NewRaw(`DELETE FROM task_dependencies WHERE tenant_id = ? AND task_id = ?`, scope.TenantID, t.ID).Exec(ctx); err != nil {
		return translate(err, "task dependencies")
	}
	for _, id := range ids {
		if _, err := s.db.NewRaw(`INSERT INTO task_dependencies (tenant_id, task_id, depends_on_id) VALUES (?, ?, ?)`,
			scope.TenantID, t.ID, id).Exec(ctx); err != nil {
			return translate(err, "task dependency")
		}
	}
	return nil
}

func (s *Store) isMember(ctx context.Context, scope Scope, projectID, employeeID uuid.UUID) (bool, error) {
	ok, err := s.db.NewSelect().Table("project_members").
		Where("tenant_id = ? AND project_id = ? AND employee_id = ?", scope.TenantID, projectID, employeeID).Exists(ctx)
	if err != nil {
		return false, translate(err, "project membership")
	}
	return ok, nil
}
