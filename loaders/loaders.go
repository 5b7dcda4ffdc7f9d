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
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/store"
)

// Reader is what the loaders need of the store; every method returns rows in any order.
type Reader interface {
	EmployeesByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Employee, error)
	DepartmentsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Department, error)
	ProjectsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Project, error)
	TasksByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Task, error)
	TimeEntriesByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.TimeEntry, error)
	ProjectsByEmployeeIDs(ctx context.Context, scope store.Scope, employeeIDs []uuid.UUID, limit int) ([]store.EmployeeProject, error)
	MembersByProjectIDs(ctx context.Context, scope store.Scope, projectIDs []uuid.UUID, limit int) ([]store.ProjectMember, error)
	MemberSummariesByProjectIDs(ctx context.Context, scope store.Scope, projectIDs []uuid.UUID, limit int) ([]store.ProjectMember, error)
	TasksByProjectIDs(ctx context.Context, scope store.Scope, projectIDs []uuid.UUID, limit int) ([]*store.Task, error)
	DependenciesByTaskIDs(ctx context.Context, scope store.Scope, taskIDs []uuid.UUID, limit int) ([]store.TaskDependency, error)
	TrackedSecondsByProjectIDs(ctx context.Context, scope store.Scope, projectIDs []uuid.UUID) ([]store.ProjectSeconds, error)
	ReportedSecondsByProjectIDs(ctx context.Context, scope store.Scope, projectIDs []uuid.UUID) ([]store.ProjectSeconds, error)
	LatestTimeEntriesByEmployeeIDs(ctx context.Context, scope store.Scope, employeeIDs []uuid.UUID, r store.TimeRange, limit int) ([]*store.TimeEntry, error)
	LatestTimeEntrySummariesByEmployeeIDs(ctx context.Context, scope store.Scope, employeeIDs []uuid.UUID, r store.TimeRange, limit int) ([]*store.TimeEntry, error)
	EmployeesWithRefsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]store.EmployeeRefs, error)
	ListTimeEntries(ctx context.Context, scope store.Scope, params store.ListTimeEntriesParams, page store.PageParams) (store.Page[*store.TimeEntry], error)
	ListTimeEntriesWithRefs(ctx context.Context, scope store.Scope, params store.ListTimeEntriesParams, page store.PageParams) (store.Page[store.TimeEntryRefs], error)
	ScreenshotsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Screenshot, error)
	ScreenshotsByTimeEntryIDs(ctx context.Context, scope store.Scope, entryIDs []uuid.UUID, limit int) ([]*store.Screenshot, error)
	ListScreenshots(ctx context.Context, scope store.Scope, params store.ListScreenshotsParams, page store.PageParams) (store.Page[*store.Screenshot], error)
	EmployeePIIByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.EmployeePII, error)
}

// Opts tunes batching.
type Opts struct {
	// Quiet is how long a batch must go without a new key before it is fetched.
	Quiet time.Duration
	// MaxWait caps how long a batch stays open while keys keep arriving.
	MaxWait time.Duration
	// BeforeWait, when set, is called by a load about to wait for its batch, with the load's
	// context: the caller's chance to start work that will add keys to the batch (the server
	// passes internal/lists.BeforeWait, which starts the sibling fields and list elements it
	// runs one after another).
	BeforeWait func(ctx context.Context)
	// Tracer, when set, gives each batch fetch a span ("loader <Name>", with the batch's size as
	// loader.batch.size) under the request's span: one per batch, never one per key. Unset, or
	// under a request that is not sampled, batches start no span.
	Tracer trace.Tracer
	// Name names the loader in its batch spans; Loaders sets it per relationship.
	Name string
	// CachedLastFours, when set, are the masked forms of the personal data of employee (of
	// tenant) cached at a version of its row, or nil (pii.Keyring.CachedLastFours): prefetchPII
	// reads no ciphertext for those, and keeps them on the rows. Unset, every row whose last
	// four are shown has its ciphertexts read.
	CachedLastFours func(tenant, employee uuid.UUID, version uint32) *[4]*string
	// ObserveBatch, when set, is told the size of every batch a loader fetches, with the
	// loader's name (a fixed set: LoaderNames), for the batch-size metrics.
	ObserveBatch func(loader string, keys int)
}

