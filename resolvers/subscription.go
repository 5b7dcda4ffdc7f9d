package resolvers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/store"
)

// ScreenshotEvents is the event bus the subscriptions listen to (events.Bus): it calls handle
// with the events of a tenant's screenshots that match, and resync events
// (events.ScreenshotChanged.Resync), one at a time and in order, until ctx ends; then done,
// once. match runs on the bus's goroutine and does no I/O. A subscription waiting for events
// holds no goroutine of its own: 10,000 open subscriptions cost 10,000 small records, not
// 10,000 stacks.
type ScreenshotEvents interface {
	SubscribeScreenshotsFunc(ctx context.Context, tenantID uuid.UUID, match func(events.ScreenshotChanged) bool,
		handle func(events.ScreenshotChanged), done func()) error
}

// ScreenshotReader reads screenshots by id within a scope (store.Store.ScreenshotsByIDs): rows
// out of the scope's reach read as absent.
type ScreenshotReader interface {
	ScreenshotsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Screenshot, error)
}

// sharedReads re-reads a screenshot once for all the subscriptions of this process that an
// event woke at the same time: one event for a tenant's screenshot reaches every HR and ADMIN
// subscriber of the tenant, the employee's own and their manager's, and each must send the row
// as it is now. The first subscription to ask reads the row tenant-wide; those that ask while
// that read is in flight share its result (singleflight, keyed by tenant and screenshot), and
// each applies its own scope's row-level rule to it in memory — the rule the store applies in
// SQL (the employee must be within the scope's reach). A read starts after the event that
// caused it, so it sees the change the event announced.
type sharedReads struct {
	group singleflight.Group
}

// readTimeout bounds a shared read, which no single subscription's cancellation may end.
const readTimeout = 10 * time.Second

func (r *Resolver) sharedScreenshot(ctx context.Context, sc store.Scope, reach reach, id uuid.UUID) (*store.Screenshot, error) {
	v, err, _ := r.reads.group.Do(sc.TenantID.String()+"/"+id.String(), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
		defer cancel()
		rows, err := r.store.ScreenshotsByIDs(ctx, store.Scope{TenantID: sc.TenantID, ActorID: sc.ActorID}, []uuid.UUID{id})
		if err != nil || len(rows) == 0 {
			return (*store.Screenshot)(nil), err
		}
		return rows[0], nil
	})
	if err != nil {
		return nil, fmt.Errorf("re-read screenshot: %w", err)
	}
	row := v.(*store.Screenshot)
	if row == nil || row.TenantID != sc.TenantID || !reach.has(row.EmployeeID) {
		return nil, nil
	}
	c := *row // shared between subscriptions: each sends its own copy
	return &c, nil
}

// reach is a scope's Visible as a set: nil reaches the whole tenant.
type reach map[uuid.UUID]struct{}

// DefaultReachRefresh is how stale a subscription's reach may grow before an event re-reads it
// (Deps.ReachRefresh): a manager whose report moves to another manager stops hearing of their
// screenshots within it.
const DefaultReachRefresh = 30 * time.Second

// Scopes recomputes the request's scope from its principal (policy.Scopes).
type Scopes interface {
	Scope(ctx context.Context) (store.Scope, error)
}

// liveReach is a subscription's reach, re-read through Scopes once it is older than
// every, when an event needs it (never on the bus's goroutine: match uses the last one).
type liveReach struct {
	scopes Scopes
	every  time.Duration
	mu     sync.Mutex
	reach  reach
	at     time.Time
}

func (r *Resolver) newLiveReach(sc store.Scope) *liveReach {
	every := r.deps.ReachRefresh
	if every <= 0 {
		every = DefaultReachRefresh
	}
	return &liveReach{scopes: r.deps.Scopes, every: every, reach: reachOf(sc), at: time.Now()}
}

// last is the reach as last read, for match.
func (l *liveReach) last() reach {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reach
}

// current is the reach, re-read first when stale (and Scopes is set).
func (l *liveReach) current(ctx context.Context) (reach, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.scopes == nil || time.Since(l.at) < l.every {
		return l.reach, nil
	}
	sc, err := l.scopes.Scope(ctx)
	if err != nil {
		return nil, fmt.Errorf("refresh subscription reach: %w", err)
	}
	l.reach, l.at = reachOf(sc), time.Now()
	return l.reach, nil
}

func reachOf(sc store.Scope) reach {
	if sc.Visible == nil {
		return nil
	}
	r := make(reach, len(sc.Visible))
	for _, id := range sc.Visible {
		r[id] = struct{}{}
	}
	return r
}

func (r reach) has(id uuid.UUID) bool {
	if r == nil {
		return true
	}
	_, ok := r[id]
	return ok
}

func (r *Resolver) events() (ScreenshotEvents, error) {
	if r.deps.Events == nil {
		return nil, fmt.Errorf("subscriptions: no event bus configured (resolvers.Deps.Events)")
	}
	return r.deps.Events, nil
}

