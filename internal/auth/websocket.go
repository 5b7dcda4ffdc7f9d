package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// WebsocketInit authenticates a websocket's connection_init payload through the same checks and
// failure guard as a request's Authorization header ({"Authorization": "Bearer …"}, or Apollo's
// {"authToken": "…"}). A connection already authenticated by its upgrade request's header keeps
// that principal. The returned context ends when the principal's credentials expire, or when a
// recheck every recheckEvery finds the principal may no longer act (a terminated employee): a
// connection carries queries and mutations too, and must not outlive what opened it.
//
// A refusal's error wraps ErrUnauthenticated and its text is safe to show; any other error is
// the server's, to be logged and not shown.
func WebsocketInit(v TokenVerifier, guard FailureGuard, recheckEvery time.Duration) func(ctx context.Context, payload map[string]any) (context.Context, error) {
	return func(ctx context.Context, payload map[string]any) (context.Context, error) {
		if p, ok := PrincipalFrom(ctx); ok {
			return watch(ctx, v, p, recheckEvery), nil
		}
		initialised(ctx)
		header, _ := payload["Authorization"].(string)
		if _, ok := BearerToken(header); !ok {
			if t, isString := payload["authToken"].(string); isString && t != "" {
				header = "Bearer " + t
			}
		}
		p, err := Authenticate(ctx, v, guard, header)
		var refused *RefusedError
		switch {
		case err == nil:
			return watch(WithPrincipal(ctx, p), v, p, recheckEvery), nil
		case !errors.As(err, &refused):
			return ctx, err
		case refused.RetryAfter > 0:
			return ctx, initRefusal(fmt.Sprintf("rate limited: too many failed authentications from this address; retry in %d s",
				RetryAfterSeconds(refused.RetryAfter)))
		case header == "":
			return ctx, initRefusal(`unauthenticated: send {"Authorization": "Bearer <token>"} in connection_init`)
		}
		return ctx, initRefusal("unauthenticated: " + refused.Message)
	}
}

// initRefusal is a refused connection_init: its text is what the client is told.
type initRefusal string

func (e initRefusal) Error() string { return string(e) }
func (e initRefusal) Unwrap() error { return ErrUnauthenticated }

// rechecker tells whether a principal may still act (Credentials.Recheck).
type rechecker interface {
	Recheck(ctx context.Context, p *Principal) error
}

// watch bounds a connection's context by the principal's expiry and, when v can recheck, ends it
// as soon as a recheck refuses the principal. A recheck that cannot tell (the database does not
// answer) keeps the connection: it is retried at the next tick. The rechecks, and the expiry
// with them, run on one timer (time.AfterFunc), not on a goroutine of the connection's: an open
// connection costs a timer, not a goroutine's stack. An expired connection's context ends with
// the cause context.DeadlineExceeded.
func watch(ctx context.Context, v TokenVerifier, p *Principal, every time.Duration) context.Context {
	r, ok := v.(rechecker)
	if !ok || every <= 0 || p.Service {
		if !p.ExpiresAt.IsZero() {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, p.ExpiresAt)
			context.AfterFunc(ctx, cancel) // releases the timer as soon as the connection ends
		}
		return ctx
	}
	ctx, cancel := context.WithCancelCause(ctx)
	rc := &recheck{ctx: ctx, cancel: cancel, r: r, p: p, every: every}
	rc.mu.Lock()
	rc.timer = time.AfterFunc(rc.next(), rc.tick)
	rc.mu.Unlock()
	return ctx
}

// recheck is one connection's periodic recheck of its principal, and its expiry. Its timer
// outlives the connection by at most one tick, which then finds the context ended.
type recheck struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	r      rechecker
	p      *Principal
	every  time.Duration

	mu    sync.Mutex
	timer *time.Timer
}

// next is how long until the next recheck, or the expiry when that comes first.
func (rc *recheck) next() time.Duration {
	if rc.p.ExpiresAt.IsZero() {
		return rc.every
	}
	return min(rc.every, time.Until(rc.p.ExpiresAt))
}

