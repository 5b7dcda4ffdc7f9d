// Package pii encrypts employees' personal data (SSN, tax id, passport number, bank account):
// envelope encryption with Tink. Each tenant has its own AES-256-GCM keyset, stored only
// encrypted by the master key (PII_MASTER_KEY) with the tenant's id as associated data; each
// ciphertext starts with the id of the key that made it (Tink's prefix), and its associated data
// binds it to tenant, table, column and row, so a ciphertext copied anywhere else fails to
// decrypt with an error instead of yielding another person's data. A keyed HMAC (its own
// keyset) of the normalised value is the blind index, the only derived value stored.
//
// Plaintext exists only in memory, only as long as a request needs it; nothing here logs, wraps
// or returns it in an error.
package pii

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/maypok86/otter/v2"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"
	"github.com/tink-crypto/tink-go/v2/tink"
	"golang.org/x/sync/singleflight"

	"github.com/workingtracker/api/store"
)

// The kinds of personal data (GraphQL PIIField's values).
const (
	SSN            = "SSN"
	TaxID          = "TAX_ID"
	PassportNumber = "PASSPORT_NUMBER"
	BankAccount    = "BANK_ACCOUNT"
)

// Fields are every kind, in the schema's order.
func Fields() []string { return []string{SSN, TaxID, PassportNumber, BankAccount} }

// column is the employees column holding field's ciphertext.
var column = map[string]string{
	SSN:            "ssn_ciphertext",
	TaxID:          "tax_id_ciphertext",
	PassportNumber: "passport_ciphertext",
	BankAccount:    "bank_account_ciphertext",
}

// MasterKeyBytes is the length of PII_MASTER_KEY (AES-256).
const MasterKeyBytes = 32

// Keysets is where tenants' encrypted keysets live (the store).
type Keysets interface {
	PIIKeyset(ctx context.Context, scope store.Scope) (*store.PIIKeyset, error)
	CreatePIIKeyset(ctx context.Context, scope store.Scope, k store.PIIKeyset) (*store.PIIKeyset, error)
	// SwapPIIKeyset replaces a tenant's AEAD keyset if it is still the expected one (Rotate,
	// Retire).
	SwapPIIKeyset(ctx context.Context, scope store.Scope, w store.PIIKeysetSwap) (bool, error)
}

// Keyring encrypts, decrypts and indexes personal data with each tenant's keys. It caches a
// tenant's opened keysets for at most KeyringOpts.MaxAge, and re-reads them at once when a
// ciphertext names a key it does not hold, so a rotation made by another process (keys rotate)
// reaches it within that bound; one read per tenant at a time (singleflight), however many
// requests wait for it. It is safe for concurrent use.
type Keyring struct {
	master  tink.AEAD
	keysets Keysets
	maxAge  time.Duration
	now     func() time.Time

	mu      sync.Mutex
	tenants map[uuid.UUID]*tenantKeys
	loads   singleflight.Group

	lastFours *otter.Cache[lastFoursKey, lastFours] // LastFour's masked forms by row (nil: none kept)
}

// KeyringOpts tune a Keyring; zero values take the defaults.
type KeyringOpts struct {
	// MaxAge is how long a tenant's keysets are used before they are read again (default
	// DefaultMaxAge): after a rotation, an instance may encrypt under the previous primary
	// for this long.
	MaxAge time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// LastFourCacheSize is how many rows' masked forms LastFour keeps (default LastFourCacheSize;
	// negative: none, every call decrypts).
	LastFourCacheSize int
}

// DefaultMaxAge is KeyringOpts.MaxAge's default.
const DefaultMaxAge = time.Minute

// loadTimeout bounds the read of a tenant's keysets, which every waiting request shares.
const loadTimeout = 10 * time.Second

type tenantKeys struct {
	aead      tink.AEAD
	mac       tink.MAC
	primaryID uint32
	keyIDs    []uint32 // every data key's id, sorted
	// The keysets as stored: a re-read that finds them unchanged opens nothing.
	aeadKeyset, macKeyset []byte
	loadedAt              time.Time
}

func (t *tenantKeys) holds(keyID uint32) bool {
	_, ok := slices.BinarySearch(t.keyIDs, keyID)
	return ok
}

