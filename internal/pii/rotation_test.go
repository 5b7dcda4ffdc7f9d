package pii_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// clock is a settable time for a keyring's cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// countingKeysets counts the keyset reads that reach the store, and can hold them.
type countingKeysets struct {
	*store.Store
	reads atomic.Int64
	gate  chan struct{} // when set, reads wait for it to close
}

func (c *countingKeysets) PIIKeyset(ctx context.Context, scope store.Scope) (*store.PIIKeyset, error) {
	c.reads.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.Store.PIIKeyset(ctx, scope)
}

func keyOf(t *testing.T, ct []byte) uint32 {
	t.Helper()
	id, ok := store.PIIKeyOf(ct)
	require.True(t, ok, "a Tink ciphertext names its key")
	return id
}

type rotationBundle struct {
	store  *store.Store
	tenant uuid.UUID
	master []byte
}

func setupRotation(t *testing.T) *rotationBundle {
	t.Helper()
	s := testdb.Open(t, store.Opts{})
	tenant, err := s.CreateTenant(context.Background(), "acme", "Acme")
	require.NoError(t, err)
	return &rotationBundle{store: s, tenant: tenant.ID, master: masterKey(t)}
}

// TestRotationReachesOtherInstances: an instance that cached a tenant's keys encrypts under a
// primary rotated elsewhere once its cache is older than MaxAge, and decrypts a value made
// under a key it has not seen at once (it reads the keyset again).
func TestRotationReachesOtherInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRotation(t)
	row := uuid.New()
	rotator, err := pii.NewKeyring(b.master, b.store)
	require.NoError(t, err)
	clk := &clock{now: time.Now()}
	other, err := pii.NewKeyring(b.master, b.store, pii.KeyringOpts{MaxAge: time.Minute, Now: clk.Now})
	require.NoError(t, err)

	before, err := other.Encrypt(ctx, b.tenant, row, pii.SSN, "123-45-6789")
	require.NoError(t, err)
	old := keyOf(t, before)
	next, err := rotator.Rotate(ctx, b.tenant)
	require.NoError(t, err)
	require.NotEqual(t, old, next)

	after, err := rotator.Encrypt(ctx, b.tenant, row, pii.SSN, "123-45-6789")
	require.NoError(t, err)
	require.Equal(t, next, keyOf(t, after), "the rotating instance uses its new primary at once")

	// The other instance decrypts the new key's value without waiting: an unknown key id makes
	// it read the keyset again.
	pt, err := other.Decrypt(ctx, b.tenant, row, pii.SSN, after)
	require.NoError(t, err)
	require.Equal(t, "123-45-6789", pt)
	pt, err = rotator.Decrypt(ctx, b.tenant, row, pii.SSN, before)
	require.NoError(t, err, "the old key still decrypts")
	require.Equal(t, "123-45-6789", pt)

	// A third instance, loaded before the rotation and never shown a new-key value, moves to the
	// new primary once its cache is a minute old.
	third, err := pii.NewKeyring(b.master, b.store, pii.KeyringOpts{Now: clk.Now})
	require.NoError(t, err)
	_, err = third.Rotate(ctx, b.tenant) // loads, and rotates again
	require.NoError(t, err)
	latest, err := third.PrimaryKeyID(ctx, b.tenant)
	require.NoError(t, err)
	ct, err := other.Encrypt(ctx, b.tenant, row, pii.TaxID, "12-3456789")
	require.NoError(t, err)
	require.Equal(t, next, keyOf(t, ct), "still within the cache's minute")
	clk.Add(time.Minute + time.Second)
	ct, err = other.Encrypt(ctx, b.tenant, row, pii.TaxID, "12-3456789")
	require.NoError(t, err)
	require.Equal(t, latest, keyOf(t, ct), "past it, the stored primary")
}

// TestKeysetReadsAreShared: many requests of a tenant whose keys are not cached cause one read.
func TestKeysetReadsAreShared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRotation(t)
	seedRing, err := pii.NewKeyring(b.master, b.store)
	require.NoError(t, err)
	row := uuid.New()
	ct, err := seedRing.Encrypt(ctx, b.tenant, row, pii.SSN, "123-45-6789")
	require.NoError(t, err)

	keysets := &countingKeysets{Store: b.store, gate: make(chan struct{})}
	k, err := pii.NewKeyring(b.master, keysets)
	require.NoError(t, err)
	const callers = 50
	errs := make(chan error, callers)
	for range callers {
		go func() {
			pt, err := k.Decrypt(ctx, b.tenant, row, pii.SSN, ct)
			if err == nil && pt != "123-45-6789" {
				err = errors.New("wrong plaintext")
			}
			errs <- err
		}()
	}
	time.Sleep(200 * time.Millisecond) // every caller is waiting for the one read
	close(keysets.gate)
	for range callers {
		require.NoError(t, <-errs)
	}
	require.EqualValues(t, 1, keysets.reads.Load())
}

