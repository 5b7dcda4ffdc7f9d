// Package loaders batches the reads of one request: every relationship field asks its loader,
// and the loader turns all the asks that arrive within a short window into one store call. A
// request's SQL round trips therefore grow with the depth of its query, not with list sizes.
//
// Loaders are built per request after authentication, so each batch function captures the
// request's tenant scope and cached rows never cross requests or tenants. A batch is fetched as
// soon as the goroutines asking for it stop adding keys (see Loader), with no timer to wait out.
package loaders

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/workingtracker/api/store"
)

// Reader is what the loaders need of the store; every method returns rows in any order.
type Reader interface {
	EmployeesByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Employee, error)
	DepartmentsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Department, error)
	ProjectsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Project, error)
	TasksByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Task, error)
	TimeEntriesByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.TimeEntry, error)
	ProjectsByEmployeeIDs(ctx context.Context, scope store.Scope, employeeIDs []uuid.UUID) ([]store.EmployeeProject, error)
	MembersByProjectIDs(ctx context.Context, scope store.Scope, projectIDs []uuid.UUID) ([]store.ProjectMember, error)
	TasksByProjectIDs(ctx context.Context, scope store.Scope, projectIDs []uuid.UUID) ([]*store.Task, error)
	DependenciesByTaskIDs(ctx context.Context, scope store.Scope, taskIDs []uuid.UUID) ([]store.TaskDependency, error)
	TrackedSecondsByProjectIDs(ctx context.Context, scope store.Scope, projectIDs []uuid.UUID) ([]store.ProjectSeconds, error)
	LatestTimeEntriesByEmployeeIDs(ctx context.Context, scope store.Scope, employeeIDs []uuid.UUID, r store.TimeRange, limit int) ([]*store.TimeEntry, error)
}

// Opts tunes batching.
type Opts struct {
	// Quiet is how long a batch must go without a new key before it is fetched.
	Quiet time.Duration
	// MaxWait caps how long a batch stays open while keys keep arriving.
	MaxWait time.Duration
}

// Defaults: long enough for the goroutines of a list to reach their Load, short next to a
// statement's round trip.
const (
	DefaultQuiet   = 50 * time.Microsecond
	DefaultMaxWait = 2 * time.Millisecond
)

