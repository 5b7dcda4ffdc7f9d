package pii

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/workingtracker/api/store"
)

// Online key rotation: Rotate adds a data key and makes it primary (new ciphertexts use it at
// once here, and in other processes within KeyringOpts.MaxAge); the pii_reencrypt job moves
// stored values onto it; Retire removes a key no value uses any more. The MAC key of the blind
// indexes is not rotated (every index would have to be recomputed from plaintext).

// swapAttempts bounds Rotate's and Retire's compare-and-swap retries.
const swapAttempts = 5

// Errors of Retire.
var (
	ErrRetirePrimary = errors.New("pii: the primary key cannot be retired (rotate first)")
	ErrUnknownKey    = errors.New("pii: no such key in the tenant's keyset")
)

// KeysetInfo describes a tenant's data keys.
type KeysetInfo struct {
	Primary uint32
	KeyIDs  []uint32 // sorted
}

// Describe reads tenant's data keys as stored now (nil when the tenant has none yet).
func (k *Keyring) Describe(ctx context.Context, tenant uuid.UUID) (*KeysetInfo, error) {
	stored, err := k.keysets.PIIKeyset(ctx, store.Scope{TenantID: tenant})
	if err != nil || stored == nil {
		return nil, err
	}
	keys, err := k.open(tenant, stored)
	if err != nil {
		return nil, err
	}
	return &KeysetInfo{Primary: keys.primaryID, KeyIDs: keys.keyIDs}, nil
}

// Refresh reads tenant's keysets again now (the re-encryption job, before each batch).
func (k *Keyring) Refresh(ctx context.Context, tenant uuid.UUID) error {
	_, err := k.load(ctx, tenant)
	return err
}

// PrimaryKeyID is the id of the key Encrypt uses for tenant (as cached: Refresh first for the
// stored one).
func (k *Keyring) PrimaryKeyID(ctx context.Context, tenant uuid.UUID) (uint32, error) {
	keys, err := k.keys(ctx, tenant)
	if err != nil {
		return 0, err
	}
	return keys.primaryID, nil
}

// Rotate adds a fresh AES-256-GCM key to tenant's data keyset, makes it the primary and returns
// its id (a tenant without keys gets its first). Concurrent rotations each add their key: the
// stored keyset is replaced only if unchanged since it was read, else read again.
func (k *Keyring) Rotate(ctx context.Context, tenant uuid.UUID) (uint32, error) {
	return k.change(ctx, tenant, func(m *keyset.Manager, _ uint32) (store.PIIKeysetSwap, error) {
		id, err := m.Add(aead.AES256GCMKeyTemplate())
		if err != nil {
			return store.PIIKeysetSwap{}, fmt.Errorf("pii: new data key: %w", err)
		}
		if err := m.SetPrimary(id); err != nil {
			return store.PIIKeysetSwap{}, fmt.Errorf("pii: new data key: %w", err)
		}
		return store.PIIKeysetSwap{Rotated: true}, nil
	})
}

// Retire removes key keyID from tenant's data keyset. It refuses the primary
// (ErrRetirePrimary), a key the tenant does not have (ErrUnknownKey), a key any stored value
// still uses (store.ErrPIIKeyInUse) and any key while the last rotation is younger than twice
// MaxAge (store.ErrPIIKeyRecentlyRotated: instances may still encrypt under the old primary).
func (k *Keyring) Retire(ctx context.Context, tenant uuid.UUID, keyID uint32) error {
	_, err := k.change(ctx, tenant, func(m *keyset.Manager, primary uint32) (store.PIIKeysetSwap, error) {
		if keyID == primary {
			return store.PIIKeysetSwap{}, fmt.Errorf("%w: %d is tenant %s's primary", ErrRetirePrimary, keyID, tenant)
		}
		if err := m.Delete(keyID); err != nil {
			return store.PIIKeysetSwap{}, fmt.Errorf("%w: %d (tenant %s)", ErrUnknownKey, keyID, tenant)
		}
		return store.PIIKeysetSwap{Retiring: &keyID, Settle: 2 * k.maxAge}, nil
	})
	return err
}

// change applies edit to tenant's stored data keyset and swaps the result in, reading again
// when another writer changed it meanwhile; it returns the new primary.
func (k *Keyring) change(ctx context.Context, tenant uuid.UUID,
	edit func(m *keyset.Manager, primary uint32) (store.PIIKeysetSwap, error),
) (uint32, error) {
	scope := store.Scope{TenantID: tenant}
	ad := tenantAD(tenant, "aead")
	for range swapAttempts {
		stored, err := k.keysets.PIIKeyset(ctx, scope)
		if err != nil {
			return 0, err
		}
		if stored == nil { // the first keyset is a new primary already
			keys, err := k.load(ctx, tenant)
			if err != nil {
				return 0, err
			}
			return keys.primaryID, nil
		}
		h, err := k.unwrap(stored.AEADKeyset, ad)
		if err != nil {
			return 0, err
		}
		primary, err := h.Primary()
		if err != nil {
			return 0, fmt.Errorf("pii: data keys: %w", err)
		}
		m := keyset.NewManagerFromHandle(h)
		swap, err := edit(m, primary.KeyID())
		if err != nil {
			return 0, err
		}
		next, err := m.Handle()
		if err != nil {
			return 0, fmt.Errorf("pii: data keys: %w", err)
		}
		if primary, err = next.Primary(); err != nil {
			return 0, fmt.Errorf("pii: data keys: %w", err)
		}
		swap.Expected = stored.AEADKeyset
		swap.Next.PrimaryKeyID = primary.KeyID()
		if swap.Next.AEADKeyset, err = k.wrap(next, ad); err != nil {
			return 0, err
		}
		swapped, err := k.keysets.SwapPIIKeyset(ctx, scope, swap)
		if err != nil {
			return 0, err
		}
		if swapped {
			// This instance encrypts under the new primary at once.
			if _, err := k.load(ctx, tenant); err != nil {
				return 0, err
			}
			return primary.KeyID(), nil
		}
	}
	return 0, fmt.Errorf("pii: tenant %s's keyset kept changing during %d attempts: try again", tenant, swapAttempts)
}
