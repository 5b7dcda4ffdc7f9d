package loaders

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/store"
)

// PIICiphertexts loads the ciphertexts of employees' personal data, by field (absent when
// unset), with the version of the row they were read from, for the @pii fields whose masked
// forms the keyring has not cached at the version of their row (pii.Keyring.CachedLastFours): in
// one statement per batch, or none when the read of the rows prefetched them. Only for
// employees whose last four the principal may see (policy.PIIViewOf): masks and hidden fields
// need no ciphertext, and the resolvers never ask for them. The cache holds ciphertexts only:
// the resolvers decrypt, and keep only the masked form. Nil for an employee out of reach.
func (l *Loaders) PIICiphertexts() *Loader[uuid.UUID, *store.EmployeePII] {
	return l.piiCiphertexts.get(func() *Loader[uuid.UUID, *store.EmployeePII] {
		return byID(l.named("pii_ciphertexts"), func(ctx context.Context, ids []uuid.UUID) ([]*store.EmployeePII, error) {
			return l.r.EmployeePIIByIDs(ctx, l.scope, ids)
		}, func(p *store.EmployeePII) uuid.UUID { return p.EmployeeID })
	})
}

// prefetchPII reads at once the ciphertexts the selected @pii fields of rows will decrypt:
// those of the rows whose last four the principal sees (policy.PIIViewOf), that hold any
// personal data, and whose masked forms are not cached at their version (Opts.CachedLastFours),
// in one statement; the rows whose are keep them (store.Employee.KeepShownPII). Masked and
// hidden rows read none, and so does a page shown before.
func (l *Loaders) prefetchPII(ctx context.Context, rows []*store.Employee, sel selection) func(context.Context) error {
	if !piiSelected(sel) {
		return nil
	}
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil
	}
	var ids []uuid.UUID
	for _, e := range rows {
		if e == nil || e.PIIPresent == 0 || e.ShownPII() != nil || policy.PIIViewOf(p, e.ID) != policy.PIILastFour {
			continue
		}
		if l.opts.CachedLastFours != nil {
			if shown := l.opts.CachedLastFours(l.scope.TenantID, e.ID, e.Version); shown != nil {
				e.KeepShownPII(shown) // for the row's fields, which need not look them up again
				continue
			}
		}
		if !slices.Contains(ids, e.ID) {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return func(ctx context.Context) error { return l.PIICiphertexts().LoadMany(ctx, ids) }
}

// piiSelected reports whether sel has a field declared @pii.
func piiSelected(sel selection) bool {
	for _, f := range sel {
		if f.Definition != nil && f.Definition.Directives.ForName("pii") != nil {
			return true
		}
	}
	return false
}
