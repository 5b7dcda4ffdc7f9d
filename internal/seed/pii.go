package seed

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/workingtracker/api/internal/pii"
)

// Cipher encrypts and blind-indexes personal data (a *pii.Keyring).
type Cipher interface {
	Encrypt(ctx context.Context, tenant, row uuid.UUID, field, plaintext string) ([]byte, error)
	BlindIndex(ctx context.Context, tenant uuid.UUID, field, normalised string) ([]byte, error)
}

// RunWithPII is Run, then gives every seeded employee realistic fake personal data in valid
// formats (an SSN, a tax id — EIN or ITIN —, most a passport number, an IBAN), encrypted and
// indexed through cipher, so that masking shows at once. A nil cipher seeds no personal data.
// The data comes from a generator of its own: the rest of the seed is the same either way.
func RunWithPII(ctx context.Context, pool *pgxpool.Pool, scale Scale, anchor time.Time, cipher Cipher) (Result, bool, error) {
	res, ok, err := Run(ctx, pool, scale, anchor)
	if err != nil || !ok || cipher == nil {
		return res, ok, err
	}
	for i, slug := range []string{DemoTenant, OtherTenant} {
		if err := seedPII(ctx, pool, cipher, slug, rand.New(rand.NewPCG(uint64(i+1), 1207))); err != nil {
			return res, false, fmt.Errorf("seed personal data of %s: %w", slug, err)
		}
	}
	return res, true, nil
}

func seedPII(ctx context.Context, pool *pgxpool.Pool, cipher Cipher, slug string, rng *rand.Rand) error {
	var tenantID uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = $1`, slug).Scan(&tenantID); err != nil {
		return fmt.Errorf("read tenant: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenantID.String()); err != nil {
		return fmt.Errorf("set tenant: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT id FROM employees WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return fmt.Errorf("read employees: %w", err)
	}
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fields := pii.Fields()
	// cts[f][i], idx[f][i]: field f of employee i, nil when unset.
	cts := make([][][]byte, len(fields))
	idx := make([][][]byte, len(fields))
	for f := range fields {
		cts[f], idx[f] = make([][]byte, len(ids)), make([][]byte, len(ids))
	}
	for i, id := range ids {
		values := fakePII(rng)
		for f, field := range fields {
			raw, ok := values[field]
			if !ok {
				continue
			}
			canonical, err := pii.Normalise(field, raw, field)
			if err != nil {
				return fmt.Errorf("fake %s is invalid: %w", field, err)
			}
			if cts[f][i], err = cipher.Encrypt(ctx, tenantID, id, field, canonical); err != nil {
				return err
			}
			if idx[f][i], err = cipher.BlindIndex(ctx, tenantID, field, pii.IndexForm(canonical)); err != nil {
				return err
			}
		}
	}
	_, err = tx.Exec(ctx, `UPDATE employees e SET ssn_ciphertext = v.ssn, ssn_blind_index = v.ssn_i,
			tax_id_ciphertext = v.tax, tax_id_blind_index = v.tax_i,
			passport_ciphertext = v.passport, passport_blind_index = v.passport_i,
			bank_account_ciphertext = v.bank, bank_account_blind_index = v.bank_i
		FROM unnest($2::uuid[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[])
			AS v(id, ssn, ssn_i, tax, tax_i, passport, passport_i, bank, bank_i)
		WHERE e.tenant_id = $1 AND e.id = v.id`,
		tenantID, ids, cts[0], idx[0], cts[1], idx[1], cts[2], idx[2], cts[3], idx[3])
	if err != nil {
		return fmt.Errorf("store personal data: %w", err)
	}
	return tx.Commit(ctx)
}

// fakePII makes one person's personal data in valid formats, by PIIField; about one in eight
// has no passport.
func fakePII(rng *rand.Rand) map[string]string {
	out := map[string]string{}
	area := 1 + rng.IntN(898) // 001–899 without 666
	if area == 666 {
		area = 667
	}
	out[pii.SSN] = fmt.Sprintf("%03d-%02d-%04d", area, 1+rng.IntN(99), 1+rng.IntN(9999))
	if rng.IntN(4) == 0 {
		out[pii.TaxID] = fmt.Sprintf("9%02d-%02d-%04d", rng.IntN(100), 70+rng.IntN(19), rng.IntN(10000)) // ITIN
	} else {
		prefixes := []int{12, 20, 27, 35, 46, 52, 61, 74, 81, 94}
		out[pii.TaxID] = fmt.Sprintf("%02d-%07d", prefixes[rng.IntN(len(prefixes))], rng.IntN(10000000)) // EIN
	}
	if rng.IntN(8) != 0 {
		out[pii.PassportNumber] = fmt.Sprintf("%c%08d", 'A'+rune(rng.IntN(26)), rng.IntN(100000000))
	}
	switch rng.IntN(3) {
	case 0:
		out[pii.BankAccount] = iban("DE", fmt.Sprintf("%08d%010d", 10000000+rng.IntN(89999999), rng.IntN(1e10)))
	case 1:
		banks := []string{"NWBK", "BARC", "HBUK", "LOYD"}
		out[pii.BankAccount] = iban("GB", fmt.Sprintf("%s%06d%08d", banks[rng.IntN(len(banks))], rng.IntN(1e6), rng.IntN(1e8)))
	default:
		out[pii.BankAccount] = iban("FR", fmt.Sprintf("%05d%05d%011d%02d", rng.IntN(1e5), rng.IntN(1e5), rng.IntN(1e11), rng.IntN(100)))
	}
	return out
}

// iban completes country and bban with their ISO 13616 check digits (98 − mod 97 of the
// rearranged number, letters as 10–35).
func iban(country, bban string) string {
	digits := make([]byte, 0, 2*len(bban)+6)
	for _, c := range bban + country + "00" {
		if c >= 'A' && c <= 'Z' {
			digits = fmt.Appendf(digits, "%d", c-'A'+10)
		} else {
			digits = append(digits, byte(c))
		}
	}
	n, _ := new(big.Int).SetString(string(digits), 10)
	return fmt.Sprintf("%s%02d%s", country, 98-new(big.Int).Mod(n, big.NewInt(97)).Int64(), bban)
}
