package store_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// TestCiphertextsReadWithRows: the rows read with their ciphertexts (one buffer per row) carry
// exactly what EmployeePIIByIDs reads — each value whole, NULL as nil — and appending to one
// ciphertext never reaches the next.
func TestCiphertextsReadWithRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, testdb.URL(t), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	scope := store.Scope{TenantID: tenant.ID}
	value := func(n int, b byte) store.PIIValue {
		return store.PIIValue{Ciphertext: bytes.Repeat([]byte{b}, n), BlindIndex: []byte{b}}
	}
	rows := map[string]map[string]store.PIIValue{
		"all four, the last too long to share": {"SSN": value(44, 1), "TAX_ID": value(43, 2), "PASSPORT_NUMBER": value(42, 3),
			"BANK_ACCOUNT": value(300, 4)},
		"some":  {"TAX_ID": value(43, 5), "BANK_ACCOUNT": value(75, 6)},
		"none":  {},
		"empty": {"SSN": {Ciphertext: []byte{}, BlindIndex: []byte{7}}},
	}
	var ids []uuid.UUID
	for name, values := range rows {
		email := uuid.NewString() + "@example.com"
		e, err := s.CreateEmployee(ctx, scope, store.EmployeeParams{Name: &name, Email: &email})
		require.NoError(t, err)
		if len(values) > 0 {
			_, err = s.SetEmployeePII(ctx, scope, e.ID, values)
			require.NoError(t, err)
		}
		ids = append(ids, e.ID)
	}
	want, err := s.EmployeePIIByIDs(ctx, scope, ids, store.PIIFieldNames())
	require.NoError(t, err)
	byID := map[uuid.UUID]map[string][]byte{}
	for _, p := range want {
		byID[p.EmployeeID] = p.Ciphertexts
	}
	read, err := s.EmployeesWithPIIByIDs(ctx, scope, ids)
	require.NoError(t, err)
	require.Len(t, read, len(ids))
	refs, err := s.EmployeesWithRefsAndPIIByIDs(ctx, scope, ids)
	require.NoError(t, err)
	for _, r := range refs {
		read = append(read, r.Employee)
	}
	for _, e := range read {
		require.True(t, e.CiphertextsRead())
		for _, field := range store.PIIFieldNames() {
			stored, set := byID[e.ID][field]
			got := e.Ciphertext(field)
			require.Equal(t, set, got != nil, "%s %s: set", e.Name, field)
			require.Equal(t, stored, got, "%s %s", e.Name, field)
			require.Equal(t, len(got), cap(got), "%s %s: appending would reach the next", e.Name, field)
		}
	}
}
