package resolvers

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// A list resolver knows every row its children will ask about. Prefetching the relationships
// the client selected on those rows starts their batches at once — no batching window to wait
// out, and no chance for a busy scheduler to split a batch — and the children's loads become
// cache hits. Deeper levels still batch through the loaders' window.

// rowFields returns the fields selected on the rows of the connection being resolved (under
// `nodes` and `edges { node }`), fragments included; rowType is the rows' GraphQL type.
func rowFields(ctx context.Context, connType, rowType string) map[string]bool {
	fc := graphql.GetFieldContext(ctx)
	op := graphql.GetOperationContext(ctx)
	if fc == nil || op == nil || fc.Field.Field == nil {
		return nil
	}
	fields := map[string]bool{}
	add := func(sel []graphql.CollectedField) {
		for _, f := range sel {
			fields[f.Name] = true
		}
	}
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, []string{connType}) {
		switch f.Name {
		case "nodes":
			add(graphql.CollectFields(op, f.Selections, []string{rowType}))
		case "edges":
			for _, e := range graphql.CollectFields(op, f.Selections, []string{connType[:len(connType)-len("Connection")] + "Edge"}) {
				if e.Name == "node" {
					add(graphql.CollectFields(op, e.Selections, []string{rowType}))
				}
			}
		}
	}
	return fields
}

// prefetch runs loads concurrently and waits for all of them. Their errors are not returned: a
// failed batch is remembered by its loader and reported by the fields that need it.
func prefetch(ctx context.Context, loads ...func(context.Context) error) {
	var wg sync.WaitGroup
	for _, load := range loads {
		if load == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = load(ctx)
		}()
	}
	wg.Wait()
}

// when returns load if cond holds, else nil (skipped by prefetch).
func when(cond bool, load func(context.Context) error) func(context.Context) error {
	if cond {
		return load
	}
	return nil
}

// ids collects the non-nil ids of rows.
func ids[T any](rows []T, id func(T) *uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		if v := id(r); v != nil {
			out = append(out, *v)
		}
	}
	return out
}
