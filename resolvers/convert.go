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

// load reads the one row a root field asks for, at once (it has no siblings to wait for), then
// prefetches the relationships selected on it. A malformed id cannot name a row: it reads as
// "none".
func load[V any](ctx context.Context, id string, pick func(*loaders.Loaders) *loaders.Loader[uuid.UUID, *V],
	then func(context.Context, *loaders.Loaders, []*V, selection)) (*V, error) {
	key, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	l, err := loaders.For(ctx)
	if err != nil {
		return nil, err
	}
	loader := pick(l)
	if err := loader.LoadMany(ctx, []uuid.UUID{key}); err != nil {
		return nil, err
	}
	row, err := loader.Get(ctx, key)
	if err != nil || row == nil || then == nil {
		return row, err
	}
	then(ctx, l, []*V{row}, objectFields(ctx, graphql.GetFieldContext(ctx).Field.Definition.Type.Name()))
	return row, nil
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

// defaultLatestEntries is Employee.timeEntries' page size when first is null.
const defaultLatestEntries = 20

// The sizes of relation lists when their first is null: the schema's defaults, which price them.
const (
	defaultProjectsOfEmployee = 20
	defaultMembers            = 50
	defaultTasks              = 50
	defaultDependencies       = 10
)

// childLimit reads the first of a relation list (Project.members …): null is def; like a page,
// it is 0..store.MaxPageSize, so the list's price is an upper bound of what it returns.
func childLimit(first *int, def int) (int, error) {
	limit := def
	if first != nil {
		limit = *first
	}
	if limit < 0 || limit > store.MaxPageSize {
		return 0, apperr.Invalid("first", "first must be between 0 and %d", store.MaxPageSize)
	}
	return limit, nil
}

func pageParams(first *int, after *string) store.PageParams {
	p := store.PageParams{First: 20}
	if first != nil {
		p.First = *first
	}
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
	sel := objectFields(ctx, connType)
	var edges []E
	if sel == nil || sel.has("edges") {
		edges = make([]E, len(rows))
		for i, row := range rows {
			edges[i] = edge(cursor(row), row)
		}
	}
	var info *model.PageInfo
	if sel == nil || sel.has("pageInfo") {
		info = pageInfo(rows, hasNext, cursor)
	}
	return edges, info
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
