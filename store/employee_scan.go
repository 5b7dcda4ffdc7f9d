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
	e.DepartmentID = nil
	if v.Valid {
		e.held.departmentID = v.Bytes
		e.DepartmentID = &e.held.departmentID
	}
	return nil
}

func (e *employeeManagerID) ScanUUID(v pgtype.UUID) error {
	e.ManagerID = nil
	if v.Valid {
		e.held.managerID = v.Bytes
		e.ManagerID = &e.held.managerID
	}
	return nil
}

func (e *employeeHourlyRate) ScanFloat64(v pgtype.Float8) error {
	e.HourlyRate = nil
	if v.Valid {
		e.held.hourlyRate = v.Float64
		e.HourlyRate = &e.held.hourlyRate
	}
	return nil
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
