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
	s, err := store.Open(ctx, testdb.URL(t), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	scope := store.Scope{TenantID: tenant.ID}
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
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenant.ID, func(tx pgx.Tx) error {
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
