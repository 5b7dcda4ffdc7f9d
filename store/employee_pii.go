package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/workingtracker/api/internal/apperr"
)

// The store holds employees' personal data only as ciphertexts and blind indexes made by
// internal/pii: it never sees a plaintext. Fields are named by the GraphQL PIIField values.

// piiColumn is where one kind of personal data lives on employees.
type piiColumn struct {
	field, ciphertext, blindIndex string
	bit                           int16
}

// piiColumns, in the schema's order; bit is the field's bit of Employee.PIIPresent.
var piiColumns = []piiColumn{
	{"SSN", "ssn_ciphertext", "ssn_blind_index", 1},
	{"TAX_ID", "tax_id_ciphertext", "tax_id_blind_index", 2},
	{"PASSPORT_NUMBER", "passport_ciphertext", "passport_blind_index", 4},
	{"BANK_ACCOUNT", "bank_account_ciphertext", "bank_account_blind_index", 8},
}

// piiPresentSQL computes Employee.PIIPresent from the row e (bits as piiColumns): a test of
// each ciphertext's null bit, which reads no ciphertext (nor detoasts one). TestPIIPresentSQL
// checks it against piiColumns.
const piiPresentSQL = `(CASE WHEN e.ssn_ciphertext IS NULL THEN 0 ELSE 1 END + CASE WHEN e.tax_id_ciphertext IS NULL THEN 0 ELSE 2 END + CASE WHEN e.passport_ciphertext IS NULL THEN 0 ELSE 4 END + CASE WHEN e.bank_account_ciphertext IS NULL THEN 0 ELSE 8 END)::int2`

// PIIFieldNames are the kinds of personal data (PIIField values), in the schema's order.
func PIIFieldNames() []string {
	out := make([]string, len(piiColumns))
	for i, c := range piiColumns {
		out[i] = c.field
	}
	return out
}

func piiColumnOf(field string) (piiColumn, error) {
	for _, c := range piiColumns {
		if c.field == field {
			return c, nil
		}
	}
	return piiColumn{}, fmt.Errorf("store: unknown personal data field %q", field)
}

// HasPII reports whether the employee's field (a PIIField value) is set, from PIIPresent.
func (e *Employee) HasPII(field string) bool {
	for i := range piiColumns {
		if piiColumns[i].field == field {
			return e.PIIPresent&piiColumns[i].bit != 0
		}
	}
	return false
}

// Ciphertext is the stored ciphertext of field; nil when unset or not read.
func (e *Employee) Ciphertext(field string) []byte {
	switch field {
	case "SSN":
		return e.SSNCiphertext
	case "TAX_ID":
		return e.TaxIDCiphertext
	case "PASSPORT_NUMBER":
		return e.PassportCiphertext
	case "BANK_ACCOUNT":
		return e.BankAccountCiphertext
	}
	return nil
}

// EmployeePII are the ciphertexts of one employee's personal data, by field; a field that is
// unset is absent.
type EmployeePII struct {
	EmployeeID  uuid.UUID
	Ciphertexts map[string][]byte
	// Version is the version of the row they were read from (Employee.Version).
	Version uint32
}

// EmployeePIIByIDs reads the ciphertexts of every personal data field of the scope's employees
// among ids (any order; unknown ids and employees out of reach are absent), with the version of
// the row they were read from: one statement for the batch. Always every field, so that a field
// absent from a result is one unset at that version, never one not read.
func (s *Store) EmployeePIIByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) ([]*EmployeePII, error) {
	return collect(scope.bind(ctx), s.pool, "employees' personal data", employeePIISQL,
		[]any{scope.TenantID, scope.visibleOnly(ids)}, func(row pgx.Row) (*EmployeePII, error) {
			p := &EmployeePII{Ciphertexts: make(map[string][]byte, len(piiColumns))}
			cts := make([][]byte, len(piiColumns))
			dest := []any{&p.EmployeeID, &p.Version}
			for i := range cts {
				dest = append(dest, &cts[i])
			}
			if err := row.Scan(dest...); err != nil {
				return nil, err
			}
			for i, c := range piiColumns {
				if cts[i] != nil {
					p.Ciphertexts[c.field] = cts[i]
				}
			}
			return p, nil
		})
}

// employeePIISQL reads EmployeePIIByIDs' rows: the ciphertexts in piiColumns' order.
var employeePIISQL = func() string {
	names := make([]string, len(piiColumns))
	for i, c := range piiColumns {
		names[i] = "e." + c.ciphertext
	}
	return `SELECT e.id, e.xmin, ` + strings.Join(names, ", ") + ` FROM employees e WHERE e.tenant_id = $1 AND e.id = ANY($2)`
}()

