package pii_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// TestLastFourCacheFollowsTheRowVersion: the masked forms LastFours keeps (CachedLastFours) are only ever served for
// the row, tenant and row version they were decrypted for. A new version shows the new value's
// last four and no longer the old; version 0 (unknown) is never cached; a ciphertext moved from
// another row or column, or altered, fails as Decrypt does, also after the row's genuine one was
// cached, without keeping the row's other fields from showing, and keeps nothing.
func TestLastFourCacheFollowsTheRowVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	master := masterKey(t)
	for name, opts := range map[string]pii.KeyringOpts{"Cached": {}, "Uncached": {LastFourCacheSize: -1}} {
		cached := name == "Cached"
		t.Run(name, func(t *testing.T) {
			k, err := pii.NewKeyring(master, s, opts)
			require.NoError(t, err)
			rowA, rowB := uuid.New(), uuid.New()
			encrypt := func(row uuid.UUID, field, value string) []byte {
				ct, err := k.Encrypt(ctx, tenant.ID, row, field, value)
				require.NoError(t, err)
				return ct
			}
			// lastFour is field's form and failure from LastFours.
			lastFour := func(row uuid.UUID, field string, version uint32, ciphertexts map[string][]byte) (*string, error) {
				shown, failed := k.LastFours(ctx, tenant.ID, row, version, ciphertexts)
				return shown[pii.FieldIndex(field)], failed[pii.FieldIndex(field)]
			}
			ssnA, taxA := encrypt(rowA, pii.SSN, "123-45-6789"), encrypt(rowA, pii.TaxID, "12-3456789")
			ssnB := encrypt(rowB, pii.SSN, "987-65-4321")
			rowAt10 := map[string][]byte{pii.SSN: ssnA, pii.TaxID: taxA}
			requireShown := func(want string, shown *string, err error) {
				t.Helper()
				require.NoError(t, err)
				require.NotNil(t, shown)
				require.Equal(t, want, *shown)
			}
			requireCached := func(version uint32, field, want string) {
				t.Helper()
				shown := k.CachedLastFours(tenant.ID, rowA, version)
				require.Equal(t, cached, shown != nil, "cached at %d", version)
				if cached {
					requireShown(want, shown[pii.FieldIndex(field)], nil)
				}
			}
			requireMiss := func(tenantID uuid.UUID, version uint32) {
				t.Helper()
				require.Nil(t, k.CachedLastFours(tenantID, rowA, version), "version %d", version)
			}

			requireMiss(tenant.ID, 10)
			shown, err := lastFour(rowA, pii.SSN, 10, rowAt10)
			requireShown("***-**-6789", shown, err)
			requireCached(10, pii.SSN, "***-**-6789")
			requireCached(10, pii.TaxID, pii.LastFour(pii.TaxID, "12-3456789")) // decrypted with the row
			if cached {
				require.Nil(t, k.CachedLastFours(tenant.ID, rowA, 10)[pii.FieldIndex(pii.BankAccount)], "an unset field")
			}
			requireMiss(tenant.ID, 11)
			requireMiss(uuid.New(), 10)

			t.Run("VersionZeroIsNeverCached", func(t *testing.T) {
				rowC := uuid.New()
				shown, err := lastFour(rowC, pii.SSN, 0, map[string][]byte{pii.SSN: encrypt(rowC, pii.SSN, "111-22-3333")})
				requireShown("***-**-3333", shown, err)
				require.Nil(t, k.CachedLastFours(tenant.ID, rowC, 0))
			})
			t.Run("NewVersion", func(t *testing.T) {
				shown, err := lastFour(rowA, pii.SSN, 11, map[string][]byte{pii.SSN: encrypt(rowA, pii.SSN, "123-45-1111")})
				requireShown("***-**-1111", shown, err)
				requireCached(11, pii.SSN, "***-**-1111")
				requireMiss(tenant.ID, 10)
			})
			t.Run("ErrUndecryptable", func(t *testing.T) {
				altered := append([]byte(nil), ssnA...)
				altered[len(altered)-1] ^= 1
				for what, ct := range map[string][]byte{"another row's": ssnB, "altered": altered, "another column's": taxA} {
					row := map[string][]byte{pii.SSN: ct, pii.TaxID: taxA}
					shown, err := lastFour(rowA, pii.SSN, 12, row)
					require.True(t, errors.Is(err, pii.ErrUndecryptable), "%s: %v", what, err)
					require.Nil(t, shown)
					// The row's other field still shows, and nothing is kept for the row.
					shown, err = lastFour(rowA, pii.TaxID, 12, row)
					requireShown(pii.LastFour(pii.TaxID, "12-3456789"), shown, err)
					requireMiss(tenant.ID, 12)
				}
			})
		})
	}
}
