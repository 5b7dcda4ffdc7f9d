package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/store"
)

// scope is the request's store scope: its tenant and the employees its roles reach, set once
// per operation after authentication. Without one the request is reported as unauthenticated,
// never served unscoped. (Missing loaders, loaders.For's error, are a wiring bug and surface
// as internal errors.)
func scope(ctx context.Context) (store.Scope, error) {
	s, ok := policy.ScopeFrom(ctx)
	if !ok {
		return store.Scope{}, apperr.New(apperr.Unauthenticated, "authentication required")
	}
	return s, nil
}

// load reads the one row a root field asks for through byID (a loaders route). A malformed id
// cannot name a row: it reads as "none".
func load[V any](ctx context.Context, id string, byID func(context.Context, uuid.UUID) (*V, error)) (*V, error) {
	key, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	return byID(ctx, key)
}

// loadRef reads the row a nullable reference points to.
func loadRef[V any](ctx context.Context, id *uuid.UUID, pick func(*loaders.Loaders) *loaders.Loader[uuid.UUID, V]) (V, error) {
	var zero V
	if id == nil {
		return zero, nil
	}
	l, err := loaders.For(ctx)
	if err != nil {
		return zero, err
	}
	return pick(l).Get(ctx, *id)
}

// parseID reads an id argument; a malformed one is the client's error, naming the field.
func parseID(field, id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, apperr.Invalid(field, "%s is not a valid id", field)
	}
	return u, nil
}

func parseOptionalID(field string, id *string) (*uuid.UUID, error) {
	if id == nil {
		return nil, nil
	}
	u, err := parseID(field, *id)
	return &u, err
}

// parseIDOr reads an optional id that defaults to the caller's own employee id.
func parseIDOr(ctx context.Context, field string, id *string) (uuid.UUID, error) {
	if id != nil {
		return parseID(field, *id)
	}
	s, err := scope(ctx)
	return s.ActorID, err
}

// parseOmittableID reads an id that may be set, explicitly null (clear), or omitted (keep).
func parseOmittableID(field string, o graphql.Omittable[*string]) (id *uuid.UUID, clear bool, err error) {
	v, set := o.ValueOK()
	if !set {
		return nil, false, nil
	}
	if v == nil {
		return nil, true, nil
	}
	id, err = parseOptionalID(field, v)
	return id, false, err
}

// firstOr is the first argument of the field being resolved: null (or absent) is the schema's
// default, which also prices the field.
func firstOr(ctx context.Context, first *int) int {
	if first != nil {
		return *first
	}
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Field != nil {
		if n, err := graphql.UnmarshalInt(loaders.ArgumentDefault(fc.Field.Definition, "first")); err == nil {
			return n
		}
	}
	return 0
}

// childLimit reads the first of a relation list (Project.members …, see firstOr); like a page,
// it is 0..store.MaxPageSize, so the list's price is an upper bound of what it returns.
func childLimit(ctx context.Context, first *int) (int, error) {
	limit := firstOr(ctx, first)
	if limit < 0 || limit > store.MaxPageSize {
		return 0, apperr.Invalid("first", "first must be between 0 and %d", store.MaxPageSize)
	}
	return limit, nil
}

func pageParams(ctx context.Context, first *int, after *string) store.PageParams {
	p := store.PageParams{First: firstOr(ctx, first)}
	if after != nil {
		p.After = *after
	}
	return p
}

// connectionParts builds a page's edges and page info, each only when the client selected it on
// the connection (connType) the current field returns: every cursor is a JSON and a base64
// encoding, ~4% of the CPU of a page of 100 time entries asked for by `nodes` alone. When the
// selection is unknown, both are built.
func connectionParts[T, E any](ctx context.Context, connType string, rows []T, hasNext bool, cursor func(T) string,
	edge func(cursor string, row T) E,
) ([]E, *model.PageInfo) {
	sel, known := connectionFields(ctx, connType)
	var edges []E
	if !known || sel["edges"] {
		edges = make([]E, len(rows))
		for i, row := range rows {
			edges[i] = edge(cursor(row), row)
		}
	}
	var info *model.PageInfo
	if !known || sel["pageInfo"] {
		info = pageInfo(rows, hasNext, cursor)
	}
	return edges, info
}

// connectionFields returns the names of the fields selected on the connection (connType) the
// current field returns; known is false outside a field being resolved.
func connectionFields(ctx context.Context, connType string) (sel map[string]bool, known bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return nil, false
	}
	sel = map[string]bool{}
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, []string{connType}) {
		sel[f.Name] = true
	}
	return sel, true
}

func pageInfo[T any](rows []T, hasNext bool, cursor func(T) string) *model.PageInfo {
	info := &model.PageInfo{HasNextPage: hasNext}
	if len(rows) > 0 {
		start, end := cursor(rows[0]), cursor(rows[len(rows)-1])
		info.StartCursor, info.EndCursor = &start, &end
	}
	return info
}

// parseIDs reads an optional list of ids; nil means "not given".
func parseIDs(field string, ids []string) (*[]uuid.UUID, error) {
	if ids == nil {
		return nil, nil
	}
	out := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		u, err := parseID(field, id)
		if err != nil {
			return nil, err
		}
		out[i] = u
	}
	return &out, nil
}

// loadEntities resolves a gateway's representations through the same loaders as every other
// field: all keys are queued before any is awaited, so they share one batch (one statement per
// entity type), and the tenant scope applies as it does everywhere. An id with no row in the
// caller's tenant resolves to null for its representation only.
func loadEntities[Rep any, V any](ctx context.Context, reps []Rep, idOf func(Rep) string, pick func(*loaders.Loaders) *loaders.Loader[uuid.UUID, *V]) ([]*V, error) {
	l, err := loaders.For(ctx)
	if err != nil {
		return nil, err
	}
	loader := pick(l)
	keys := make([]uuid.UUID, 0, len(reps))
	for _, rep := range reps {
		if key, err := uuid.Parse(idOf(rep)); err == nil {
			keys = append(keys, key)
		}
	}
	// Every key is known: fetch them now, in one statement, rather than through a window.
	if err := loader.LoadMany(ctx, keys); err != nil {
		return nil, err
	}
	thunks := make([]func() (*V, error), len(reps))
	for i, rep := range reps {
		if key, err := uuid.Parse(idOf(rep)); err == nil {
			thunks[i] = loader.Load(ctx, key)
		}
	}
	out := make([]*V, len(reps))
	for i, thunk := range thunks {
		if thunk == nil {
			continue
		}
		if out[i], err = thunk(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