// PIIValue is what to store for one field: Ciphertext and BlindIndex, both nil to clear it.
type PIIValue struct {
	Ciphertext []byte
	BlindIndex []byte
}

// SetEmployeePII stores values (by field; fields absent stay as they are) on the scope's
// employee id, in one transaction. NOT_FOUND for an employee out of reach.
func (s *Store) SetEmployeePII(ctx context.Context, scope Scope, id uuid.UUID, values map[string]PIIValue) (*Employee, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Employee, error) {
		if !scope.visible(id) {
			return nil, apperr.New(apperr.NotFound, "employee not found")
		}
		sets := []string{"updated_at = ?"}
		args := []any{tx.now().UTC()}
		for _, c := range piiColumns {
			v, ok := values[c.field]
			if !ok {
				continue
			}
			if (v.Ciphertext == nil) != (v.BlindIndex == nil) {
				return nil, fmt.Errorf("store: %s needs both its ciphertext and its blind index, or neither", c.field)
			}
			sets = append(sets, c.ciphertext+" = ?", c.blindIndex+" = ?")
			args = append(args, v.Ciphertext, v.BlindIndex)
		}
		args = append(args, scope.TenantID, id)
		return tx.updateEmployeeReturning(ctx, "employee", `UPDATE employees e SET `+strings.Join(sets, ", ")+`
			WHERE e.tenant_id = ? AND e.id = ?`, args...)
	})
}

// updateEmployeeReturning runs an UPDATE of one employee (alias e; bun's ? placeholders) and
// returns the row as read by EmployeesByIDs; NOT_FOUND when it changed none.
func (s *Store) updateEmployeeReturning(ctx context.Context, what, update string, args ...any) (*Employee, error) {
	rows, err := s.db.QueryContext(ctx, update+` RETURNING `+employeeColumns, args...)
	if err != nil {
		return nil, translate(err, what)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, translate(err, what)
		}
		return nil, apperr.New(apperr.NotFound, "employee not found")
	}
	var e Employee
	if err := rows.Scan(&e.ID, &e.TenantID, &e.DepartmentID, &e.ManagerID, &e.Name, &e.Email, &e.Role, &e.Status,
		&e.HourlyRate, &e.CreatedAt, &e.UpdatedAt, &e.PIIPresent, &e.Version); err != nil {
		return nil, translate(err, what)
	}
	return &e, translate(rows.Err(), what)
}

// EmployeeWithPII reads the scope's employee id with the ciphertexts of its personal data,
// locking the row until the transaction ends (reveal and export read what they audit).
// NOT_FOUND for an employee out of reach.
func (s *Store) EmployeeWithPII(ctx context.Context, scope Scope, id uuid.UUID) (*Employee, error) {
	if !scope.visible(id) {
		return nil, apperr.New(apperr.NotFound, "employee not found")
	}
	e := new(Employee)
	err := s.db.NewSelect().Model(e).ColumnExpr("?TableColumns").
		ColumnExpr(strings.ReplaceAll(piiPresentSQL, "e.", "employee.")+" AS pii_present").
		Where("tenant_id = ? AND id = ?", scope.TenantID, id).For("SHARE").Scan(ctx)
	if err != nil {
		return nil, translate(err, "employee")
	}
	return e, nil
}

// EmployeeByBlindIndex returns the scope's employee whose field has the blind index index,
// found through the index (never by reading ciphertexts); nil when none. Should several
// employees share one identifier, the first by name is returned.
func (s *Store) EmployeeByBlindIndex(ctx context.Context, scope Scope, field string, index []byte) (*Employee, error) {
	c, err := piiColumnOf(field)
	if err != nil {
		return nil, err
	}
	w := &where{}
	w.add("e.tenant_id = ?", scope.TenantID)
	w.add("e."+c.blindIndex+" = ?", index)
	if scope.restricted() {
		w.add("e.id = ANY(?)", scope.Visible)
	}
	found, err := collect(scope.bind(ctx), s.pool, "employee by identifier",
		`SELECT `+employeeColumns+` FROM employees e WHERE `+w.String()+` ORDER BY e.name, e.id LIMIT 1`, w.args, scanEmployee)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return found[0], nil
}

// ErasedName and ErasedEmail are the pseudonym an erased employee's name and e-mail become:
// derived from the id alone, so unique within the tenant as e-mail addresses must be, and
// telling nothing of the person.
func ErasedName(id uuid.UUID) string { return "Erased employee " + id.String()[:8] }

// ErasedEmail is the e-mail address of an erased employee (a reserved domain that cannot
// receive mail).
func ErasedEmail(id uuid.UUID) string { return "erased-" + id.String() + "@erased.invalid" }