// LoaderNames are the names loaders carry (Opts.Name), one per relationship: the values of the
// batch metrics' loader label and of batch spans' names.
func LoaderNames() []string {
	return []string{"employee", "department", "project", "task", "time_entry", "projects_of_employee",
		"members_of_project", "member_summaries_of_project", "tasks_of_project", "dependencies_of_task", "tracked_seconds", "reported_seconds", "latest_entries_of_employee",
		"screenshot", "screenshots_of_time_entry", "pii_ciphertexts"}
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

// Loaders holds one loader per relationship. Each is built on first use: most requests touch
// two or three of them, and building all eleven was a tenth of a small request's allocations.
type Loaders struct {
	r     Reader
	scope store.Scope
	opts  Opts

	employee                 lazy[*Loader[uuid.UUID, *store.Employee]]
	department               lazy[*Loader[uuid.UUID, *store.Department]]
	project                  lazy[*Loader[uuid.UUID, *store.Project]]
	task                     lazy[*Loader[uuid.UUID, *store.Task]]
	timeEntry                lazy[*Loader[uuid.UUID, *store.TimeEntry]]
	projectsOfEmployee       lazy[*Loader[ChildrenKey, []*store.Project]]
	membersOfProject         lazy[*Loader[ChildrenKey, []*store.Employee]]
	memberSummariesOfProject lazy[*Loader[ChildrenKey, []*store.Employee]]
	tasksOfProject           lazy[*Loader[ChildrenKey, []*store.Task]]
	dependenciesOfTask       lazy[*Loader[ChildrenKey, []*store.Task]]
	trackedSeconds           lazy[*Loader[uuid.UUID, int64]]
	reportedSeconds          lazy[*Loader[uuid.UUID, int64]]
	latestEntriesOfEmployee  lazy[*Loader[LatestEntriesKey, []*store.TimeEntry]]
	screenshot               lazy[*Loader[uuid.UUID, *store.Screenshot]]
	screenshotsOfTimeEntry   lazy[*Loader[ChildrenKey, []*store.Screenshot]]
	piiCiphertexts           lazy[*Loader[uuid.UUID, *store.EmployeePII]]
}

// lazy builds a value once, on first use, safely from concurrent resolvers.
type lazy[T any] struct {
	once sync.Once
	v    T
}

func (z *lazy[T]) get(build func() T) T {
	z.once.Do(func() { z.v = build() })
	return z.v
}

// LatestEntriesKey asks for an employee's latest Limit entries that started in [From, To).
// Bounds are Unix microseconds with explicit presence, so that equal ranges are equal keys and
// every representable time (1970 and year 9999 included) means itself. Summary asks for the
// entries' summaries (store.LatestTimeEntrySummariesByEmployeeIDs); it is part of the key, so a
// summary never answers a field that reads what it leaves out.
type LatestEntriesKey struct {
	EmployeeID     uuid.UUID
	From, To       int64
	HasFrom, HasTo bool
	Limit          int
	Summary        bool
}

// ChildrenKey asks for the first Limit children of Parent (members of a project, its tasks …):
// relation lists are bounded like pages, so their price (@listSize on first) is an upper bound.
type ChildrenKey struct {
	Parent uuid.UUID
	Limit  int
}

// Children builds the key of parent's first limit children.
func Children(parent uuid.UUID, limit int) ChildrenKey {
	return ChildrenKey{Parent: parent, Limit: limit}
}

// ChildrenOf builds the keys of the first limit children of each parent.
func ChildrenOf(parents []uuid.UUID, limit int) []ChildrenKey {
	keys := make([]ChildrenKey, len(parents))
	for i, p := range parents {
		keys[i] = ChildrenKey{Parent: p, Limit: limit}
	}
	return keys
}

// New prepares the loaders of one request; each is built when first asked for.
func New(r Reader, scope store.Scope, opts Opts) *Loaders {
	return &Loaders{r: r, scope: scope, opts: opts}
}

// named is the options of the loader of one relationship.
func (l *Loaders) named(name string) Opts {
	o := l.opts
	o.Name = name
	return o
}

// Employee loads employees by id.
func (l *Loaders) Employee() *Loader[uuid.UUID, *store.Employee] {
	return l.employee.get(func() *Loader[uuid.UUID, *store.Employee] {
		return byID(l.named("employee"), func(ctx context.Context, ids []uuid.UUID) ([]*store.Employee, error) {
			return l.r.EmployeesByIDs(ctx, l.scope, ids)
		}, func(e *store.Employee) uuid.UUID { return e.ID })
	})
}

// Department loads departments by id.
func (l *Loaders) Department() *Loader[uuid.UUID, *store.Department] {
	return l.department.get(func() *Loader[uuid.UUID, *store.Department] {
		return byID(l.named("department"), func(ctx context.Context, ids []uuid.UUID) ([]*store.Department, error) {
			return l.r.DepartmentsByIDs(ctx, l.scope, ids)
		}, func(d *store.Department) uuid.UUID { return d.ID })
	})
}

// Project loads projects by id.
func (l *Loaders) Project() *Loader[uuid.UUID, *store.Project] {
	return l.project.get(func() *Loader[uuid.UUID, *store.Project] {
		return byID(l.named("project"), func(ctx context.Context, ids []uuid.UUID) ([]*store.Project, error) {
			return l.r.ProjectsByIDs(ctx, l.scope, ids)
		}, func(p *store.Project) uuid.UUID { return p.ID })
	})
}

// Task loads tasks by id.
func (l *Loaders) Task() *Loader[uuid.UUID, *store.Task] {
	return l.task.get(func() *Loader[uuid.UUID, *store.Task] {
		return byID(l.named("task"), func(ctx context.Context, ids []uuid.UUID) ([]*store.Task, error) {
			return l.r.TasksByIDs(ctx, l.scope, ids)
		}, func(t *store.Task) uuid.UUID { return t.ID })
	})
}

// TimeEntry loads time entries by id.
func (l *Loaders) TimeEntry() *Loader[uuid.UUID, *store.TimeEntry] {
	return l.timeEntry.get(func() *Loader[uuid.UUID, *store.TimeEntry] {
		return byID(l.named("time_entry"), func(ctx context.Context, ids []uuid.UUID) ([]*store.TimeEntry, error) {
			return l.r.TimeEntriesByIDs(ctx, l.scope, ids)
		}, func(t *store.TimeEntry) uuid.UUID { return t.ID })
	})
}

// ProjectsOfEmployee loads the first projects of each employee.
func (l *Loaders) ProjectsOfEmployee() *Loader[ChildrenKey, []*store.Project] {
	return l.projectsOfEmployee.get(func() *Loader[ChildrenKey, []*store.Project] {
		return limitedGroups(l.named("projects_of_employee"), func(ctx context.Context, ids []uuid.UUID, limit int) ([]store.EmployeeProject, error) {
			return l.r.ProjectsByEmployeeIDs(ctx, l.scope, ids, limit)
		}, func(ep store.EmployeeProject) (uuid.UUID, *store.Project) { return ep.EmployeeID, ep.Project })
	})
}

// MembersOfProject loads the first members of each project.
func (l *Loaders) MembersOfProject() *Loader[ChildrenKey, []*store.Employee] {
	return l.membersOfProject.get(func() *Loader[ChildrenKey, []*store.Employee] {
		return limitedGroups(l.named("members_of_project"), func(ctx context.Context, ids []uuid.UUID, limit int) ([]store.ProjectMember, error) {
			return l.r.MembersByProjectIDs(ctx, l.scope, ids, limit)
		}, func(m store.ProjectMember) (uuid.UUID, *store.Employee) { return m.ProjectID, m.Employee })
	})
}

// MemberSummariesOfProject loads the first members of each project as summaries: id, tenant
// and name only (store.MemberSummariesByProjectIDs). Its own loader, so a summary never answers
// a list that reads more (MembersOf).
func (l *Loaders) MemberSummariesOfProject() *Loader[ChildrenKey, []*store.Employee] {
	return l.memberSummariesOfProject.get(func() *Loader[ChildrenKey, []*store.Employee] {
		return limitedGroups(l.named("member_summaries_of_project"), func(ctx context.Context, ids []uuid.UUID, limit int) ([]store.ProjectMember, error) {
			return l.r.MemberSummariesByProjectIDs(ctx, l.scope, ids, limit)
		}, func(m store.ProjectMember) (uuid.UUID, *store.Employee) { return m.ProjectID, m.Employee })
	})
}

// TasksOfProject loads the first tasks of each project.
func (l *Loaders) TasksOfProject() *Loader[ChildrenKey, []*store.Task] {
	return l.tasksOfProject.get(func() *Loader[ChildrenKey, []*store.Task] {
		return limitedGroups(l.named("tasks_of_project"), func(ctx context.Context, ids []uuid.UUID, limit int) ([]*store.Task, error) {
			return l.r.TasksByProjectIDs(ctx, l.scope, ids, limit)
		}, func(t *store.Task) (uuid.UUID, *store.Task) { return t.ProjectID, t })
	})
}

// DependenciesOfTask loads the first tasks each task depends on.
func (l *Loaders) DependenciesOfTask() *Loader[ChildrenKey, []*store.Task] {
	return l.dependenciesOfTask.get(func() *Loader[ChildrenKey, []*store.Task] {
		return limitedGroups(l.named("dependencies_of_task"), func(ctx context.Context, ids []uuid.UUID, limit int) ([]store.TaskDependency, error) {
			return l.r.DependenciesByTaskIDs(ctx, l.scope, ids, limit)
		}, func(d store.TaskDependency) (uuid.UUID, *store.Task) { return d.TaskID, d.Task })
	})
}

// TrackedSeconds loads the tracked seconds of each project.
func (l *Loaders) TrackedSeconds() *Loader[uuid.UUID, int64] {
	return l.trackedSeconds.get(func() *Loader[uuid.UUID, int64] {
		return byKey(l.named("tracked_seconds"), func(ctx context.Context, ids []uuid.UUID) ([]store.ProjectSeconds, error) {
			return l.r.TrackedSecondsByProjectIDs(ctx, l.scope, ids)
		}, func(ps store.ProjectSeconds) uuid.UUID { return ps.ProjectID }, func(ps store.ProjectSeconds) int64 { return ps.Seconds })
	})
}

// ReportedSeconds loads the tracked seconds of each project as the report views hold them (as
// of their last refresh), under the same reach rule as TrackedSeconds.
func (l *Loaders) ReportedSeconds() *Loader[uuid.UUID, int64] {
	return l.reportedSeconds.get(func() *Loader[uuid.UUID, int64] {
		return byKey(l.named("reported_seconds"), func(ctx context.Context, ids []uuid.UUID) ([]store.ProjectSeconds, error) {
			return l.r.ReportedSecondsByProjectIDs(ctx, l.scope, ids)
		}, func(ps store.ProjectSeconds) uuid.UUID { return ps.ProjectID }, func(ps store.ProjectSeconds) int64 { return ps.Seconds })
	})
}

// LatestEntriesOfEmployee loads the latest time entries of each employee.
func (l *Loaders) LatestEntriesOfEmployee() *Loader[LatestEntriesKey, []*store.TimeEntry] {
	return l.latestEntriesOfEmployee.get(func() *Loader[LatestEntriesKey, []*store.TimeEntry] {
		return NewLoader(l.named("latest_entries_of_employee"), latestEntriesBatch(l.r, l.scope))
	})
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

// limitedGroups loads the first Limit children of each parent key, keeping the store's order
// within a parent: one statement per distinct limit among the keys — in practice one, since
// siblings in a query share their arguments.
func limitedGroups[Row, V any](opts Opts, fetch func(context.Context, []uuid.UUID, int) ([]Row, error),
	split func(Row) (uuid.UUID, V),
) *Loader[ChildrenKey, []V] {
	return NewLoader(opts, func(ctx context.Context, keys []ChildrenKey) ([][]V, error) {
		byLimit := make(map[int][]uuid.UUID, 1)
		for _, k := range keys {
			byLimit[k.Limit] = append(byLimit[k.Limit], k.Parent)
		}
		groups := make(map[ChildrenKey][]V, len(keys))
		for limit, parents := range byLimit {
			rows, err := fetch(ctx, parents, limit)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				parent, v := split(r)
				k := ChildrenKey{Parent: parent, Limit: limit}
				groups[k] = append(groups[k], v)
			}
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
		summary        bool
	}
	return func(ctx context.Context, keys []LatestEntriesKey) ([][]*store.TimeEntry, error) {
		byShape := make(map[shape][]uuid.UUID)
		for _, k := range keys {
			s := shape{k.From, k.To, k.HasFrom, k.HasTo, k.Limit, k.Summary}
			byShape[s] = append(byShape[s], k.EmployeeID)
		}
		found := make(map[LatestEntriesKey][]*store.TimeEntry, len(keys))
		for s, ids := range byShape {
			latest := r.LatestTimeEntriesByEmployeeIDs
			if s.summary {
				latest = r.LatestTimeEntrySummariesByEmployeeIDs
			}
			entries, err := latest(ctx, scope, ids,
				store.TimeRange{From: fromMicros(s.from, s.hasFrom), To: fromMicros(s.to, s.hasTo)}, s.limit)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				k := LatestEntriesKey{EmployeeID: e.EmployeeID, From: s.from, To: s.to, HasFrom: s.hasFrom, HasTo: s.hasTo,
					Limit: s.limit, Summary: s.summary}
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

// latestKey builds the key of an employee's latest entries; nil times are unbounded.
func latestKey(employeeID uuid.UUID, from, to *time.Time, limit int, summary bool) LatestEntriesKey {
	k := LatestEntriesKey{EmployeeID: employeeID, Limit: limit, Summary: summary}
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