// tick ends the context when the principal expired or a recheck refuses it (the recheck runs on
// the timer's goroutine), and sets the timer again otherwise.
func (rc *recheck) tick() {
	if rc.ctx.Err() != nil {
		return
	}
	if !rc.p.ExpiresAt.IsZero() && !time.Now().Before(rc.p.ExpiresAt) {
		rc.cancel(context.DeadlineExceeded)
		return
	}
	if err := rc.r.Recheck(rc.ctx, rc.p); errors.Is(err, ErrUnauthenticated) {
		rc.cancel(err)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.ctx.Err() == nil {
		rc.timer.Reset(rc.next())
	}
}

// WebsocketLimits bound websockets that have not authenticated yet. A socket upgraded without
// credentials costs a connection, a goroutine and buffers while it waits for connection_init:
// without a bound, 3,000 idle sockets held 100 MB and 3,000 file descriptors for as long as
// their clients liked.
type WebsocketLimits struct {
	// InitTimeout is how long a socket may take to send connection_init (default 5s); one that
	// does not is closed and counts as a failed authentication of its address.
	InitTimeout time.Duration
	// MaxPending bounds the sockets waiting for connection_init (default 1,000), and
	// MaxPendingPerClient those of one client address (default 10).
	MaxPending, MaxPendingPerClient int
	// AccountRecheck is how often an open connection's principal is checked again (default
	// DefaultAccountTTL): a terminated employee's socket closes within about that long.
	AccountRecheck time.Duration
}

// DefaultWebsocketLimits: a browser sends connection_init as soon as the socket opens.
func DefaultWebsocketLimits() WebsocketLimits {
	return WebsocketLimits{InitTimeout: 5 * time.Second, MaxPending: 1000, MaxPendingPerClient: 10}
}

// WithDefaults fills the limits left at zero.
func (l WebsocketLimits) WithDefaults() WebsocketLimits {
	def := DefaultWebsocketLimits()
	if l.InitTimeout <= 0 {
		l.InitTimeout = def.InitTimeout
	}
	if l.MaxPending <= 0 {
		l.MaxPending = def.MaxPending
	}
	if l.MaxPendingPerClient <= 0 {
		l.MaxPendingPerClient = def.MaxPendingPerClient
	}
	if l.AccountRecheck <= 0 {
		l.AccountRecheck = DefaultAccountTTL
	}
	return l
}

// PendingSockets counts the sockets waiting for connection_init, per client address and in
// all.
type PendingSockets struct {
	limits   WebsocketLimits
	guard    FailureGuard
	mu       sync.Mutex
	total    int
	byClient map[string]int
}

// NewPendingSockets bounds pending sockets by limits; guard is charged for each that ends
// without connection_init.
func NewPendingSockets(limits WebsocketLimits, guard FailureGuard) *PendingSockets {
	if guard == nil {
		guard = noGuard{}
	}
	return &PendingSockets{limits: limits.WithDefaults(), guard: guard, byClient: map[string]int{}}
}

type pendingSocket struct {
	once    sync.Once
	release func()
	inited  atomic.Bool // connection_init arrived (WebsocketInit judged it)
}

type pendingSocketKey struct{}

// Admit takes a place for a socket of ctx's client address, or reports that the bounds are
// reached. The returned context marks the socket; done must be called when the socket ends: a
// socket that never sent connection_init is then charged as a failed authentication. An
// address whose failures are spent is still admitted: its valid token arrives in
// connection_init, and only its failures are throttled (there).
func (p *PendingSockets) Admit(ctx context.Context) (_ context.Context, done func(), ok bool) {
	client := ClientAddress(ctx)
	p.mu.Lock()
	if p.total >= p.limits.MaxPending || p.byClient[client] >= p.limits.MaxPendingPerClient {
		p.mu.Unlock()
		return ctx, nil, false
	}
	p.total++
	p.byClient[client]++
	p.mu.Unlock()
	s := &pendingSocket{release: func() { p.leave(client) }}
	return context.WithValue(ctx, pendingSocketKey{}, s), func() {
		s.once.Do(s.release)
		if !s.inited.Load() {
			p.guard.Refused(ctx, ReasonMissing)
			p.guard.Failed(ctx)
		}
	}, true
}

func (p *PendingSockets) leave(client string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total--
	if p.byClient[client]--; p.byClient[client] <= 0 {
		delete(p.byClient, client)
	}
}

// initialised marks ctx's pending socket as having sent connection_init, and gives up its
// place.
func initialised(ctx context.Context) {
	if s, ok := ctx.Value(pendingSocketKey{}).(*pendingSocket); ok {
		s.inited.Store(true)
		s.once.Do(s.release)
	}
}
