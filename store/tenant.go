package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/workingtracker/api/internal/apperr"
)

// Tenant is an organisation; all other data belongs to exactly one.
type Tenant struct {
	bun.BaseModel `bun:"table:tenants"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	Slug      string    `bun:"slug,notnull"`
	Name      string    `bun:"name,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	// AllowOverlappingTimeEntries lets an employee record time entries that overlap (parallel
	// work); off by default, when an overlapping entry fails with CONFLICT.
	AllowOverlappingTimeEntries bool `bun:"allow_overlapping_time_entries,notnull"`
}

// Department groups employees.
type Department struct {
	bun.BaseModel `bun:"table:departments"`

	TenantID  uuid.UUID `bun:"tenant_id,pk,type:uuid"`
	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	Name      string    `bun:"name,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// TenantBySlug finds a tenant by its slug. It is not scoped: callers are the composition root
// (seeding, development tokens), never a request.
func (s *Store) TenantBySlug(ctx context.Context, slug string) (*Tenant, error) {
	t := new(Tenant)
	err := s.db.NewSelect().Model(t).Where("slug = ?", slug).Scan(ctx)
	return t, translate(err, "tenant")
}

// FirstEmployeeWithRole finds an employee of the tenant holding role, the one with most direct
// reports first (development tokens).
func (s *Store) FirstEmployeeWithRole(ctx context.Context, scope Scope, role string) (*Employee, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Employee, error) {
		e := new(Employee)
		// The one with most direct reports: a demo MANAGER token should show a reporting line.
		err := tx.db.NewSelect().Model(e).Column("id", "tenant_id", "name", "email", "role").
			Where("tenant_id = ? AND role = ?", scope.TenantID, role).
			OrderExpr("(SELECT count(*) FROM employees r WHERE r.tenant_id = employee.tenant_id AND r.manager_id = employee.id) DESC, created_at, id").
			Limit(1).Scan(ctx)
		return e, translate(err, "employee with role "+role)
	})
}

// DepartmentsByIDs returns the scope's departments among ids, in any order.
func (s *Store) DepartmentsByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) ([]*Department, error) {
	return collect(scope.bind(ctx), s.pool, "departments by ids",
		`SELECT tenant_id, id, name, created_at FROM departments WHERE tenant_id = $1 AND id = ANY($2)`,
		[]any{scope.TenantID, ids}, func(row pgx.Row) (*Department, error) {
			var d Department
			err := row.Scan(&d.TenantID, &d.ID, &d.Name, &d.CreatedAt)
			return &d, err
		})
}

// CreateTenant registers an organisation. Slug is its stable handle (lowercase, digits, dashes).
func (s *Store) CreateTenant(ctx context.Context, slug, name string) (*Tenant, error) {
	t := &Tenant{ID: newID(), Slug: slug, Name: name, CreatedAt: s.now().UTC()}
	if _, err := s.db.NewInsert().Model(t).Exec(ctx); err != nil {
		return nil, translate(err, "tenant "+slug)
	}
	return t, nil
}

// CreateDepartment adds a department to the scope's tenant.
func (s *Store) CreateDepartment(ctx context.Context, scope Scope, name string) (*Department, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Department, error) {
		d := &Department{TenantID: scope.TenantID, ID: newID(), Name: name, CreatedAt: tx.now().UTC()}
		if _, err := tx.db.NewInsert().Model(d).Exec(ctx); err != nil {
			return nil, translate(err, "department "+name)
		}
		return d, nil
	})
}

// SetAllowOverlappingTimeEntries changes the tenant's overlap setting (see
// Tenant.AllowOverlappingTimeEntries). Not scoped: the composition root and operators call it.
func (s *Store) SetAllowOverlappingTimeEntries(ctx context.Context, tenantID uuid.UUID, allow bool) error {
	res, err := s.db.NewRaw(`UPDATE tenants SET allow_overlapping_time_entries = ? WHERE id = ?`, allow, tenantID).Exec(ctx)
	if err != nil {
		return translate(err, "tenant")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "tenant not found")
	}
	return nil
}