// TestConcurrentRotationsKeepEachOthersKeys: rotations racing from several instances each add
// their key; none is lost by the compare-and-swap.
func TestConcurrentRotationsKeepEachOthersKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRotation(t)
	first, err := pii.NewKeyring(b.master, b.store)
	require.NoError(t, err)
	original, err := first.Rotate(ctx, b.tenant) // the tenant's first key
	require.NoError(t, err)

	const rotations = 4
	ids := make(chan uint32, rotations)
	var wg sync.WaitGroup
	for range rotations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := pii.NewKeyring(b.master, b.store)
			if err != nil {
				t.Error(err)
				return
			}
			id, err := k.Rotate(ctx, b.tenant)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- id
		}()
	}
	wg.Wait()
	close(ids)
	info, err := first.Describe(ctx, b.tenant)
	require.NoError(t, err)
	require.Len(t, info.KeyIDs, rotations+1)
	require.Contains(t, info.KeyIDs, original)
	var added []uint32
	for id := range ids {
		require.Contains(t, info.KeyIDs, id)
		added = append(added, id)
	}
	require.Contains(t, added, info.Primary, "the last rotation's key is the primary")
}

// TestRetire: the primary, an unknown key, a key values still use and any key right after a
// rotation are refused; an unused old key is removed, and its values (had there been any) would
// no longer decrypt.
func TestRetire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRotation(t)
	scope := store.Scope{TenantID: b.tenant}
	emp, err := b.store.CreateEmployee(ctx, scope, store.EmployeeParams{Name: ptr("Ada"), Email: ptr("ada@acme.example"),
		Role: ptr(store.RoleEmployee)})
	require.NoError(t, err)
	// A minute's cache means retiring waits two minutes after a rotation; a millisecond's, two.
	patient, err := pii.NewKeyring(b.master, b.store)
	require.NoError(t, err)
	k, err := pii.NewKeyring(b.master, b.store, pii.KeyringOpts{MaxAge: time.Millisecond})
	require.NoError(t, err)

	ssn, err := k.Encrypt(ctx, b.tenant, emp.ID, pii.SSN, "123-45-6789")
	require.NoError(t, err)
	old := keyOf(t, ssn)
	require.NoError(t, b.store.WriteEmployeeCiphertexts(ctx, scope, store.PIICiphertexts{EmployeeID: emp.ID, SSN: ssn}))
	next, err := k.Rotate(ctx, b.tenant)
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond)

	err = k.Retire(ctx, b.tenant, next)
	require.ErrorIs(t, err, pii.ErrRetirePrimary)
	err = k.Retire(ctx, b.tenant, 12345)
	require.ErrorIs(t, err, pii.ErrUnknownKey)
	err = patient.Retire(ctx, b.tenant, old)
	require.ErrorIs(t, err, store.ErrPIIKeyRecentlyRotated)
	err = k.Retire(ctx, b.tenant, old)
	require.ErrorIs(t, err, store.ErrPIIKeyInUse)
	require.ErrorContains(t, err, "1 employees have values under key")

	// Moved onto the new key, the old one is unused and goes.
	moved, err := k.Encrypt(ctx, b.tenant, emp.ID, pii.SSN, "123-45-6789")
	require.NoError(t, err)
	require.Equal(t, next, keyOf(t, moved))
	require.NoError(t, b.store.WriteEmployeeCiphertexts(ctx, scope, store.PIICiphertexts{EmployeeID: emp.ID, SSN: moved}))
	require.NoError(t, k.Retire(ctx, b.tenant, old))
	info, err := k.Describe(ctx, b.tenant)
	require.NoError(t, err)
	require.Equal(t, []uint32{next}, info.KeyIDs)
	_, err = k.Decrypt(ctx, b.tenant, emp.ID, pii.SSN, ssn)
	require.ErrorIs(t, err, pii.ErrUndecryptable, "a retired key's values are gone")
	pt, err := patient.Decrypt(ctx, b.tenant, emp.ID, pii.SSN, moved)
	require.NoError(t, err)
	require.Equal(t, "123-45-6789", pt)
}

func ptr[T any](v T) *T { return &v }

// BenchmarkKeyring: one value encrypted or decrypted with a tenant's cached keys.
func BenchmarkKeyring(b *testing.B) {
	ctx := context.Background()
	s := testdb.Open(b, store.Opts{})
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(b, err)
	master := make([]byte, pii.MasterKeyBytes)
	k, err := pii.NewKeyring(master, s)
	require.NoError(b, err)
	row := uuid.New()
	ct, err := k.Encrypt(ctx, tenant.ID, row, pii.SSN, "123-45-6789")
	require.NoError(b, err)
	b.Run("Encrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Encrypt(ctx, tenant.ID, row, pii.SSN, "123-45-6789"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Decrypt(ctx, tenant.ID, row, pii.SSN, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
}
