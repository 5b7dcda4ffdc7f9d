package loaders

import (
	"context"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/store"
)

// PIICiphertexts loads the ciphertexts of employees' personal data, by field (absent when
// unset), for rows read without them: from the rows of this request that were read with them
// (another object of the same employee: a manager also on the page), else in one statement per
// batch, or none when the root field prefetched them. Only for employees whose last four the
// principal may see (policy.PIIViewOf): masks and hidden fields need no ciphertext, and the
// resolvers never ask for them. The cache holds ciphertexts only: the resolvers decrypt, and
// keep only the masked form.
func (l *Loaders) PIICiphertexts() *Loader[uuid.UUID, map[string][]byte] {
	return l.piiCiphertexts.get(func() *Loader[uuid.UUID, map[string][]byte] {
		return byKey(l.named("pii_ciphertexts"), func(ctx context.Context, ids []uuid.UUID) ([]*store.EmployeePII, error) {
			found, rest := l.readCiphertexts.find(ids)
			if len(rest) == 0 {
				return found, nil
			}
			read, err := l.r.EmployeePIIByIDs(ctx, l.scope, rest, store.PIIFieldNames())
			return append(found, read...), err
		}, func(p *store.EmployeePII) uuid.UUID { return p.EmployeeID },
			func(p *store.EmployeePII) map[string][]byte { return p.Ciphertexts })
	})
}

// rowsWithCiphertexts are the lists of rows a request read with their ciphertexts (…WithPII),
// kept whole, a list at a time: their own @pii fields need nothing else, and only a batch of
// PIICiphertexts for rows read without them looks the employees up among them, so a page pays
// nothing per row for the rare object that needs it.
type rowsWithCiphertexts struct {
	mu    sync.Mutex
	lists [][]*store.Employee
}

func (r *rowsWithCiphertexts) add(rows []*store.Employee) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lists = append(r.lists, rows)
}

// find returns the ciphertexts of the employees among ids read with theirs, and the other ids.
func (r *rowsWithCiphertexts) find(ids []uuid.UUID) (found []*store.EmployeePII, rest []uuid.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lists) == 0 {
		return nil, ids
	}
	read := map[uuid.UUID]*store.Employee{}
	for _, rows := range r.lists {
		for _, e := range rows {
			if e != nil && e.CiphertextsRead() {
				read[e.ID] = e
			}
		}
	}
	for _, id := range ids {
		if e, ok := read[id]; ok {
			found = append(found, e.ReadCiphertexts())
		} else {
			rest = append(rest, id)
		}
	}
	return found, rest
}

// prefetchPII reads at once the ciphertexts the selected @pii fields of rows will decrypt:
// those of the rows whose last four the principal sees (policy.PIIViewOf), that hold any
// personal data, and that were read without their ciphertexts, in one statement. A row read
// with them (…WithPII) serves its own fields, and is remembered for other objects of the same
// employee (PIICiphertexts). Masked and hidden rows read none.
func (l *Loaders) prefetchPII(ctx context.Context, rows []*store.Employee, sel selection) func(context.Context) error {
	if !piiSelected(sel) {
		return nil
	}
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil
	}
	var ids []uuid.UUID
	withCiphertexts := false
	for _, e := range rows {
		if e == nil || e.PIIPresent == 0 || policy.PIIViewOf(p, e.ID) != policy.PIILastFour {
			continue
		}
		if e.CiphertextsRead() {
			withCiphertexts = true
		} else if !slices.Contains(ids, e.ID) {
			ids = append(ids, e.ID)
		}
	}
	if withCiphertexts {
		l.readCiphertexts.add(rows)
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

// CiphertextsWithRows says whose ciphertexts to read with the rows the field being resolved
// returns (a list of employees or a connection of them), when @pii fields are selected on them:
// every row's for a principal who sees the last four of all (policy.PIILastFourOfAll), else
// their own row's when they see its last four, else none. The rows' fields then read their own
// ciphertexts, saving a statement.
func CiphertextsWithRows(ctx context.Context) store.CiphertextRows {
	_, _, sel, ok := prefetching(ctx, "Employee")
	if !ok || !piiSelected(sel) {
		return store.CiphertextRows{}
	}
	p, ok := auth.PrincipalFrom(ctx)
	switch {
	case !ok:
		return store.CiphertextRows{}
	case policy.PIILastFourOfAll(p):
		return store.CiphertextRows{All: true}
	case p.EmployeeID != uuid.Nil && policy.PIIViewOf(p, p.EmployeeID) == policy.PIILastFour:
		return store.CiphertextRows{Only: p.EmployeeID}
	}
	return store.CiphertextRows{}
}