// NewKeyring returns a keyring whose tenant keysets are wrapped by masterKey (32 bytes). At most
// one KeyringOpts.
func NewKeyring(masterKey []byte, keysets Keysets, opts ...KeyringOpts) (*Keyring, error) {
	if len(masterKey) != MasterKeyBytes {
		return nil, fmt.Errorf("pii: the master key must be %d bytes, not %d", MasterKeyBytes, len(masterKey))
	}
	if len(opts) > 1 {
		return nil, errors.New("pii: at most one KeyringOpts")
	}
	var o KeyringOpts
	if len(opts) == 1 {
		o = opts[0]
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	master, err := subtle.NewAESGCM(masterKey)
	if err != nil {
		return nil, fmt.Errorf("pii: master key: %w", err)
	}
	lastFours, err := newLastFours(o.LastFourCacheSize)
	if err != nil {
		return nil, fmt.Errorf("pii: last-four cache: %w", err)
	}
	return &Keyring{master: master, keysets: keysets, maxAge: o.MaxAge, now: o.Now, tenants: map[uuid.UUID]*tenantKeys{},
		lastFours: lastFours}, nil
}

// ErrUndecryptable is wrapped by every failure to decrypt a stored ciphertext: it was made for
// another tenant, row or column, was altered, or its key is gone.
var ErrUndecryptable = errors.New("pii: ciphertext does not decrypt")

// Encrypt returns plaintext encrypted for field of employee row in tenant, under the tenant's
// primary key (created on the tenant's first use).
func (k *Keyring) Encrypt(ctx context.Context, tenant, row uuid.UUID, field, plaintext string) ([]byte, error) {
	keys, err := k.keys(ctx, tenant)
	if err != nil {
		return nil, err
	}
	ad, err := associatedData(tenant, row, field)
	if err != nil {
		return nil, err
	}
	ct, err := keys.aead.Encrypt([]byte(plaintext), ad)
	if err != nil {
		return nil, fmt.Errorf("pii: encrypt %s: %w", field, err)
	}
	return ct, nil
}

// Decrypt returns the plaintext of ciphertext, which must have been made by Encrypt for the
// same tenant, row and field; anything else fails with ErrUndecryptable.
func (k *Keyring) Decrypt(ctx context.Context, tenant, row uuid.UUID, field string, ciphertext []byte) (string, error) {
	keys, err := k.keys(ctx, tenant)
	if err != nil {
		return "", err
	}
	ad, err := associatedData(tenant, row, field)
	if err != nil {
		return "", err
	}
	if id, ok := store.PIIKeyOf(ciphertext); ok && !keys.holds(id) {
		// Made under a key this instance has not seen: another process rotated. Read again.
		if keys, err = k.load(ctx, tenant); err != nil {
			return "", err
		}
	}
	pt, err := keys.aead.Decrypt(ciphertext, ad)
	if err != nil {
		return "", fmt.Errorf("%w: %s of employee %s (tenant %s): copied from another row or column, altered, or its key retired",
			ErrUndecryptable, column[field], row, tenant)
	}
	return string(pt), nil
}

// BlindIndex is the keyed hash by which field's normalised value is found (employeeByIdentifier);
// callers normalise first, so that formatting does not matter.
func (k *Keyring) BlindIndex(ctx context.Context, tenant uuid.UUID, field, normalised string) ([]byte, error) {
	keys, err := k.keys(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if _, ok := column[field]; !ok {
		return nil, fmt.Errorf("pii: unknown field %q", field)
	}
	tag, err := keys.mac.ComputeMAC([]byte(field + "\x00" + normalised))
	if err != nil {
		return nil, fmt.Errorf("pii: blind index: %w", err)
	}
	return tag, nil
}

// associatedData binds a ciphertext to its place: tenant, table, column and row.
func associatedData(tenant, row uuid.UUID, field string) ([]byte, error) {
	col, ok := column[field]
	if !ok {
		return nil, fmt.Errorf("pii: unknown field %q", field)
	}
	const prefix, table = "workingtracker/pii/v1\x00", "\x00employees\x00"
	ad := make([]byte, 0, len(prefix)+36+len(table)+len(col)+1+36)
	ad = append(ad, prefix...)
	ad = appendUUID(ad, tenant)
	ad = append(ad, table...)
	ad = append(ad, col...)
	ad = append(ad, 0)
	return appendUUID(ad, row), nil
}

// appendUUID appends id's canonical form (uuid.UUID.String) to b, without the string.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var text [36]byte
	hex.Encode(text[0:8], id[0:4])
	text[8] = '-'
	hex.Encode(text[9:13], id[4:6])
	text[13] = '-'
	hex.Encode(text[14:18], id[6:8])
	text[18] = '-'
	hex.Encode(text[19:23], id[8:10])
	text[23] = '-'
	hex.Encode(text[24:], id[10:])
	return append(b, text[:]...)
}

// keys returns tenant's opened keysets, read again when older than maxAge and created on the
// tenant's first use.
func (k *Keyring) keys(ctx context.Context, tenant uuid.UUID) (*tenantKeys, error) {
	k.mu.Lock()
	keys := k.tenants[tenant]
	k.mu.Unlock()
	if keys != nil && k.now().Sub(keys.loadedAt) < k.maxAge {
		return keys, nil
	}
	return k.load(ctx, tenant)
}

// load reads tenant's keysets (creating them on its first use) and caches them opened: one
// read per tenant at a time, shared by every caller waiting for it. A failed read fails its
// callers (keys older than maxAge are not used: a retired key must not encrypt again).
func (k *Keyring) load(ctx context.Context, tenant uuid.UUID) (*tenantKeys, error) {
	v, err, _ := k.loads.Do(tenant.String(), func() (any, error) {
		// Shared by every waiter: one caller's cancellation must not fail the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		scope := store.Scope{TenantID: tenant}
		stored, err := k.keysets.PIIKeyset(ctx, scope)
		if err != nil {
			return nil, err
		}
		if stored == nil {
			fresh, err := k.newKeysets(tenant)
			if err != nil {
				return nil, err
			}
			if stored, err = k.keysets.CreatePIIKeyset(ctx, scope, *fresh); err != nil {
				return nil, err
			}
		}
		now := k.now()
		k.mu.Lock()
		held := k.tenants[tenant]
		k.mu.Unlock()
		var keys *tenantKeys
		if held != nil && bytes.Equal(held.aeadKeyset, stored.AEADKeyset) && bytes.Equal(held.macKeyset, stored.MACKeyset) {
			again := *held
			keys = &again
		} else if keys, err = k.open(tenant, stored); err != nil {
			return nil, err
		}
		keys.loadedAt = now
		k.mu.Lock()
		k.tenants[tenant] = keys
		k.mu.Unlock()
		return keys, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*tenantKeys), nil
}

// tenantAD binds a tenant's wrapped keysets to the tenant.
func tenantAD(tenant uuid.UUID, kind string) []byte {
	return []byte("workingtracker/pii-keyset/v1\x00" + kind + "\x00" + tenant.String())
}

func (k *Keyring) newKeysets(tenant uuid.UUID) (*store.PIIKeyset, error) {
	aeadHandle, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("pii: new data key: %w", err)
	}
	macHandle, err := keyset.NewHandle(mac.HMACSHA256Tag256KeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("pii: new index key: %w", err)
	}
	primary, err := aeadHandle.Primary()
	if err != nil {
		return nil, fmt.Errorf("pii: new data key: %w", err)
	}
	out := &store.PIIKeyset{PrimaryKeyID: primary.KeyID()}
	if out.AEADKeyset, err = k.wrap(aeadHandle, tenantAD(tenant, "aead")); err != nil {
		return nil, err
	}
	if out.MACKeyset, err = k.wrap(macHandle, tenantAD(tenant, "mac")); err != nil {
		return nil, err
	}
	return out, nil
}

func (k *Keyring) wrap(h *keyset.Handle, ad []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), k.master, ad); err != nil {
		return nil, fmt.Errorf("pii: wrap keyset: %w", err)
	}
	return buf.Bytes(), nil
}

