package resolvers

import (
	"context"
	"errors"
	"fmt"
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

// piiField resolves a field declared @pii(field: …) for the principals who see its last four:
// the directive (graph's pii) answers the hidden and masked views without reaching it, and it
// asks the policy again (policy.LastFourShown, which also names the principal's tenant, whose
// keys decrypt), so that wired without the directive it would show no more than that. The
// masked forms are the keyring's, cached for the row's version (pii.Keyring.CachedLastFours)
// and kept on the row for its other fields;
// else the row's ciphertexts come from the PIICiphertexts loader, in one batch per request
// level (or prefetched with the rows), and are decrypted, only their masked forms kept.
func (r *Resolver) piiField(ctx context.Context, e *store.Employee, field string) (*string, error) {
	if e == nil || !e.HasPII(field) {
		return nil, nil
	}
	tenant, lastFourShown := policy.LastFourShown(ctx, e.ID)
	if !lastFourShown {
		return nil, nil
	}
	if r.deps.PII == nil {
		return nil, errNoPII
	}
	i := pii.FieldIndex(field)
	if i < 0 {
		return nil, fmt.Errorf("resolvers: unknown personal data field %q", field)
	}
	if shown := e.ShownPII(); shown != nil {
		return shown[i], nil
	}
	if shown := r.deps.PII.CachedLastFours(tenant, e.ID, e.Version); shown != nil {
		e.KeepShownPII(shown)
		return shown[i], nil
	}
	l, err := loaders.For(ctx)
	if err != nil {
		return nil, err
	}
	read, err := l.PIICiphertexts().Get(ctx, e.ID)
	if err != nil || read == nil {
		return nil, err
	}
	decrypted, failed := r.deps.PII.LastFours(ctx, tenant, e.ID, read.Version, read.Ciphertexts)
	if failed[i] != nil {
		return nil, failed[i]
	}
	if failed == ([4]error{}) {
		// The row's other fields would decrypt the same read (the loader's, for the request).
		e.KeepShownPII(decrypted)
	}
	return decrypted[i], nil
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