// screenshotStatusChanged subscribes to the bus first, then reads the row through the request
// scope (so no change between the two is missed), sends it, and sends the row again after each
// event for it until it is PROCESSED or FAILED. A screenshot out of reach is NOT_FOUND.
func (r *Resolver) screenshotStatusChanged(ctx context.Context, screenshotID string) (<-chan *store.Screenshot, error) {
	sc, err := scope(ctx)
	if err != nil {
		return nil, err
	}
	bus, err := r.events()
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(screenshotID)
	if err != nil {
		return nil, &apperr.Error{Code: apperr.NotFound, Message: "screenshot not found", Field: "screenshotId"}
	}
	ctx, cancel := context.WithCancel(ctx)
	out, notify, streaming := stream(ctx)
	live := r.newLiveReach(sc)
	// The handler waits until the current state is sent: events that arrive meanwhile are
	// compared with it.
	ready := make(chan struct{})
	var last *store.Screenshot
	err = bus.SubscribeScreenshotsFunc(ctx, sc.TenantID, func(e events.ScreenshotChanged) bool { return e.ScreenshotID == id },
		func(events.ScreenshotChanged) {
			select {
			case <-ready:
			case <-ctx.Done():
				return
			}
			if ctx.Err() != nil {
				return
			}
			rch, err := live.current(ctx)
			if err != nil {
				subscriptionFailed(ctx, err)
				cancel()
				return
			}
			row, err := r.sharedScreenshot(ctx, sc, rch, id)
			if err != nil {
				subscriptionFailed(ctx, err)
				cancel()
				return
			}
			if row == nil { // deleted, or no longer in reach
				cancel()
				return
			}
			if row.Status == last.Status && row.UpdatedAt.Equal(last.UpdatedAt) {
				return // a duplicate or a resync that found nothing new
			}
			last = row
			if !send(ctx, out, row, notify) || row.Finished() {
				cancel()
			}
		}, func() { close(out); notify() })
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe to screenshot events: %w", err)
	}
	defer close(ready)
	rows, err := r.store.ScreenshotsByIDs(ctx, sc, []uuid.UUID{id})
	if err != nil {
		cancel()
		return nil, err
	}
	if len(rows) == 0 {
		cancel()
		return nil, &apperr.Error{Code: apperr.NotFound, Message: "screenshot not found", Field: "screenshotId"}
	}
	last = rows[0]
	out <- last // the buffer is empty: nothing else sends before ready
	notify()
	if last.Finished() {
		cancel()
	}
	streaming()
	return out, nil
}

// screenshotEvents sends the screenshots the caller may see (one employee's when employeeID is
// given, who must be within reach) as each changes. Per event, the employee's reach is checked
// in memory, then the row is re-read and the row-level rule applied again before it is sent.
// A resync (events may have been lost while Redis was down) names no screenshot and sends
// nothing: a feed has no current state to send again.
func (r *Resolver) screenshotEvents(ctx context.Context, employeeID *string) (<-chan *store.Screenshot, error) {
	sc, err := scope(ctx)
	if err != nil {
		return nil, err
	}
	bus, err := r.events()
	if err != nil {
		return nil, err
	}
	live := r.newLiveReach(sc)
	var only *uuid.UUID
	if employeeID != nil {
		id, err := uuid.Parse(*employeeID)
		if err != nil || !live.last().has(id) {
			return nil, &apperr.Error{Code: apperr.NotFound, Message: "employee not found", Field: "employeeId"}
		}
		only = &id
	}
	ctx, cancel := context.WithCancel(ctx)
	out, notify, streaming := stream(ctx)
	err = bus.SubscribeScreenshotsFunc(ctx, sc.TenantID, func(e events.ScreenshotChanged) bool {
		return (only == nil || e.EmployeeID == *only) && live.last().has(e.EmployeeID)
	}, func(e events.ScreenshotChanged) {
		if e.Resync() || ctx.Err() != nil {
			return
		}
		rch, err := live.current(ctx)
		if err != nil {
			subscriptionFailed(ctx, err)
			cancel()
			return
		}
		row, err := r.sharedScreenshot(ctx, sc, rch, e.ScreenshotID)
		if err != nil {
			subscriptionFailed(ctx, err)
			cancel()
			return
		}
		if row == nil || (only != nil && row.EmployeeID != *only) {
			return
		}
		send(ctx, out, row, notify)
	}, func() { close(out); notify() })
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe to screenshot events: %w", err)
	}
	streaming()
	return out, nil
}

// stream is a subscription's channel; notify, to call after each value put in it and after
// closing it; and streaming, to call when returning it. The websocket transport then reads the
// channel only when it holds something, instead of parking a goroutine on it (graph.Stream).
func stream(ctx context.Context) (out chan *store.Screenshot, notify, ready func()) {
	out = make(chan *store.Screenshot, 1)
	if s, ok := graph.StreamFrom(ctx); ok {
		return out, s.Notify, s.Notifying
	}
	return out, func() {}, func() {}
}

func send(ctx context.Context, out chan<- *store.Screenshot, s *store.Screenshot, notify func()) bool {
	select {
	case out <- s:
		notify()
		return true
	case <-ctx.Done():
		return false
	}
}

// subscriptionFailed reports a failure that ends a subscription after it started: the error
// presenter logs it (an internal error in full, with the request id) and the websocket
// transports send the presented error in place of complete.
func subscriptionFailed(ctx context.Context, err error) {
	graphql.AddError(ctx, err)
	errs := graphql.GetErrors(ctx)
	if graph.FailStream(ctx, errs) {
		return
	}
	// gqlgen's AddSubscriptionError (its graphql-ws transport) dereferences a holder only its
	// websocket transport puts in the context; on other transports (SSE) the stream just ends.
	defer func() { _ = recover() }()
	for _, e := range errs {
		transport.AddSubscriptionError(ctx, e)
	}
}
