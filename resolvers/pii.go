package resolvers

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/store"
)

// PIIStore is what the personal data operations need of the store: transactions, in which
// internal/pii's service reads, writes and audits together.
type PIIStore interface {
	InTx(ctx context.Context, scope store.Scope, fn func(tx *store.Store) error) error
}

var errNoPII = errors.New("resolvers: no PII cipher configured (Deps.PII)")

// piiService is the personal data service over the resolvers' store and cipher.
func (r *Resolver) piiService() (*pii.Service, error) {
	if r.deps.PII == nil {
		return nil, errNoPII
	}
	return pii.NewService(r.store, r.deps.PII), nil
}

// piiField resolves a field declared @pii(field: …) as the directive decided (policy.PIIView):
// null when hidden or unset (presence is known without reading a ciphertext); the full mask,
// with no decryption; or the last four, decrypted in one batch per request level by the PII
// loader, which keeps only the masked form.
func (r *Resolver) piiField(ctx context.Context, e *store.Employee, field string) (*string, error) {
	view := policy.PIIViewFrom(ctx)
	if view == policy.PIIHidden || e == nil || !e.HasPII(field) {
		return nil, nil
	}
	if view == policy.PIIMasked {
		mask := pii.Mask(field)
		return &mask, nil
	}
	if r.deps.PII == nil {
		return nil, errNoPII
	}
	s, err := scope(ctx)
	if err != nil {
		return nil, err
	}
	l, err := loaders.For(ctx)
	if err != nil {
		return nil, err
	}
	cipher := r.deps.PII
	v, err := l.PII(func(ctx context.Context, employee uuid.UUID, field string, ct []byte) (string, error) {
		plain, err := cipher.Decrypt(ctx, s.TenantID, employee, field, ct)
		if err != nil {
			return "", err
		}
		return pii.LastFour(field, plain), nil
	}).Get(ctx, loaders.PIIKey{EmployeeID: e.ID, Field: field})
	if err != nil {
		return nil, err
	}
	return v.Value, v.Err
}

// piiInput is the fields input gives, by PIIField: a nil value clears the field.
func piiInput(input model.EmployeePIIInput) map[string]*string {
	out := map[string]*string{}
	for field, o := range map[string]graphql.Omittable[*string]{pii.SSN: input.Ssn, pii.TaxID: input.TaxID,
		pii.PassportNumber: input.PassportNumber, pii.BankAccount: input.BankAccount} {
		if v, set := o.ValueOK(); set {
			out[field] = v
		}
	}
	return out
}

func revealed(e *store.Employee, plain map[string]*string) *model.RevealedPii {
	return &model.RevealedPii{Employee: e, Ssn: plain[pii.SSN], TaxID: plain[pii.TaxID],
		PassportNumber: plain[pii.PassportNumber], BankAccount: plain[pii.BankAccount]}
}

// now is the clock of generatedAt.
func now() time.Time { return time.Now().UTC() }
