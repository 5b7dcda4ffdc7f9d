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
// unset): one statement per batch, or none when the root field prefetched them. Only for
// employees whose last four the principal may see (policy.PIIViewOf): masks and hidden fields
// need no ciphertext, and the resolvers never ask for them. The cache holds ciphertexts only:
// the resolvers decrypt, and keep only the masked form.
func (l *Loaders) PIICiphertexts() *Loader[uuid.UUID, map[string][]byte] {
	return l.piiCiphertexts.get(func() *Loader[uuid.UUID, map[string][]byte] {
		return byKey(l.named("pii_ciphertexts"), func(ctx context.Context, ids []uuid.UUID) ([]*store.EmployeePII, error) {
			return l.r.EmployeePIIByIDs(ctx, l.scope, ids, store.PIIFieldNames())
		}, func(p *store.EmployeePII) uuid.UUID { return p.EmployeeID },
			func(p *store.EmployeePII) map[string][]byte { return p.Ciphertexts })
	})
}

// prefetchPII reads at once the ciphertexts the selected @pii fields of rows will decrypt:
// those of the rows whose last four the principal sees (policy.PIIViewOf) and that hold any
// personal data, primed from the rows when read with them (…WithPII), else in one statement.
// Masked and hidden rows read none.
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
		if e == nil || e.PIIPresent == 0 || policy.PIIViewOf(p, e.ID) != policy.PIILastFour {
			continue
		}
		if cts, read := e.PIICiphertexts(); read {
			l.PIICiphertexts().Prime(e.ID, cts)
		} else if !slices.Contains(ids, e.ID) {
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

// showsLastFour reports whether the request's principal sees employee's last four.
func showsLastFour(ctx context.Context, employee uuid.UUID) bool {
	p, ok := auth.PrincipalFrom(ctx)
	return ok && policy.PIIViewOf(p, employee) == policy.PIILastFour
}

// PIIWithRows reports whether the rows the field being resolved returns (a list of employees
// or a connection of them) should be read with their ciphertexts: @pii fields are selected on
// them and the principal sees the last four of every row (policy.PIILastFourOfAll). The
// prefetch then primes PIICiphertexts from the rows, saving a statement.
func PIIWithRows(ctx context.Context) bool {
	_, _, sel, ok := prefetching(ctx, "Employee")
	if !ok || !piiSelected(sel) {
		return false
	}
	p, ok := auth.PrincipalFrom(ctx)
	return ok && policy.PIILastFourOfAll(p)
}