func (o Opts) withDefaults() Opts {
	if o.Quiet <= 0 {
		o.Quiet = DefaultQuiet
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MaxWait < o.Quiet {
		o.MaxWait = o.Quiet
	}
	return o
}

// Loaders holds one loader per relationship.
type Loaders struct {
	Employee   *Loader[uuid.UUID, *store.Employee]
	Department *Loader[uuid.UUID, *store.Department]
	Project    *Loader[uuid.UUID, *store.Project]
	Task       *Loader[uuid.UUID, *store.Task]
	TimeEntry  *Loader[uuid.UUID, *store.TimeEntry]

	ProjectsOfEmployee      *Loader[uuid.UUID, []*store.Project]
	MembersOfProject        *Loader[uuid.UUID, []*store.Employee]
	TasksOfProject          *Loader[uuid.UUID, []*store.Task]
	DependenciesOfTask      *Loader[uuid.UUID, []*store.Task]
	TrackedSeconds          *Loader[uuid.UUID, int64]
	LatestEntriesOfEmployee *Loader[LatestEntriesKey, []*store.TimeEntry]
}

// LatestEntriesKey asks for an employee's latest Limit entries that started in [From, To).
// Bounds are Unix microseconds with explicit presence, so that equal ranges are equal keys and
// every representable time (1970 and year 9999 included) means itself.
type LatestEntriesKey struct {
	EmployeeID     uuid.UUID
	From, To       int64
	HasFrom, HasTo bool
	Limit          int
}

// New builds the loaders of one request.
func New(r Reader, scope store.Scope, opts Opts) *Loaders {
	return &Loaders{
		Employee: byID(opts, func(ctx context.Context, ids []uuid.UUID) ([]*store.Employee, error) {
			return r.EmployeesByIDs(ctx, scope, ids)
		}, func(e *store.Employee) uuid.UUID { return e.ID }),
		Department: byID(opts, func(ctx context.Context, ids []uuid.UUID) ([]*store.Department, error) {
			return r.DepartmentsByIDs(ctx, scope, ids)
		}, func(d *store.Department) uuid.UUID { return d.ID }),
		Project: byID(opts, func(ctx context.Context, ids []uuid.UUID) ([]*store.Project, error) {
			return r.ProjectsByIDs(ctx, scope, ids)
		}, func(p *store.Project) uuid.UUID { return p.ID }),
		Task: byID(opts, func(ctx context.Context, ids []uuid.UUID) ([]*store.Task, error) {
			return r.TasksByIDs(ctx, scope, ids)
		}, func(t *store.Task) uuid.UUID { return t.ID }),
		TimeEntry: byID(opts, func(ctx context.Context, ids []uuid.UUID) ([]*store.TimeEntry, error) {
			return r.TimeEntriesByIDs(ctx, scope, ids)
		}, func(t *store.TimeEntry) uuid.UUID { return t.ID }),

		ProjectsOfEmployee: grouped(opts, func(ctx context.Context, ids []uuid.UUID) ([]store.EmployeeProject, error) {
			return r.ProjectsByEmployeeIDs(ctx, scope, ids)
		}, func(ep store.EmployeeProject) (uuid.UUID, *store.Project) { return ep.EmployeeID, ep.Project }),
		MembersOfProject: grouped(opts, func(ctx context.Context, ids []uuid.UUID) ([]store.ProjectMember, error) {
			return r.MembersByProjectIDs(ctx, scope, ids)
		}, func(m store.ProjectMember) (uuid.UUID, *store.Employee) { return m.ProjectID, m.Employee }),
		TasksOfProject: grouped(opts, func(ctx context.Context, ids []uuid.UUID) ([]*store.Task, error) {
			return r.TasksByProjectIDs(ctx, scope, ids)
		}, func(t *store.Task) (uuid.UUID, *store.Task) { return t.ProjectID, t }),
		DependenciesOfTask: grouped(opts, func(ctx context.Context, ids []uuid.UUID) ([]store.TaskDependency, error) {
			return r.DependenciesByTaskIDs(ctx, scope, ids)
		}, func(d store.TaskDependency) (uuid.UUID, *store.Task) { return d.TaskID, d.Task }),
		TrackedSeconds: byKey(opts, func(ctx context.Context, ids []uuid.UUID) ([]store.ProjectSeconds, error) {
			return r.TrackedSecondsByProjectIDs(ctx, scope, ids)
		}, func(ps store.ProjectSeconds) uuid.UUID { return ps.ProjectID }, func(ps store.ProjectSeconds) int64 { return ps.Seconds }),
		LatestEntriesOfEmployee: NewLoader(opts, latestEntriesBatch(r, scope)),
	}
}

// byID loads rows by primary key. A key with no row yields nil, so one unknown id nulls one field
// rather than failing the batch.
func byID[V any](opts Opts, fetch func(context.Context, []uuid.UUID) ([]V, error), id func(V) uuid.UUID) *Loader[uuid.UUID, V] {
	return byKey(opts, fetch, id, func(v V) V { return v })
}

// byKey is byID for rows that carry the loaded value (pick) next to their key.
func byKey[Row, V any](opts Opts, fetch func(context.Context, []uuid.UUID) ([]Row, error), id func(Row) uuid.UUID, pick func(Row) V) *Loader[uuid.UUID, V] {
	return NewLoader(opts, func(ctx context.Context, keys []uuid.UUID) ([]V, error) {
		rows, err := fetch(ctx, keys)
		if err != nil {
			return nil, err
		}
		index := make(map[uuid.UUID]V, len(rows))
		for _, r := range rows {
			index[id(r)] = pick(r)
		}
		values := make([]V, len(keys))
		for i, k := range keys {
			values[i] = index[k]
		}
		return values, nil
	})
}

// grouped loads the children of each parent key, keeping the store's order within a parent.
func grouped[Row, V any](opts Opts, fetch func(context.Context, []uuid.UUID) ([]Row, error), split func(Row) (uuid.UUID, V)) *Loader[uuid.UUID, []V] {
	return NewLoader(opts, func(ctx context.Context, keys []uuid.UUID) ([][]V, error) {
		rows, err := fetch(ctx, keys)
		if err != nil {
			return nil, err
		}
		groups := make(map[uuid.UUID][]V, len(keys))
		for _, r := range rows {
			parent, v := split(r)
			groups[parent] = append(groups[parent], v)
		}
		values := make([][]V, len(keys))
		for i, k := range keys {
			if values[i] = groups[k]; values[i] == nil {
				values[i] = []V{}
			}
		}
		return values, nil
	})
}

// latestEntriesBatch runs one statement per distinct (range, limit) among the keys — in practice
// one, since siblings in a query share their arguments.
func latestEntriesBatch(r Reader, scope store.Scope) BatchFunc[LatestEntriesKey, []*store.TimeEntry] {
	type shape struct {
		from, to       int64
		hasFrom, hasTo bool
		limit          int
	}
	return func(ctx context.Context, keys []LatestEntriesKey) ([][]*store.TimeEntry, error) {
		byShape := make(map[shape][]uuid.UUID)
		for _, k := range keys {
			s := shape{k.From, k.To, k.HasFrom, k.HasTo, k.Limit}
			byShape[s] = append(byShape[s], k.EmployeeID)
		}
		found := make(map[LatestEntriesKey][]*store.TimeEntry, len(keys))
		for s, ids := range byShape {
			entries, err := r.LatestTimeEntriesByEmployeeIDs(ctx, scope, ids,
				store.TimeRange{From: fromMicros(s.from, s.hasFrom), To: fromMicros(s.to, s.hasTo)}, s.limit)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				k := LatestEntriesKey{EmployeeID: e.EmployeeID, From: s.from, To: s.to, HasFrom: s.hasFrom, HasTo: s.hasTo, Limit: s.limit}
				found[k] = append(found[k], e)
			}
		}
		values := make([][]*store.TimeEntry, len(keys))
		for i, k := range keys {
			if values[i] = found[k]; values[i] == nil {
				values[i] = []*store.TimeEntry{}
			}
		}
		return values, nil
	}
}

// LatestKey builds the key of an employee's latest entries; nil times are unbounded.
func LatestKey(employeeID uuid.UUID, from, to *time.Time, limit int) LatestEntriesKey {
	k := LatestEntriesKey{EmployeeID: employeeID, Limit: limit}
	if from != nil {
		k.From, k.HasFrom = from.UnixMicro(), true
	}
	if to != nil {
		k.To, k.HasTo = to.UnixMicro(), true
	}
	return k
}

func fromMicros(us int64, ok bool) time.Time {
	if !ok {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

type ctxKey struct{}

// WithLoaders returns ctx carrying l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// ErrNoLoaders means a resolver ran outside a request that set up loaders: a wiring bug.
var ErrNoLoaders = errors.New("loaders: none in context")

// For returns the request's loaders, or ErrNoLoaders.
func For(ctx context.Context) (*Loaders, error) {
	if l, ok := ctx.Value(ctxKey{}).(*Loaders); ok && l != nil {
		return l, nil
	}
	return nil, ErrNoLoaders
}
