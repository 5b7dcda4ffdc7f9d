package store

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/workingtracker/api/internal/apperr"
)

// Roles an employee may hold in a tenant.
const (
	RoleAdmin    = "ADMIN"
	RoleHR       = "HR"
	RoleManager  = "MANAGER"
	RoleEmployee = "EMPLOYEE"
	RoleAuditor  = "AUDITOR"
)

// Employee statuses.
const (
	EmployeeActive     = "ACTIVE"
	EmployeeOnLeave    = "ON_LEAVE"
	EmployeeTerminated = "TERMINATED"
)

// Employee is a person of a tenant. PII columns hold ciphertext only and are named so that the
// GraphQL autobinding can never expose them; masked views are resolved elsewhere.
type Employee struct {
	bun.BaseModel `bun:"table:employees"`

	TenantID              uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID                    uuid.UUID  `bun:"id,pk,type:uuid"`
	DepartmentID          *uuid.UUID `bun:"department_id,type:uuid"`
	ManagerID             *uuid.UUID `bun:"manager_id,type:uuid"`
	Name                  string     `bun:"name,notnull"`
	Email                 string     `bun:"email,notnull"`
	Role                  string     `bun:"role,notnull"`
	Status                string     `bun:"status,notnull"`
	HourlyRate            *float64   `bun:"hourly_rate"`
	SSNCiphertext         []byte     `bun:"ssn_ciphertext"`
	TaxIDCiphertext       []byte     `bun:"tax_id_ciphertext"`
	PassportCiphertext    []byte     `bun:"passport_ciphertext"`
	BankAccountCiphertext []byte     `bun:"bank_account_ciphertext"`
	// PIIPresent says which personal data fields are set, one bit each (HasPII), without
	// reading a ciphertext: every read of employees computes it in SQL (employeeColumns).
	PIIPresent int16     `bun:"pii_present,scanonly"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
	UpdatedAt  time.Time `bun:"updated_at,notnull"`
	// Version is the row version's PostgreSQL transaction id (xmin), which every write of the
	// row changes: the masked forms of its personal data are cached under it
	// (pii.Keyring.CachedLastFours), so that a page reads no ciphertext to show them.
	Version uint32 `bun:"-"`
	// shownPII keeps the masked forms of the row's personal data once a resolver found them
	// cached for its version or decrypted them (pii.Keyring's: shared, read-only), so that the
	// row's four @pii fields look them up, or decrypt them, once. The store neither sets nor reads it. An
	// atomic.Value (of *[4]*string), not an atomic.Pointer, which vet forbids copying: the
	// federation code gqlgen generates needs IsEntity on the value, not the pointer.
	shownPII atomic.Value
	// held: the values DepartmentID, ManagerID and HourlyRate point to when read through pgx
	// (employeeTargets), which then allocates none of its own.
	held nullables
}

// ShownPII is what KeepShownPII kept, or nil.
func (e *Employee) ShownPII() *[4]*string {
	shown, _ := e.shownPII.Load().(*[4]*string)
	return shown
}

// KeepShownPII keeps the masked forms of the row's personal data at its Version, for ShownPII.
func (e *Employee) KeepShownPII(shown *[4]*string) { e.shownPII.Store(shown) }

const employeeColumns = `e.id, e.tenant_id, e.department_id, e.manager_id, e.name, e.email, e.role, e.status,
	e.hourly_rate::float8, e.created_at, e.updated_at, ` + piiPresentSQL + `, e.xmin`

func scanEmployee(row pgx.Row) (*Employee, error) {
	e := new(Employee)
	targets := e.employeeTargets()
	err := row.Scan(targets[:]...)
	return e, err
}

// EmployeesByIDs returns the scope's employees among ids, in any order; unknown ids are absent.
func (s *Store) EmployeesByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) ([]*Employee, error) {
	return collect(scope.bind(ctx), s.pool, "employees by ids",
		`SELECT `+employeeColumns+` FROM employees e WHERE e.tenant_id = $1 AND e.id = ANY($2)`,
		[]any{scope.TenantID, scope.visibleOnly(ids)}, scanEmployee)
}

// EmployeeRefs is an employee with the department and the manager it references: nil when it
// has none, or when the scope may not see the manager (as EmployeesByIDs would leave it out).
type EmployeeRefs struct {
	Employee   *Employee
	Department *Department
	Manager    *Employee
}

// managerColumns are employeeColumns of the manager's row, m.
var managerColumns = strings.ReplaceAll(employeeColumns, "e.", "m.")

// EmployeesWithRefsByIDs is EmployeesByIDs with each employee's department and manager read in
// the same statement: a lookup of one employee with both was three round trips. The manager
// is filtered by the scope's reach as EmployeesByIDs filters it; row-level security applies to
// every table of the join.
func (s *Store) EmployeesWithRefsByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) ([]EmployeeRefs, error) {
	return collect(scope.bind(ctx), s.pool, "employees with department and manager by ids",
		`SELECT `+employeeColumns+`, d.tenant_id, d.id, d.name, d.created_at, `+managerColumns+`
		FROM employees e
		LEFT JOIN departments d ON d.tenant_id = e.tenant_id AND d.id = e.department_id
		LEFT JOIN employees m ON m.tenant_id = e.tenant_id AND m.id = e.manager_id AND ($3::uuid[] IS NULL OR m.id = ANY($3))
		WHERE e.tenant_id = $1 AND e.id = ANY($2)`,
		[]any{scope.TenantID, scope.visibleOnly(ids), scope.Visible}, scanEmployeeRefs)
}

func scanEmployeeRefs(row pgx.Row) (EmployeeRefs, error) {
	var e Employee
	// The joined rows' columns are NULL when there is no such row.
	var d struct {
		tenantID, id *uuid.UUID
		name         *string
		createdAt    *time.Time
	}
	var m struct {
		id, tenantID, departmentID, managerID *uuid.UUID
		name, email, role, status             *string
		hourlyRate                            *float64
		createdAt, updatedAt                  *time.Time
		piiPresent                            *int16
		version                               *uint32
	}
	targets := e.employeeTargets()
	err := row.Scan(append(targets[:], &d.tenantID, &d.id, &d.name, &d.createdAt,
		&m.id, &m.tenantID, &m.departmentID, &m.managerID, &m.name, &m.email, &m.role, &m.status,
		&m.hourlyRate, &m.createdAt, &m.updatedAt, &m.piiPresent, &m.version)...)
	if err != nil {
		return EmployeeRefs{}, err
	}
	refs := EmployeeRefs{Employee: &e}
	if d.id != nil {
		refs.Department = &Department{TenantID: *d.tenantID, ID: *d.id, Name: *d.name, CreatedAt: *d.createdAt}
	}
	if m.id != nil {
		refs.Manager = &Employee{ID: *m.id, TenantID: *m.tenantID, DepartmentID: m.departmentID, ManagerID: m.managerID,
			Name: *m.name, Email: *m.email, Role: *m.role, Status: *m.status, HourlyRate: m.hourlyRate,
			CreatedAt: *m.createdAt, UpdatedAt: *m.updatedAt, PIIPresent: *m.piiPresent, Version: *m.version}
	}
	return refs, nil
}

// ProjectMember pairs a project with one of its members.
type ProjectMember struct {
	ProjectID uuid.UUID
	Employee  *Employee
}

// MembersByProjectIDs returns the first `limit` members of each project, ordered by name within a
// project, in one statement for all projects.
func (s *Store) MembersByProjectIDs(ctx context.Context, scope Scope, projectIDs []uuid.UUID, limit int) ([]ProjectMember, error) {
	return collect(scope.bind(ctx), s.pool, "project members",
		// The row's columns are computed inside the LATERAL, so that its sort carries them and
		// not whole rows (ciphertexts and blind indexes included), and the presence bits read
		// the table's null bits rather than the sorted copies': for a page of 50 projects and
		// their 600 members on the large seed, 2.57 → 2.39 ms mean in PostgreSQL as the API runs
		// it (pg_stat_statements, 1,000 requests), 2.26 → 1.65 ms in a loop of prepared EXECUTEs.
		`SELECT k.project_id, e.* FROM unnest($2::uuid[]) AS k(project_id)
		CROSS JOIN LATERAL (
			SELECT `+employeeColumns+` FROM project_members pm JOIN employees e ON e.tenant_id = pm.tenant_id AND e.id = pm.employee_id
			WHERE pm.tenant_id = $1 AND pm.project_id = k.project_id AND ($3::uuid[] IS NULL OR e.id = ANY($3))
			ORDER BY e.name, e.id
			LIMIT $4) e`,
		[]any{scope.TenantID, projectIDs, scope.Visible, limit}, func(row pgx.Row) (ProjectMember, error) {
			m := ProjectMember{Employee: new(Employee)}
			targets := m.Employee.employeeTargets()
			var dest [len(targets) + 1]any
			dest[0] = &m.ProjectID
			copy(dest[1:], targets[:])
			return m, row.Scan(dest[:]...)
		})
}

// MemberSummariesByProjectIDs is MembersByProjectIDs reading only each member's id, tenant and
// name (the rest of the Employee zero), for a members list of which nothing more is selected
// (loaders' memberSummaryFields): a projects page's 600 members cost less than half the
// PostgreSQL time of their full rows under row-level security.
func (s *Store) MemberSummariesByProjectIDs(ctx context.Context, scope Scope, projectIDs []uuid.UUID, limit int) ([]ProjectMember, error) {
	return collect(scope.bind(ctx), s.pool, "project member summaries",
		`SELECT k.project_id, e.id, e.tenant_id, e.name FROM unnest($2::uuid[]) AS k(project_id)
		CROSS JOIN LATERAL (
			SELECT e.id, e.tenant_id, e.name FROM project_members pm JOIN employees e ON e.tenant_id = pm.tenant_id AND e.id = pm.employee_id
			WHERE pm.tenant_id = $1 AND pm.project_id = k.project_id AND ($3::uuid[] IS NULL OR e.id = ANY($3))
			ORDER BY e.name, e.id
			LIMIT $4) e`,
		[]any{scope.TenantID, projectIDs, scope.Visible, limit}, func(row pgx.Row) (ProjectMember, error) {
			m := ProjectMember{Employee: new(Employee)}
			return m, row.Scan(&m.ProjectID, &m.Employee.ID, &m.Employee.TenantID, &m.Employee.Name)
		})
}

// ListEmployeesParams narrows ListEmployees; zero fields do not filter.
type ListEmployeesParams struct {
	DepartmentID *uuid.UUID
	ManagerID    *uuid.UUID
	Status       *string
	Role         *string
	// Search matches a prefix of the name or the e-mail address, case-insensitively.
	Search *string
}

type employeeCursor struct {
	Name string    `json:"n"`
	ID   uuid.UUID `json:"i"`
}

// EmployeeCursor is the opaque cursor of e in ListEmployees' order.
func EmployeeCursor(e *Employee) string { return encodeCursor(employeeCursor{e.Name, e.ID}) }

func (f ListEmployeesParams) where(scope Scope) *where {
	w := &where{}
	w.add("e.tenant_id = ?", scope.TenantID)
	if scope.restricted() {
		w.add("e.id = ANY(?)", scope.Visible)
	}
	if f.DepartmentID != nil {
		w.add("e.department_id = ?", *f.DepartmentID)
	}
	if f.ManagerID != nil {
		w.add("e.manager_id = ?", *f.ManagerID)
	}
	if f.Status != nil {
		w.add("e.status = ?", *f.Status)
	}
	if f.Role != nil {
		w.add("e.role = ?", *f.Role)
	}
	if f.Search != nil && strings.TrimSpace(*f.Search) != "" {
		pattern := escapeLike(strings.TrimSpace(*f.Search)) + "%"
		p := w.arg(pattern)
		w.conds = append(w.conds, "(e.name ILIKE "+p+" OR lower(e.email) LIKE lower("+p+"))")
	}
	return w
}

var employeeList = keysetList[*Employee, employeeCursor]{
	what: "employees", from: "employees e", columns: employeeColumns, order: "e.name, e.id",
	after: func(c employeeCursor) (string, []any) { return "(e.name, e.id) > (?, ?)", []any{c.Name, c.ID} },
	scan:  scanEmployee,
}

// ListEmployees returns a page of the scope's employees ordered by name.
func (s *Store) ListEmployees(ctx context.Context, scope Scope, filter ListEmployeesParams, page PageParams) (Page[*Employee], error) {
	return employeeList.page(scope.bind(ctx), s.pool, filter.where(scope), page)
}

// CountEmployees counts the scope's employees matching filter.
func (s *Store) CountEmployees(ctx context.Context, scope Scope, filter ListEmployeesParams) (int, error) {
	return employeeList.count(scope.bind(ctx), s.pool, filter.where(scope))
}

// EmployeeParams are the writable fields of an employee; nil leaves a field unchanged on update.
type EmployeeParams struct {
	Name         *string
	Email        *string
	Role         *string
	Status       *string
	DepartmentID *uuid.UUID
	ManagerID    *uuid.UUID
	HourlyRate   *float64
	// ClearManager / ClearDepartment set the reference to null (nil pointers mean "unchanged").
	ClearManager    bool
	ClearDepartment bool
}

func (p EmployeeParams) apply(e *Employee) error {
	if p.Name != nil {
		e.Name = strings.TrimSpace(*p.Name)
		if e.Name == "" || len(e.Name) > 200 {
			return apperr.Invalid("name", "name must be 1 to 200 characters")
		}
	}
	if p.Email != nil {
		addr, err := mail.ParseAddress(strings.TrimSpace(*p.Email))
		if err != nil || addr.Address != strings.TrimSpace(*p.Email) || len(addr.Address) > 320 {
			return apperr.Invalid("email", "email must be a plain e-mail address such as ada@example.com")
		}
		e.Email = addr.Address
	}
	if p.Role != nil {
		e.Role = *p.Role
	}
	if p.Status != nil {
		e.Status = *p.Status
	}
	if p.HourlyRate != nil {
		if *p.HourlyRate < 0 || *p.HourlyRate > 1e9 {
			return apperr.Invalid("hourlyRate", "hourlyRate must be between 0 and 1000000000")
		}
		e.HourlyRate = p.HourlyRate
	}
	if p.DepartmentID != nil {
		e.DepartmentID = p.DepartmentID
	}
	if p.ClearDepartment {
		e.DepartmentID = nil
	}
	if p.ManagerID != nil {
		if *p.ManagerID == e.ID {
			return apperr.Invalid("managerId", "an employee cannot be their own manager")
		}
		e.ManagerID = p.ManagerID
	}
	if p.ClearManager {
		e.ManagerID = nil
	}
	return nil
}

// sets reports whether p changes field (its GraphQL input name).
func (p EmployeeParams) sets(field string) bool {
	switch field {
	case "name":
		return p.Name != nil
	case "email":
		return p.Email != nil
	case "role":
		return p.Role != nil
	case "status":
		return p.Status != nil
	case "hourlyRate":
		return p.HourlyRate != nil
	case "departmentId":
		return p.DepartmentID != nil || p.ClearDepartment
	case "managerId":
		return p.ManagerID != nil || p.ClearManager
	}
	return false
}

// checkEmployee refuses changes of target (as stored, before p applies) that w locks for
// actor: fields of their own record, or of an ADMIN's.
func (w WriteLimits) checkEmployee(actor uuid.UUID, target *Employee, p EmployeeParams) error {
	if actor != uuid.Nil && target.ID == actor {
		for _, f := range w.SelfLocked {
			if p.sets(f) {
				return &apperr.Error{Code: apperr.Forbidden, Field: f, Message: "you may not change your own " + f}
			}
		}
	}
	if target.Role == RoleAdmin {
		for _, f := range w.AdminLocked {
			if p.sets(f) {
				code := w.AdminRefusal
				if code == "" {
					code = apperr.Forbidden
				}
				msg := "only an ADMIN signed in with a second factor changes an ADMIN's " + f
				return &apperr.Error{Code: code, Field: f, Message: msg}
			}
		}
	}
	return nil
}

// CreateEmployee inserts a new employee. Name and Email are required; Role defaults to EMPLOYEE.
func (s *Store) CreateEmployee(ctx context.Context, scope Scope, p EmployeeParams) (*Employee, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Employee, error) { return tx.createEmployee(ctx, scope, p) })
}

func (s *Store) createEmployee(ctx context.Context, scope Scope, p EmployeeParams) (*Employee, error) {
	if p.Name == nil || p.Email == nil {
		return nil, apperr.Invalid("input", "name and email are required")
	}
	if p.Role == nil {
		employee := RoleEmployee
		p.Role = &employee
	}
	now := s.now().UTC()
	e := &Employee{TenantID: scope.TenantID, ID: newID(), Status: EmployeeActive, CreatedAt: now, UpdatedAt: now}
	if err := p.apply(e); err != nil {
		return nil, err
	}
	if err := s.checkReferences(ctx, scope, e); err != nil {
		return nil, err
	}
	if _, err := s.db.NewInsert().Model(e).Exec(ctx); err != nil {
		return nil, translate(err, "employee with this email")
	}
	return e, nil
}

// UpdateEmployee changes the fields set in p. It locks the row, so concurrent updates serialise.
func (s *Store) UpdateEmployee(ctx context.Context, scope Scope, id uuid.UUID, p EmployeeParams) (*Employee, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Employee, error) { return tx.updateEmployee(ctx, scope, id, p) })
}

func (s *Store) updateEmployee(ctx context.Context, scope Scope, id uuid.UUID, p EmployeeParams) (*Employee, error) {
	e := new(Employee)
	err := s.db.NewSelect().Model(e).ExcludeColumn("ssn_ciphertext", "tax_id_ciphertext", "passport_ciphertext", "bank_account_ciphertext").
		ColumnExpr(strings.ReplaceAll(piiPresentSQL, "e.", "")+" AS pii_present").
		Where("tenant_id = ? AND id = ?", scope.TenantID, id).For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, translate(err, "employee")
	}
	if err := scope.Writes.checkEmployee(scope.ActorID, e, p); err != nil {
		return nil, err
	}
	if err := p.apply(e); err != nil {
		return nil, err
	}
	if err := s.checkReferences(ctx, scope, e); err != nil {
		return nil, err
	}
	if p.ManagerID != nil {
		// Concurrent changes of reporting lines could each pass the check and together close a
		// cycle: within a tenant they take turns.
		if err := s.lockHierarchy(ctx, "reporting lines", scope.TenantID); err != nil {
			return nil, err
		}
		if err := s.checkNoManagementCycle(ctx, scope, e.ID, *p.ManagerID); err != nil {
			return nil, err
		}
	}
	e.UpdatedAt = s.now().UTC()
	_, err = s.db.NewUpdate().Model(e).
		Column("name", "email", "role", "status", "department_id", "manager_id", "hourly_rate", "updated_at").
		WherePK().Exec(ctx)
	if err != nil {
		return nil, translate(err, "employee with this email")
	}
	if e.Status == EmployeeTerminated {
		// A terminated employee's keys stop working with the same commit that ends the account.
		if err := s.revokeEmployeeAPIKeys(ctx, scope, e.ID); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// AccountActive reports whether employeeID is an employee of tenantID whose account is open, so
// that a token issued to them may act. ACTIVE and ON_LEAVE accounts are open (leave is a pause:
// the employee keeps reading and recording their time, and nothing is re-issued on return);
// TERMINATED accounts, and ids that are no employee of the tenant, are not. API keys of AGENTs
// are held to the same rule by authenticate_api_key.
func (s *Store) AccountActive(ctx context.Context, tenantID, employeeID uuid.UUID) (bool, error) {
	var active bool
	err := s.pool.QueryRow(Scope{TenantID: tenantID}.bind(ctx), accountActiveSQL, tenantID, employeeID).Scan(&active)
	if err != nil {
		return false, fmt.Errorf("read account status: %w", err)
	}
	return active, nil
}

// accountActiveSQL starts with a marker the tests' statement counter recognises: authentication
// runs it once per employee and cache period, not per request.
const accountActiveSQL = `SELECT /* account check */ EXISTS (SELECT FROM employees
	WHERE tenant_id = $1 AND id = $2 AND status <> 'TERMINATED')`

// checkReferences reports a reference to a missing row as NOT_FOUND naming the field, rather
// than a foreign-key violation the client cannot attribute.
func (s *Store) checkReferences(ctx context.Context, scope Scope, e *Employee) error {
	if e.DepartmentID != nil {
		if err := s.mustExist(ctx, scope, "departments", *e.DepartmentID, "departmentId", "department"); err != nil {
			return err
		}
	}
	if e.ManagerID != nil {
		if err := s.mustExist(ctx, scope, "employees", *e.ManagerID, "managerId", "manager"); err != nil {
			return err
		}
	}
	return nil
}

// checkNoManagementCycle refuses a manager who already reports, directly or not, to employeeID.
func (s *Store) checkNoManagementCycle(ctx context.Context, scope Scope, employeeID, managerID uuid.UUID) error {
	var cycle bool
	err := s.db.NewRaw(`WITH RECURSIVE chain(id, depth) AS (
			SELECT manager_id, 1 FROM employees WHERE tenant_id = ? AND id = ?
			UNION ALL
			SELECT e.manager_id, c.depth + 1 FROM employees e JOIN chain c ON e.tenant_id = ? AND e.id = c.id
			WHERE c.depth < 1000)
		SELECT EXISTS (SELECT 1 FROM chain WHERE id = ?)`,
		scope.TenantID, managerID, scope.TenantID, employeeID).Scan(ctx, &cycle)
	if err != nil {
		return translate(err, "management chain")
	}
	if cycle {
		return apperr.Invalid("managerId", "this manager reports to the employee; reporting lines cannot form a cycle")
	}
	return nil
}

// lockHierarchy serialises, until the transaction ends, the writers of one hierarchy (named by
// kind and the id of its owner) whose invariants a row lock cannot protect.
func (s *Store) lockHierarchy(ctx context.Context, kind string, owner uuid.UUID) error {
	_, err := s.db.NewRaw(`SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, kind+":"+owner.String()).Exec(ctx)
	return translate(err, "lock "+kind)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// newID returns a time-ordered UUID (v7): inserts land at the right edge of indexes.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// ReportsOf returns the employees who report to managerID, directly or through their own
// managers (the reach of a MANAGER).
func (s *Store) ReportsOf(ctx context.Context, scope Scope, managerID uuid.UUID) ([]uuid.UUID, error) {
	return collect(scope.bind(ctx), s.pool, "reporting line",
		`WITH RECURSIVE reports(id, depth) AS (
			SELECT id, 1 FROM employees WHERE tenant_id = $1 AND manager_id = $2
			UNION
			SELECT e.id, r.depth + 1 FROM employees e JOIN reports r ON e.tenant_id = $1 AND e.manager_id = r.id
			WHERE r.depth < 100)
		SELECT DISTINCT id FROM reports`,
		[]any{scope.TenantID, managerID}, func(row pgx.Row) (uuid.UUID, error) {
			var id uuid.UUID
			err := row.Scan(&id)
			return id, err
		})
}
