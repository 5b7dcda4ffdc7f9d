package pii_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// BenchmarkDecrypt is one field's decryption with a tenant's keys cached, as the @pii fields of
// a page of employees make it (the ciphertext read already).
func BenchmarkDecrypt(b *testing.B) {
	ctx := context.Background()
	s := testdb.Open(b, store.Opts{})
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(b, err)
	k, err := pii.NewKeyring(make([]byte, pii.MasterKeyBytes), s)
	require.NoError(b, err)
	row := uuid.New()
	ct, err := k.Encrypt(ctx, tenant.ID, row, pii.SSN, "123-45-6789")
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.Decrypt(ctx, tenant.ID, row, pii.SSN, ct); err != nil {
			b.Fatal(err)
		}
	}
}
