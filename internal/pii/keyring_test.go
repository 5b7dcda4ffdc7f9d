package pii_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

func masterKey(t *testing.T) []byte {
	key := make([]byte, pii.MasterKeyBytes)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

func TestCiphertextsAreBoundToTheirPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	other, err := s.CreateTenant(ctx, "other", "Other")
	require.NoError(t, err)
	master := masterKey(t)
	k, err := pii.NewKeyring(master, s)
	require.NoError(t, err)

	rowA, rowB := uuid.New(), uuid.New()
	ct, err := k.Encrypt(ctx, tenant.ID, rowA, pii.SSN, "123-45-6789")
	require.NoError(t, err)
	require.NotContains(t, string(ct), "6789")
	pt, err := k.Decrypt(ctx, tenant.ID, rowA, pii.SSN, ct)
	require.NoError(t, err)
	require.Equal(t, "123-45-6789", pt)

	for name, try := range map[string]func() (string, error){
		"another row":    func() (string, error) { return k.Decrypt(ctx, tenant.ID, rowB, pii.SSN, ct) },
		"another column": func() (string, error) { return k.Decrypt(ctx, tenant.ID, rowA, pii.TaxID, ct) },
		"another tenant": func() (string, error) { return k.Decrypt(ctx, other.ID, rowA, pii.SSN, ct) },
	} {
		got, err := try()
		require.True(t, errors.Is(err, pii.ErrUndecryptable), "%s: %v", name, err)
		require.Empty(t, got, name)
		require.NotContains(t, err.Error(), "6789", name)
	}

	// Another process with the same master key opens the stored keyset; one with another
	// master key cannot, and says so without guessing.
	k2, err := pii.NewKeyring(master, s)
	require.NoError(t, err)
	pt, err = k2.Decrypt(ctx, tenant.ID, rowA, pii.SSN, ct)
	require.NoError(t, err)
	require.Equal(t, "123-45-6789", pt)
	wrong, err := pii.NewKeyring(masterKey(t), s)
	require.NoError(t, err)
	_, err = wrong.Decrypt(ctx, tenant.ID, rowA, pii.SSN, ct)
	require.ErrorContains(t, err, "PII_MASTER_KEY")

	i1, err := k.BlindIndex(ctx, tenant.ID, pii.SSN, "123456789")
	require.NoError(t, err)
	i2, err := k2.BlindIndex(ctx, tenant.ID, pii.SSN, "123456789")
	require.NoError(t, err)
	require.Equal(t, i1, i2, "the blind index is stable across processes")
	i3, err := k.BlindIndex(ctx, tenant.ID, pii.TaxID, "123456789")
	require.NoError(t, err)
	require.NotEqual(t, i1, i3, "fields are separate domains")
}
