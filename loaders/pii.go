package loaders

import (
	"context"
	"slices"

	"github.com/google/uuid"
)

// PIIKey asks for one field (a PIIField value) of an employee's personal data.
type PIIKey struct {
	EmployeeID uuid.UUID
	Field      string
}

// PIIValue is what the PII loader made of one field: Value is nil when the field is unset (or
// the employee out of reach); Err is this field's own failure (a ciphertext that does not
// decrypt), so that one bad row fails its field, not the batch.
type PIIValue struct {
	Value *string
	Err   error
}

// PIIOpenFunc turns the ciphertext of field of employee into what the field shows (the
// resolvers decrypt it and keep only the masked form, so plaintext is never cached).
type PIIOpenFunc func(ctx context.Context, employee uuid.UUID, field string, ciphertext []byte) (string, error)

// PII loads fields of employees' personal data through open: one statement per batch reads the
// ciphertexts of the fields asked for, and only those are opened. Only principals who may see
// more than a mask should ask (policy.PIIViewOf): masks need no ciphertext. Every call in a
// request must pass the same open; the first builds the loader.
func (l *Loaders) PII(open PIIOpenFunc) *Loader[PIIKey, PIIValue] {
	return l.pii.get(func() *Loader[PIIKey, PIIValue] {
		return NewLoader(l.named("pii"), func(ctx context.Context, keys []PIIKey) ([]PIIValue, error) {
			seen := make(map[uuid.UUID]bool, len(keys))
			ids := make([]uuid.UUID, 0, len(keys))
			var fields []string
			for _, k := range keys {
				if !seen[k.EmployeeID] {
					seen[k.EmployeeID] = true
					ids = append(ids, k.EmployeeID)
				}
				if !slices.Contains(fields, k.Field) {
					fields = append(fields, k.Field)
				}
			}
			rows, err := l.r.EmployeePIIByIDs(ctx, l.scope, ids, fields)
			if err != nil {
				return nil, err
			}
			byID := make(map[uuid.UUID]map[string][]byte, len(rows))
			for _, r := range rows {
				byID[r.EmployeeID] = r.Ciphertexts
			}
			values := make([]PIIValue, len(keys))
			for i, k := range keys {
				ct := byID[k.EmployeeID][k.Field]
				if ct == nil {
					continue
				}
				shown, err := open(ctx, k.EmployeeID, k.Field, ct)
				if err != nil {
					values[i].Err = err
					continue
				}
				values[i].Value = &shown
			}
			return values, nil
		})
	})
}
