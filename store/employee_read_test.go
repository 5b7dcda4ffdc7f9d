package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// TestEmployeeVersionChangesWithEveryWrite: every read of employees carries the row's version,
// the same through each read and EmployeePIIByIDs, and any write of the row — personal data
// set through the store, or any column changed by hand — gives it a new one, while the rows
// not written keep theirs. The masked forms of personal data are cached under it
// (pii.Keyring.CachedLastFours): a write that kept the version would serve stale ones.
func TestEmployeeVersionChangesWithEveryWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, scope := acmeStore(t)
	create := func(name string, manager *uuid.UUID) *store.Employee {
		email := uuid.NewString() + "@example.com"
		e, err := s.CreateEmployee(ctx, scope, store.EmployeeParams{Name: &name, Email: &email, ManagerID: manager})
		require.NoError(t, err)
		return e
	}
	boss := create("Boss", nil)
	report := create("Report", &boss.ID)
	ids := []uuid.UUID{boss.ID, report.ID}

	// versions reads every row's version through each read that returns employees, and
	// requires them to agree.
	versions := func() map[uuid.UUID]uint32 {
		t.Helper()
		out := map[uuid.UUID]uint32{}
		agree := func(how string, id uuid.UUID, v uint32) {
			require.NotZero(t, v, "%s: %s", how, id)
			if prev, ok := out[id]; ok {
				require.Equal(t, prev, v, "%s: %s", how, id)
			}
			out[id] = v
		}
		byIDs, err := s.EmployeesByIDs(ctx, scope, ids)
		require.NoError(t, err)
		require.Len(t, byIDs, 2)
		for _, e := range byIDs {
			agree("by ids", e.ID, e.Version)
		}
		page, err := s.ListEmployees(ctx, scope, store.ListEmployeesParams{}, store.PageParams{First: 10})
		require.NoError(t, err)
		require.Len(t, page.Rows, 2)
		for _, e := range page.Rows {
			agree("list", e.ID, e.Version)
		}
		refs, err := s.EmployeesWithRefsByIDs(ctx, scope, []uuid.UUID{report.ID})
		require.NoError(t, err)
		require.Len(t, refs, 1)
		agree("with refs", refs[0].Employee.ID, refs[0].Employee.Version)
		require.NotNil(t, refs[0].Manager)
		agree("as manager", refs[0].Manager.ID, refs[0].Manager.Version)
		cts, err := s.EmployeePIIByIDs(ctx, scope, ids)
		require.NoError(t, err)
		require.Len(t, cts, 2)
		for _, p := range cts {
			agree("ciphertexts", p.EmployeeID, p.Version)
		}
		return out
	}
	before := versions()

	set, err := s.SetEmployeePII(ctx, scope, report.ID, map[string]store.PIIValue{
		"SSN": {Ciphertext: []byte("ciphertext"), BlindIndex: []byte("index")}})
	require.NoError(t, err)
	afterSet := versions()
	require.NotEqual(t, before[report.ID], afterSet[report.ID], "setting personal data")
	require.Equal(t, afterSet[report.ID], set.Version, "the row the write returns")
	require.Equal(t, before[boss.ID], afterSet[boss.ID], "a row not written")

	// A write outside the store (an operator's UPDATE, ciphertexts swapped by hand) too.
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), scope.TenantID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE employees SET ssn_ciphertext = ssn_ciphertext WHERE id = $1`, report.ID)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("updated %d rows", tag.RowsAffected())
		}
		return err
	}))
	afterHand := versions()
	require.NotEqual(t, afterSet[report.ID], afterHand[report.ID], "an UPDATE by hand that changes no value")

	erased, err := s.EraseEmployeePII(ctx, scope, report.ID)
	require.NoError(t, err)
	afterErase := versions()
	require.NotEqual(t, afterHand[report.ID], afterErase[report.ID], "erasure")
	require.Equal(t, afterErase[report.ID], erased.Version)
	require.Equal(t, before[boss.ID], afterErase[boss.ID])
}

// TestEmployeeReadsScanEveryColumn: every pgx read of employees (which scans without allocating
// per nullable column, and interns role and status) gives what was written — set and NULL
// references and rate, each role and status —, and no two rows share a value's memory.
func TestEmployeeReadsScanEveryColumn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, scope := acmeStore(t)
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

	// Summaries: the same members in the same order, id, tenant and name only.
	for _, limit := range []int{2, 10} {
		full, err := s.MembersByProjectIDs(ctx, scope, []uuid.UUID{project.ID}, limit)
		require.NoError(t, err)
		summaries, err := s.MemberSummariesByProjectIDs(ctx, scope, []uuid.UUID{project.ID}, limit)
		require.NoError(t, err)
		require.Len(t, summaries, len(full))
		for i, m := range summaries {
			require.Equal(t, project.ID, m.ProjectID)
			require.Equal(t, store.Employee{ID: full[i].Employee.ID, TenantID: scope.TenantID, Name: full[i].Employee.Name},
				*m.Employee, "limit %d, member %d", limit, i)
		}
	}
}

// acmeStore is a store on a fresh database with one tenant, and that tenant's scope.
func acmeStore(t *testing.T) (*store.Store, store.Scope) {
	t.Helper()
	s := testdb.Open(t, store.Opts{})
	tenant, err := s.CreateTenant(context.Background(), "acme", "Acme")
	require.NoError(t, err)
	return s, store.Scope{TenantID: tenant.ID}
}