// EraseEmployeePII overwrites the scope's employee id's personal data: ciphertexts and blind
// indexes NULL, name and e-mail replaced by a pseudonym derived from the id. Time entries,
// screenshots and memberships stay under the id. NOT_FOUND for an employee out of reach.
func (s *Store) EraseEmployeePII(ctx context.Context, scope Scope, id uuid.UUID) (*Employee, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*Employee, error) {
		if !scope.visible(id) {
			return nil, apperr.New(apperr.NotFound, "employee not found")
		}
		// Erasure replaces the name and e-mail: an ADMIN's are theirs to change only by an
		// ADMIN with a second factor (WriteLimits.AdminLocked), so HR cannot erase an ADMIN.
		var role string
		if err := tx.db.NewRaw(`SELECT role FROM employees WHERE tenant_id = ? AND id = ? FOR UPDATE`,
			scope.TenantID, id).Scan(ctx, &role); err != nil {
			return nil, translate(err, "employee")
		}
		if role == RoleAdmin && (slices.Contains(scope.Writes.AdminLocked, "name") || slices.Contains(scope.Writes.AdminLocked, "email")) {
			code := scope.Writes.AdminRefusal
			if code == "" {
				code = apperr.Forbidden
			}
			return nil, apperr.New(code, "only an ADMIN signed in with a second factor erases an ADMIN's personal data")
		}
		sets := []string{"name = ?", "email = ?", "updated_at = ?"}
		for _, c := range piiColumns {
			sets = append(sets, c.ciphertext+" = NULL", c.blindIndex+" = NULL")
		}
		return tx.updateEmployeeReturning(ctx, "employee", `UPDATE employees e SET `+strings.Join(sets, ", ")+`
			WHERE e.tenant_id = ? AND e.id = ?`, ErasedName(id), ErasedEmail(id), tx.now().UTC(), scope.TenantID, id)
	})
}

// EmployeeRecord is everything held about one employee (a GDPR access request).
type EmployeeRecord struct {
	// Employee carries its ciphertexts.
	Employee    *Employee
	ProjectIDs  []uuid.UUID
	TimeEntries []*TimeEntry
	// Screenshots' metadata: their stored files' keys are left out.
	Screenshots []*Screenshot
	// APIKeys bound to the employee; their secrets' hashes are left out.
	APIKeys []*APIKey
	// AuditLogs are the audit entries about the employee or by them, oldest first (at most
	// maxExportedAuditLogs, the newest kept).
	AuditLogs []*AuditLog
}

// maxExportedAuditLogs bounds the audit entries an export carries: a person's own trail, not a
// flood of security events, and an export must stay one response.
const maxExportedAuditLogs = 10_000

// EmployeeRecord reads everything held about the scope's employee id; run it in the
// transaction that audits the export. NOT_FOUND for an employee out of reach.
func (s *Store) EmployeeRecord(ctx context.Context, scope Scope, id uuid.UUID) (*EmployeeRecord, error) {
	e, err := s.EmployeeWithPII(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	r := &EmployeeRecord{Employee: e, ProjectIDs: []uuid.UUID{}, TimeEntries: []*TimeEntry{}, Screenshots: []*Screenshot{},
		APIKeys: []*APIKey{}}
	if err := s.db.NewRaw(`SELECT project_id FROM project_members WHERE tenant_id = ? AND employee_id = ? ORDER BY project_id`,
		scope.TenantID, id).Scan(ctx, &r.ProjectIDs); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err, "projects of employee")
	}
	if err := s.db.NewSelect().Model(&r.TimeEntries).Where("tenant_id = ? AND employee_id = ?", scope.TenantID, id).
		OrderExpr("start_time, id").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err, "time entries of employee")
	}
	if err := s.db.NewSelect().Model(&r.Screenshots).ExcludeColumn("original_key", "blob_key", "thumbnail_key").
		Where("tenant_id = ? AND employee_id = ?", scope.TenantID, id).OrderExpr("captured_at, id").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err, "screenshots of employee")
	}
	if err := s.db.NewSelect().Model(&r.APIKeys).ExcludeColumn("secret_hash").
		Where("tenant_id = ? AND employee_id = ?", scope.TenantID, id).OrderExpr("created_at, id").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err, "api keys of employee")
	}
	// Committed entries, read outside the transaction (the export's own entry is not among them).
	logs, err := collect(scope.bind(ctx), s.pool, "audit logs of employee",
		`SELECT * FROM (SELECT `+auditColumns+` FROM audit_logs a
			WHERE a.tenant_id = $1 AND (a.actor_id = $2 OR a.resource_id = $2)
			ORDER BY a.occurred_at DESC, a.seq DESC LIMIT $3) newest ORDER BY occurred_at, seq`,
		[]any{scope.TenantID, id, maxExportedAuditLogs}, scanAuditLog)
	if err != nil {
		return nil, err
	}
	r.AuditLogs = logs
	return r, nil
}
