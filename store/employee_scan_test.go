package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// TestEmployeeReadsScanEveryColumn: every pgx read of employees (which scans without allocating
// per nullable column, and interns role and status) gives what was written — set and NULL
// references and rate, each role and status —, and no two rows share a value's memory.
func TestEmployeeReadsScanEveryColumn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, testdb.URL(t), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	scope := store.Scope{TenantID: tenant.ID}
	dept, err := s.CreateDepartment(ctx, scope, "Engineering")
	require.NoError(t, err)
	project, err := s.CreateProject(ctx, scope, store.ProjectParams{Name: ptr("Apollo")})
	require.NoError(t, err)

	var written []*store.Employee
	create := func(name, role, status string, department, manager *uuid.UUID, rate *float64) {
		email := uuid.NewString() + "@example.com"
		e, err := s.CreateEmployee(ctx, scope, store.EmployeeParams{Name: &name, Email: &email, Role: &role, Status: &status,
			DepartmentID: department, ManagerID: manager, HourlyRate: rate})
		require.NoError(t, err)
		_, err = s.AddProjectMember(ctx, scope, project.ID, e.ID)
		require.NoError(t, err)
		written = append(written, e)
	}
	create("Boss", store.RoleAdmin, store.EmployeeActive, &dept.ID, nil, ptr(120.5))
	boss := written[0].ID
	create("Ann", store.RoleHR, store.EmployeeOnLeave, nil, &boss, nil)
	create("Bob", store.RoleManager, store.EmployeeTerminated, &dept.ID, &boss, ptr(80.0))
	create("Cid", store.RoleEmployee, store.EmployeeActive, nil, nil, ptr(0.0))
	create("Dee", store.RoleAuditor, store.EmployeeActive, &dept.ID, &boss, nil)
	ids := make([]uuid.UUID, len(written))
	for i, e := range written {
		ids[i] = e.ID
	}

	requireSame := func(how string, got []*store.Employee) {
		t.Helper()
		require.Len(t, got, len(written), how)
		byID := map[uuid.UUID]*store.Employee{}
		for _, e := range got {
			byID[e.ID] = e
		}
		for _, want := range written {
			e := byID[want.ID]
			require.NotNil(t, e, "%s: %s", how, want.Name)
			require.Equal(t, []any{want.Name, want.Email, want.Role, want.Status, want.DepartmentID, want.ManagerID, want.HourlyRate},
				[]any{e.Name, e.Email, e.Role, e.Status, e.DepartmentID, e.ManagerID, e.HourlyRate}, "%s: %s", how, want.Name)
		}
		// Each row's values are its own: writing a different one into each row's leaves every
		// other row's as it was.
		for i, e := range got {
			if e.DepartmentID != nil {
				*e.DepartmentID = e.ID
			}
			if e.HourlyRate != nil {
				*e.HourlyRate = float64(i)
			}
		}
		for i, e := range got {
			if e.DepartmentID != nil {
				require.Equal(t, e.ID, *e.DepartmentID, how)
			}
			if e.HourlyRate != nil {
				require.Equal(t, float64(i), *e.HourlyRate, how)
			}
		}
	}
	byIDs, err := s.EmployeesByIDs(ctx, scope, ids)
	require.NoError(t, err)
	requireSame("by ids", byIDs)
	page, err := s.ListEmployees(ctx, scope, store.ListEmployeesParams{}, store.PageParams{First: 10})
	require.NoError(t, err)
	requireSame("list", page.Rows)
	refs, err := s.EmployeesWithRefsByIDs(ctx, scope, ids)
	require.NoError(t, err)
	var withRefs []*store.Employee
	for _, r := range refs {
		withRefs = append(withRefs, r.Employee)
	}
	requireSame("with refs", withRefs)
	members, err := s.MembersByProjectIDs(ctx, scope, []uuid.UUID{project.ID}, 10)
	require.NoError(t, err)
	var asMembers []*store.Employee
	for _, m := range members {
		require.Equal(t, project.ID, m.ProjectID)
		asMembers = append(asMembers, m.Employee)
	}
	requireSame("members", asMembers)
}
