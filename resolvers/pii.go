package resolvers

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"

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
// with no ciphertext read; or the last four: the ciphertexts are read in one batch per request
// level (or prefetched with the rows) by the PIICiphertexts loader, and this field's is
// decrypted here (or its masked form found in the keyring's cache: pii.Keyring.LastFour), only
// its masked form kept.
func (r *Resolver) piiField(ctx context.Context, e *store.Employee, field string) (*string, error) {
	view := policy.PIIViewFrom(ctx)
	if view == policy.PIIHidden || e == nil || !e.HasPII(field) {
		return nil, nil
	}
	if view == policy.PIIMasked {
		return maskOf(field), nil
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
	cts, err := l.PIICiphertexts().Get(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	ct := cts[field]
	if ct == nil {
		return nil, nil
	}
	shown, err := r.deps.PII.LastFour(ctx, s.TenantID, e.ID, field, ct)
	if err != nil {
		return nil, err
	}
	return &shown, nil
}

// fullMasks are the full masks by field, shared by every masked field's result (gqlgen only
// reads a resolver's *string): one allocation less for each of a page's masked fields.
var fullMasks = func() map[string]*string {
	out := map[string]*string{}
	for _, f := range pii.Fields() {
		mask := pii.Mask(f)
		out[f] = &mask
	}
	return out
}()

// maskOf is field's full mask (pii.Mask), shared.
func maskOf(field string) *string {
	if m, ok := fullMasks[field]; ok {
		return m
	}
	mask := pii.Mask(field)
	return &mask
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
