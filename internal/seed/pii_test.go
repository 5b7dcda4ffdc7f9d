package seed_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// TestSeedPII: with a cipher, both demo tenants' employees get personal data in valid formats,
// encrypted for their row and indexed for exact lookup.
func TestSeedPII(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	master := make([]byte, pii.MasterKeyBytes)
	_, err := rand.Read(master)
	require.NoError(t, err)
	keyring, err := pii.NewKeyring(master, s)
	require.NoError(t, err)
	_, ok, err := seed.RunWithPII(ctx, s.Pool(), seed.Scale{Name: "tiny", Employees: 24, Projects: 2, Months: 1, EntriesPerDay: 1},
		time.Now(), keyring)
	require.NoError(t, err)
	require.True(t, ok)

	for _, slug := range []string{seed.DemoTenant, seed.OtherTenant} {
		tenant, err := s.TenantBySlug(ctx, slug)
		require.NoError(t, err)
		var ids []uuid.UUID
		require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenant.ID, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT id FROM employees`)
			if err != nil {
				return err
			}
			ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			return err
		}))
		scope := store.Scope{TenantID: tenant.ID}
		rows, err := s.EmployeePIIByIDs(ctx, scope, ids)
		require.NoError(t, err)
		require.Len(t, rows, len(ids))
		count := map[string]int{}
		for _, r := range rows {
			for field, ct := range r.Ciphertexts {
				count[field]++
				plain, err := keyring.Decrypt(ctx, tenant.ID, r.EmployeeID, field, ct)
				require.NoError(t, err)
				canonical, err := pii.Normalise(field, plain, "x")
				require.NoError(t, err, "%s is valid", field)
				require.Equal(t, canonical, plain, "stored in canonical form")
				idx, err := keyring.BlindIndex(ctx, tenant.ID, field, pii.IndexForm(plain))
				require.NoError(t, err)
				found, err := s.EmployeeByBlindIndex(ctx, scope, field, idx)
				require.NoError(t, err)
				require.NotNil(t, found, "%s is indexed", field)
			}
		}
		require.Equal(t, len(ids), count[pii.SSN], "everyone has an SSN")
		require.Equal(t, len(ids), count[pii.BankAccount])
		require.Greater(t, count[pii.PassportNumber], 0)
	}
}
