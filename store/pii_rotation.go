package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The SQL of online key rotation (workingtracker keys, jobs' pii_reencrypt). A Tink ciphertext
// starts with 0x01 and the 4-byte big-endian id of the key that made it, so the store compares
// ciphertexts' first five bytes with a key's prefix: which rows a key still seals is read from
// the rows themselves, and re-encryption needs no progress of its own.

// PIIColumns are the employees columns holding ciphertexts, in PIICiphertexts' order (keys
// status reports by column).
func PIIColumns() []string {
	out := make([]string, len(piiColumns))
	for i, c := range piiColumns {
		out[i] = c.ciphertext
	}
	return out
}

// PIIKeyPrefix is the first five bytes of every ciphertext made by Tink key keyID.
func PIIKeyPrefix(keyID uint32) []byte {
	p := []byte{1, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(p[1:], keyID)
	return p
}

// PIIKeyOf returns the id of the key that made ciphertext, and false when it is not a Tink
// ciphertext with a key id.
func PIIKeyOf(ciphertext []byte) (uint32, bool) {
	if len(ciphertext) < 5 || ciphertext[0] != 1 {
		return 0, false
	}
	return binary.BigEndian.Uint32(ciphertext[1:5]), true
}

// PIICiphertexts are an employee's four encrypted values (nil: unset).
type PIICiphertexts struct {
	EmployeeID                              uuid.UUID
	SSN, TaxID, PassportNumber, BankAccount []byte
}

// Columns are the four values in piiColumns' order, addressable for rewriting.
func (c *PIICiphertexts) Columns() []*[]byte {
	return []*[]byte{&c.SSN, &c.TaxID, &c.PassportNumber, &c.BankAccount}
}

// WriteEmployeeCiphertexts replaces employee c.EmployeeID's four ciphertexts as given (tests
// and tools seeding encrypted rows; the API's setEmployeePII writes blind indexes too).
func (s *Store) WriteEmployeeCiphertexts(ctx context.Context, scope Scope, c PIICiphertexts) error {
	_, err := inTx(ctx, s, scope, func(tx *Store) (struct{}, error) {
		res, err := tx.db.NewRaw(`UPDATE employees SET ssn_ciphertext = ?, tax_id_ciphertext = ?, passport_ciphertext = ?,
			bank_account_ciphertext = ? WHERE tenant_id = ? AND id = ?`,
			c.SSN, c.TaxID, c.PassportNumber, c.BankAccount, scope.TenantID, c.EmployeeID).Exec(ctx)
		if err != nil {
			return struct{}{}, fmt.Errorf("write employee ciphertexts: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return struct{}{}, translate(pgx.ErrNoRows, "employee")
		}
		return struct{}{}, nil
	})
	return err
}

// EmployeeCiphertexts returns the scope's employees' ciphertexts, by employee id (tests, tools).
func (s *Store) EmployeeCiphertexts(ctx context.Context, scope Scope) (map[uuid.UUID]PIICiphertexts, error) {
	rows, err := s.pool.Query(scope.bind(ctx), `SELECT id, ssn_ciphertext, tax_id_ciphertext, passport_ciphertext,
		bank_account_ciphertext FROM employees WHERE tenant_id = $1`, scope.TenantID)
	if err != nil {
		return nil, fmt.Errorf("read employee ciphertexts: %w", err)
	}
	out := map[uuid.UUID]PIICiphertexts{}
	var c PIICiphertexts
	_, err = pgx.ForEachRow(rows, []any{&c.EmployeeID, &c.SSN, &c.TaxID, &c.PassportNumber, &c.BankAccount}, func() error {
		out[c.EmployeeID] = c
		c = PIICiphertexts{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read employee ciphertexts: %w", err)
	}
	return out, nil
}

// PIIKeyUse counts the values of one column sealed by one key.
type PIIKeyUse struct {
	Column string
	// KeyID is the key's id; Recognised is false for values that are no Tink ciphertext with a
	// key id (KeyID then 0).
	KeyID      uint32
	Recognised bool
	Values     int64
}

// PIIKeyUses counts the scope's tenant's encrypted values by column and key, ordered by column
// (piiColumns' order) then key id.
func (s *Store) PIIKeyUses(ctx context.Context, scope Scope) ([]PIIKeyUse, error) {
	rows, err := s.pool.Query(scope.bind(ctx), `SELECT c.ord, substring(c.ct from 1 for 5), count(*)
		FROM employees e, LATERAL (VALUES (1, e.ssn_ciphertext), (2, e.tax_id_ciphertext), (3, e.passport_ciphertext),
			(4, e.bank_account_ciphertext)) c(ord, ct)
		WHERE e.tenant_id = $1 AND c.ct IS NOT NULL
		GROUP BY 1, 2 ORDER BY 1, 2`, scope.TenantID)
	if err != nil {
		return nil, fmt.Errorf("count pii key uses: %w", err)
	}
	var out []PIIKeyUse
	var ord int
	var prefix []byte
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&ord, &prefix, &n}, func() error {
		use := PIIKeyUse{Column: piiColumns[ord-1].ciphertext, Values: n}
		use.KeyID, use.Recognised = PIIKeyOf(prefix)
		out = append(out, use)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count pii key uses: %w", err)
	}
	return out, nil
}

// PIIKeysetRotatedAt is when the scope's tenant's primary data key last changed (zero: no
// keyset).
func (s *Store) PIIKeysetRotatedAt(ctx context.Context, scope Scope) (time.Time, error) {
	var at time.Time
	err := s.pool.QueryRow(scope.bind(ctx), `SELECT rotated_at FROM pii_keysets WHERE tenant_id = $1`, scope.TenantID).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read pii keyset: %w", err)
	}
	return at, nil
}

// Refusals of SwapPIIKeyset.
var (
	// ErrPIIKeyInUse: a ciphertext still uses the key being retired.
	ErrPIIKeyInUse = errors.New("the key still encrypts stored values")
	// ErrPIIKeyRecentlyRotated: the primary changed too recently to retire a key (instances may
	// still encrypt under the previous primary).
	ErrPIIKeyRecentlyRotated = errors.New("the primary key changed too recently")
)

// PIIKeysetSwap is a compare-and-swap of a tenant's data keyset.
type PIIKeysetSwap struct {
	// Expected is the AEAD keyset as read before the change was made: the swap happens only if
	// it is still the stored one, so two concurrent changes cannot lose each other's.
	Expected []byte
	// Next holds the new AEAD keyset and its primary key id (its MAC keyset is not changed).
	Next PIIKeyset
	// Rotated says the primary changed: rotated_at becomes now.
	Rotated bool
	// Retiring, when set, is the key the change removes: refused with ErrPIIKeyInUse while any
	// of the tenant's ciphertexts uses it, and with ErrPIIKeyRecentlyRotated while the last
	// rotation is younger than Settle. Both are checked in the transaction that swaps.
	Retiring *uint32
	Settle   time.Duration
}

// SwapPIIKeyset replaces the scope's tenant's AEAD keyset by w.Next if it is still w.Expected,
// and reports whether it did.
func (s *Store) SwapPIIKeyset(ctx context.Context, scope Scope, w PIIKeysetSwap) (bool, error) {
	return inTx(ctx, s, scope, func(tx *Store) (bool, error) {
		var current []byte
		var rotatedAt, now time.Time
		err := tx.db.NewRaw(`SELECT aead_keyset, rotated_at, now() FROM pii_keysets WHERE tenant_id = ? FOR UPDATE`,
			scope.TenantID).Scan(ctx, &current, &rotatedAt, &now)
		if err != nil {
			return false, fmt.Errorf("lock pii keyset: %w", err)
		}
		if !bytes.Equal(current, w.Expected) {
			return false, nil
		}
		if w.Retiring != nil {
			if wait := rotatedAt.Add(w.Settle).Sub(now); wait > 0 {
				return false, fmt.Errorf("%w (at %s): instances may still encrypt under the previous one for a while; retry in %s",
					ErrPIIKeyRecentlyRotated, rotatedAt.UTC().Format(time.RFC3339), wait.Round(time.Second))
			}
			var uses int64
			prefix := PIIKeyPrefix(*w.Retiring)
			conds := make([]string, len(piiColumns))
			args := []any{scope.TenantID}
			for i, c := range piiColumns {
				conds[i] = "substring(" + c.ciphertext + " from 1 for 5) = ?"
				args = append(args, prefix)
			}
			if err := tx.db.NewRaw(`SELECT count(*) FROM employees WHERE tenant_id = ? AND (`+strings.Join(conds, " OR ")+`)`,
				args...).Scan(ctx, &uses); err != nil {
				return false, fmt.Errorf("count pii key uses: %w", err)
			}
			if uses > 0 {
				return false, fmt.Errorf("%w: %d employees have values under key %d", ErrPIIKeyInUse, uses, *w.Retiring)
			}
		}
		_, err = tx.db.NewRaw(`UPDATE pii_keysets SET aead_keyset = ?, primary_key_id = ?, updated_at = now(),
			rotated_at = CASE WHEN ? THEN now() ELSE rotated_at END WHERE tenant_id = ?`,
			w.Next.AEADKeyset, int64(w.Next.PrimaryKeyID), w.Rotated, scope.TenantID).Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("update pii keyset: %w", err)
		}
		return true, nil
	})
}

// ReencryptParams select a batch of rows to re-encrypt.
type ReencryptParams struct {
	// Primary is the key every value should be under: rows with a value under another key are
	// selected.
	Primary uint32
	// After is the last employee id of the previous batch (uuid.Nil: from the start).
	After uuid.UUID
	// Limit is the most rows in the batch.
	Limit int
}

// ReencryptBatch is what one batch did.
type ReencryptBatch struct {
	// Last is the greatest employee id selected (After of the next batch); Rows how many were
	// selected, Updated how many fn changed.
	Last          uuid.UUID
	Rows, Updated int
}

// ReencryptEmployeePII selects, in one transaction of the scope's tenant, up to p.Limit
// employees after p.After (by id) with a value under a key other than p.Primary, locked FOR
// UPDATE (a concurrent write waits, and a row it moved onto the primary meanwhile is skipped),
// passes each to fn to rewrite in place, and writes the rows fn changed. An error from fn rolls
// the batch back.
func (s *Store) ReencryptEmployeePII(ctx context.Context, scope Scope, p ReencryptParams,
	fn func(row *PIICiphertexts) error,
) (ReencryptBatch, error) {
	return inTx(ctx, s, scope, func(tx *Store) (ReencryptBatch, error) {
		var out ReencryptBatch
		prefix := PIIKeyPrefix(p.Primary)
		conds := make([]string, len(piiColumns))
		args := []any{scope.TenantID, p.After}
		for i, c := range piiColumns {
			conds[i] = "(" + c.ciphertext + " IS NOT NULL AND substring(" + c.ciphertext + " from 1 for 5) <> ?)"
			args = append(args, prefix)
		}
		args = append(args, p.Limit)
		var selected []piiRow
		if err := tx.db.NewRaw(`SELECT id, ssn_ciphertext, tax_id_ciphertext, passport_ciphertext, bank_account_ciphertext
			FROM employees WHERE tenant_id = ? AND id > ? AND (`+strings.Join(conds, " OR ")+`)
			ORDER BY id LIMIT ? FOR UPDATE`, args...).Scan(ctx, &selected); err != nil {
			return out, fmt.Errorf("select rows to re-encrypt: %w", err)
		}
		batch := make([]PIICiphertexts, len(selected))
		for i, r := range selected {
			batch[i] = PIICiphertexts{EmployeeID: r.ID, SSN: r.SSN, TaxID: r.TaxID, PassportNumber: r.Passport, BankAccount: r.BankAccount}
		}
		out.Rows = len(batch)
		var values []string
		var vargs []any
		for _, old := range batch {
			out.Last = old.EmployeeID
			row := old
			row.SSN, row.TaxID = bytes.Clone(old.SSN), bytes.Clone(old.TaxID)
			row.PassportNumber, row.BankAccount = bytes.Clone(old.PassportNumber), bytes.Clone(old.BankAccount)
			if err := fn(&row); err != nil {
				return out, err
			}
			if bytes.Equal(row.SSN, old.SSN) && bytes.Equal(row.TaxID, old.TaxID) &&
				bytes.Equal(row.PassportNumber, old.PassportNumber) && bytes.Equal(row.BankAccount, old.BankAccount) {
				continue
			}
			values = append(values, "(?::uuid, ?::bytea, ?::bytea, ?::bytea, ?::bytea)")
			vargs = append(vargs, row.EmployeeID, row.SSN, row.TaxID, row.PassportNumber, row.BankAccount)
		}
		if len(values) == 0 {
			return out, nil
		}
		vargs = append(vargs, scope.TenantID)
		res, err := tx.db.NewRaw(`UPDATE employees e SET ssn_ciphertext = v.ssn, tax_id_ciphertext = v.tax_id,
			passport_ciphertext = v.passport, bank_account_ciphertext = v.bank_account
			FROM (VALUES `+strings.Join(values, ", ")+`) v(id, ssn, tax_id, passport, bank_account)
			WHERE e.tenant_id = ? AND e.id = v.id`, vargs...).Exec(ctx)
		if err != nil {
			return out, fmt.Errorf("re-encrypt rows: %w", err)
		}
		n, _ := res.RowsAffected()
		out.Updated = int(n)
		return out, nil
	})
}

// piiRow is a row of ReencryptEmployeePII's selection.
type piiRow struct {
	ID          uuid.UUID `bun:"id,type:uuid"`
	SSN         []byte    `bun:"ssn_ciphertext"`
	TaxID       []byte    `bun:"tax_id_ciphertext"`
	Passport    []byte    `bun:"passport_ciphertext"`
	BankAccount []byte    `bun:"bank_account_ciphertext"`
}

// ListTenants returns every tenant, by slug. It is not scoped: callers are the composition
// root's commands (keys rotate over all tenants), never a request.
func (s *Store) ListTenants(ctx context.Context) ([]*Tenant, error) {
	var out []*Tenant
	if err := s.db.NewSelect().Model(&out).Order("slug").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}
