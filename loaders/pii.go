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
// personal data. Masked and hidden rows read none.
func (l *Loaders) prefetchPII(ctx context.Context, rows []*store.Employee, sel selection) func(context.Context) error {
	selected := false
	for _, f := range sel {
		if f.Definition != nil && f.Definition.Directives.ForName("pii") != nil {
			selected = true
			break
		}
	}
	if !selected {
		return nil
	}
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil
	}
	var ids []uuid.UUID
	for _, e := range rows {
		if e != nil && e.PIIPresent != 0 && !slices.Contains(ids, e.ID) && policy.PIIViewOf(p, e.ID) == policy.PIILastFour {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return func(ctx context.Context) error { return l.PIICiphertexts().LoadMany(ctx, ids) }
}
