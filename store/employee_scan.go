package store

import (
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// Scan targets of an employee's columns that fill the Employee without an allocation of their
// own. pgx allocates the value a nullable column's pointer points to, and a string for every
// text value: five allocations per row, 3,000 of a projects page's members. The nullable
// columns' values live in the Employee (nullables), and role and status, which take a few
// values, are interned. Only the pgx reads use them; bun's and database/sql's scan as before.
type (
	employeeDepartmentID Employee
	employeeManagerID    Employee
	employeeHourlyRate   Employee
	employeeRole         Employee
	employeeStatus       Employee
)

// nullables holds the values of an Employee's nullable columns that the pgx reads point its
// fields at.
type nullables struct {
	departmentID, managerID uuid.UUID
	hourlyRate              float64
}

func (e *employeeDepartmentID) ScanUUID(v pgtype.UUID) error {
	hold(&e.DepartmentID, &e.held.departmentID, v.Bytes, v.Valid)
	return nil
}

func (e *employeeManagerID) ScanUUID(v pgtype.UUID) error {
	hold(&e.ManagerID, &e.held.managerID, v.Bytes, v.Valid)
	return nil
}

func (e *employeeHourlyRate) ScanFloat64(v pgtype.Float8) error {
	hold(&e.HourlyRate, &e.held.hourlyRate, v.Float64, v.Valid)
	return nil
}

// hold points *field at held, set to v, when valid; else sets it nil (NULL).
func hold[T any](field **T, held *T, v T, valid bool) {
	*field = nil
	if valid {
		*held = v
		*field = held
	}
}

var (
	employeeRoles    = []string{RoleAdmin, RoleHR, RoleManager, RoleEmployee, RoleAuditor}
	employeeStatuses = []string{EmployeeActive, EmployeeOnLeave, EmployeeTerminated}
)

func (e *employeeRole) ScanBytes(v []byte) error {
	e.Role = interned(v, employeeRoles)
	return nil
}

func (e *employeeStatus) ScanBytes(v []byte) error {
	e.Status = interned(v, employeeStatuses)
	return nil
}

// interned is v as the one of known it equals (no allocation), else a copy.
func interned(v []byte, known []string) string {
	for _, k := range known {
		if string(v) == k {
			return k
		}
	}
	return string(v)
}

// employeeTargets are the scan targets of employeeColumns for e.
func (e *Employee) employeeTargets() [13]any {
	return [13]any{&e.ID, &e.TenantID, (*employeeDepartmentID)(e), (*employeeManagerID)(e), &e.Name, &e.Email,
		(*employeeRole)(e), (*employeeStatus)(e), (*employeeHourlyRate)(e), &e.CreatedAt, &e.UpdatedAt, &e.PIIPresent, &e.Version}
}
