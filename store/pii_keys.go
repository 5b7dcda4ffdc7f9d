package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PIIKeyset is a tenant's encrypted keysets (see migration pii_keysets): the store holds them
// as the master key left them and never sees a key.
type PIIKeyset struct {
	AEADKeyset   []byte
	MACKeyset    []byte
	PrimaryKeyID uint32
	UpdatedAt    time.Time
}

// PIIKeyset returns the scope's tenant's keysets, or nil when it has none yet.
func (s *Store) PIIKeyset(ctx context.Context, scope Scope) (*PIIKeyset, error) {
	var k PIIKeyset
	var primary int64
	err := s.pool.QueryRow(scope.bind(ctx),
		`SELECT aead_keyset, mac_keyset, primary_key_id, updated_at FROM pii_keysets WHERE tenant_id = $1`,
		scope.TenantID).Scan(&k.AEADKeyset, &k.MACKeyset, &primary, &k.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pii keyset: %w", err)
	}
	k.PrimaryKeyID = uint32(primary)
	return &k, nil
}

// CreatePIIKeyset stores k as the scope's tenant's first keysets, unless another writer (an
// instance racing this one) stored some first: it returns the keysets that hold.
func (s *Store) CreatePIIKeyset(ctx context.Context, scope Scope, k PIIKeyset) (*PIIKeyset, error) {
	// A tenant's first keys, made on first use inside a mutation: not its audited change.
	return inTx(unaudited(ctx), s, scope, func(tx *Store) (*PIIKeyset, error) {
		if _, err := tx.db.NewRaw(`INSERT INTO pii_keysets (tenant_id, aead_keyset, mac_keyset, primary_key_id)
			VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id) DO NOTHING`,
			scope.TenantID, k.AEADKeyset, k.MACKeyset, int64(k.PrimaryKeyID)).Exec(ctx); err != nil {
			return nil, fmt.Errorf("create pii keyset: %w", err)
		}
		var out PIIKeyset
		var primary int64
		if err := tx.db.NewRaw(`SELECT aead_keyset, mac_keyset, primary_key_id, updated_at FROM pii_keysets WHERE tenant_id = ?`,
			scope.TenantID).Scan(ctx, &out.AEADKeyset, &out.MACKeyset, &primary, &out.UpdatedAt); err != nil {
			return nil, fmt.Errorf("read pii keyset: %w", err)
		}
		out.PrimaryKeyID = uint32(primary)
		return &out, nil
	})
}
