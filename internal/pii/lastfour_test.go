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

// TestLastFourCacheFollowsTheCiphertext: the masked forms LastFour keeps are only ever served
// for the very ciphertext they came from. A new value in the same place shows the new last
// four; a ciphertext moved from another row or altered fails as Decrypt does, also after the
// place's genuine one was cached.
func TestLastFourCacheFollowsTheCiphertext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	master := masterKey(t)
	for name, opts := range map[string]pii.KeyringOpts{"Cached": {}, "Uncached": {LastFourCacheSize: -1}} {
		t.Run(name, func(t *testing.T) {
			k, err := pii.NewKeyring(master, s, opts)
			require.NoError(t, err)
			rowA, rowB := uuid.New(), uuid.New()
			ctA, err := k.Encrypt(ctx, tenant.ID, rowA, pii.SSN, "123-45-6789")
			require.NoError(t, err)
			ctB, err := k.Encrypt(ctx, tenant.ID, rowB, pii.SSN, "987-65-4321")
			require.NoError(t, err)
			for range 2 { // decrypted, then (when cached) found
				shown, err := k.LastFour(ctx, tenant.ID, rowA, pii.SSN, ctA)
				require.NoError(t, err)
				require.NotNil(t, shown)
				require.Equal(t, "***-**-6789", *shown)
			}

			t.Run("NewValue", func(t *testing.T) {
				ct, err := k.Encrypt(ctx, tenant.ID, rowA, pii.SSN, "123-45-1111")
				require.NoError(t, err)
				shown, err := k.LastFour(ctx, tenant.ID, rowA, pii.SSN, ct)
				require.NoError(t, err)
				require.NotNil(t, shown)
				require.Equal(t, "***-**-1111", *shown)
			})
			t.Run("ErrUndecryptable", func(t *testing.T) {
				altered := append([]byte(nil), ctA...)
				altered[len(altered)-1] ^= 1
				for what, ct := range map[string][]byte{"another row's": ctB, "altered": altered} {
					shown, err := k.LastFour(ctx, tenant.ID, rowA, pii.SSN, ct)
					require.True(t, errors.Is(err, pii.ErrUndecryptable), "%s: %v", what, err)
					require.Nil(t, shown)
				}
				// Cached for another column of the same row: no.
				_, err := k.LastFour(ctx, tenant.ID, rowA, pii.TaxID, ctA)
				require.True(t, errors.Is(err, pii.ErrUndecryptable), "another column: %v", err)
			})
		})
	}
}