func (k *Keyring) unwrap(wrapped, ad []byte) (*keyset.Handle, error) {
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(wrapped)), k.master, ad)
	if err != nil {
		return nil, fmt.Errorf("pii: open keyset (wrong PII_MASTER_KEY, or a keyset of another tenant): %w", err)
	}
	return h, nil
}

func (k *Keyring) open(tenant uuid.UUID, stored *store.PIIKeyset) (*tenantKeys, error) {
	aeadHandle, err := k.unwrap(stored.AEADKeyset, tenantAD(tenant, "aead"))
	if err != nil {
		return nil, err
	}
	macHandle, err := k.unwrap(stored.MACKeyset, tenantAD(tenant, "mac"))
	if err != nil {
		return nil, err
	}
	a, err := aead.New(aeadHandle)
	if err != nil {
		return nil, fmt.Errorf("pii: data keys: %w", err)
	}
	m, err := mac.New(macHandle)
	if err != nil {
		return nil, fmt.Errorf("pii: index key: %w", err)
	}
	primary, err := aeadHandle.Primary()
	if err != nil {
		return nil, fmt.Errorf("pii: data keys: %w", err)
	}
	var ids []uint32
	for _, info := range aeadHandle.KeysetInfo().GetKeyInfo() {
		ids = append(ids, info.GetKeyId())
	}
	slices.Sort(ids)
	return &tenantKeys{aead: a, mac: m, primaryID: primary.KeyID(), keyIDs: ids,
		aeadKeyset: stored.AEADKeyset, macKeyset: stored.MACKeyset}, nil
}
