package pii

import (
	"context"

	"github.com/google/uuid"
	"github.com/maypok86/otter/v2"
)

// LastFourCacheSize is how many employees' masked forms a Keyring keeps by default
// (KeyringOpts): one entry per row whose last four were shown, ~250 bytes each, so ~16 MB when
// full.
const LastFourCacheSize = 1 << 16

// lastFoursKey is the row whose masked forms an entry holds.
type lastFoursKey struct{ tenant, row uuid.UUID }

// lastFours are the masked forms of a row's personal data as stored at one version of the row.
type lastFours struct {
	version uint32
	shown   *[4]*string // by FieldIndex, nil when unset; handed to every caller: never written through
}

// FieldIndex is field's place in Fields, and in the masked forms CachedLastFours gives; -1 for
// an unknown field.
func FieldIndex(field string) int {
	switch field {
	case SSN:
		return 0
	case TaxID:
		return 1
	case PassportNumber:
		return 2
	case BankAccount:
		return 3
	}
	return -1
}

// CachedLastFours are the masked forms of the personal data of employee row in tenant, by
// FieldIndex (nil for a field unset), as LastFours made them from the row's ciphertexts at
// version (store.Employee.Version: the row's xmin, which every write of the row changes), as
// the @pii fields show them to HR, ADMIN and the employee themself ("***-**-6789"). Nil when
// they are not cached for that version — version 0 (unknown) never is —: the caller then reads
// the ciphertexts and asks LastFours. A page of HR's thus reads no ciphertext and decrypts
// nothing once its rows were shown: a ciphertext written since (set, rotated, erased, swapped
// from another row by hand) came with a new version of the row, which misses, and is decrypted,
// failing if it must. The result is shared by every caller (gqlgen only reads a field's
// *string, so a page of them allocates none): never write through it.
func (k *Keyring) CachedLastFours(tenant, row uuid.UUID, version uint32) *[4]*string {
	if k.lastFours == nil || version == 0 {
		return nil
	}
	hit, ok := k.lastFours.GetIfPresent(lastFoursKey{tenant: tenant, row: row})
	if !ok || hit.version != version {
		return nil
	}
	return hit.shown
}

// LastFours are the masked forms of the personal data of employee row in tenant, by
// FieldIndex (nil for a field unset), from ciphertexts: every field of the row as read at
// version (store.EmployeePIIByIDs), a field absent being unset. Each is decrypted as Decrypt
// does; failed holds the failure of each field that does not decrypt (its form nil), which does
// not keep the row's others from showing. When all decrypt, the forms, never a plaintext, are
// kept for CachedLastFours to find at version (0: never). The result is shared: never write
// through it.
func (k *Keyring) LastFours(ctx context.Context, tenant, row uuid.UUID, version uint32, ciphertexts map[string][]byte) (shown *[4]*string, failed [4]error) {
	shown = new([4]*string)
	for i, f := range Fields() {
		ct, set := ciphertexts[f]
		if !set {
			continue
		}
		plain, err := k.Decrypt(ctx, tenant, row, f, ct)
		if err != nil {
			failed[i] = err
			continue
		}
		form := LastFour(f, plain)
		shown[i] = &form
	}
	if failed == ([4]error{}) && k.lastFours != nil && version != 0 {
		k.lastFours.Set(lastFoursKey{tenant: tenant, row: row}, lastFours{version: version, shown: shown})
	}
	return shown, failed
}

// newLastFours is the cache of LastFours (nil when size is negative: no cache): otter's, whose
// reads take no lock — a page of HR's looks up 200 masked forms, from 16 requests at once, and
// an LRU's lock and list moves on every read cost four times as much (95 against 25 ns).
func newLastFours(size int) (*otter.Cache[lastFoursKey, lastFours], error) {
	if size < 0 {
		return nil, nil
	}
	if size == 0 {
		size = LastFourCacheSize
	}
	return otter.New(&otter.Options[lastFoursKey, lastFours]{MaximumSize: size})
}
