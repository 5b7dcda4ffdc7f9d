package pii

import (
	"bytes"
	"context"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
)

// LastFourCacheSize is how many masked forms a Keyring keeps by default (KeyringOpts): one per
// field of an employee whose last four were shown, ~200 bytes each, so ~13 MB when full.
const LastFourCacheSize = 1 << 16

// lastFourKey is where a ciphertext is stored: its tenant, row and field.
type lastFourKey struct {
	tenant, row uuid.UUID
	field       string
}

// lastFour is the masked form of the value of one stored ciphertext.
type lastFour struct {
	ciphertext []byte // a copy: the caller's may be reused
	shown      string
}

// LastFour is the masked form of the value of ciphertext, field of employee row in tenant, as
// the @pii fields show it to HR, ADMIN and the employee themself (pii.LastFour: "***-**-6789").
// It decrypts as Decrypt does (and fails as it does), and keeps the masked form, never the
// plaintext, in a bounded cache keyed by the ciphertext's place and checked against the
// ciphertext itself: an AEAD ciphertext has one plaintext, so the cached form is what decrypting
// again would give, and a ciphertext written since (set, rotated, erased, swapped from another
// row) misses and is decrypted, failing if it must. A page of employees otherwise decrypts each
// of its 200 fields on every request.
func (k *Keyring) LastFour(ctx context.Context, tenant, row uuid.UUID, field string, ciphertext []byte) (string, error) {
	key := lastFourKey{tenant: tenant, row: row, field: field}
	if k.lastFours != nil {
		if hit, ok := k.lastFours.Get(key); ok && bytes.Equal(hit.ciphertext, ciphertext) {
			return hit.shown, nil
		}
	}
	plain, err := k.Decrypt(ctx, tenant, row, field, ciphertext)
	if err != nil {
		return "", err
	}
	shown := LastFour(field, plain)
	if k.lastFours != nil {
		k.lastFours.Add(key, lastFour{ciphertext: bytes.Clone(ciphertext), shown: shown})
	}
	return shown, nil
}

// newLastFours is the cache of LastFour (nil when size is negative: no cache).
func newLastFours(size int) (*lru.Cache[lastFourKey, lastFour], error) {
	if size < 0 {
		return nil, nil
	}
	if size == 0 {
		size = LastFourCacheSize
	}
	return lru.New[lastFourKey, lastFour](size)
}
