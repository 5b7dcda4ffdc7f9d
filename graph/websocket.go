package graph

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/workingtracker/api/internal/auth"
)

// WebsocketLimits bound websockets that have not authenticated yet. A socket that was upgraded
// without credentials costs the server a connection, a goroutine and buffers while it waits for
// connection_init: without a bound, 3,000 idle sockets held 100 MB and 3,000 file descriptors
// for as long as their clients liked.
type WebsocketLimits struct {
	// InitTimeout is how long a socket may take to send connection_init (default 5s); one that
	// does not is closed and counts as a failed authentication of its address.
	InitTimeout time.Duration
	// MaxPending bounds the sockets waiting for connection_init (default 1,000), and
	// MaxPendingPerClient those of one client address (default 10); an upgrade over either is
	// answered 429.
	MaxPending, MaxPendingPerClient int
}

// DefaultWebsocketLimits: a browser sends connection_init as soon as the socket opens.
func DefaultWebsocketLimits() WebsocketLimits {
	return WebsocketLimits{InitTimeout: 5 * time.Second, MaxPending: 1000, MaxPendingPerClient: 10}
}

// pendingSockets counts the sockets waiting for connection_init, per client address and in all.
type pendingSockets struct {
	limits   WebsocketLimits
	guard    auth.FailureGuard
	mu       sync.Mutex
	total    int
	byClient map[string]int
}

func newPendingSockets(limits WebsocketLimits, guard auth.FailureGuard) *pendingSockets {
	return &pendingSockets{limits: limits, guard: guard, byClient: map[string]int{}}
}

// pendingSocket is one socket's place in the count, released once: at connection_init or when
// the socket ends without one.
type pendingSocket struct {
	once    sync.Once
	release func()
	// inited is set when connection_init arrived (the init function then judged it).
	inited bool
}

type pendingSocketKey struct{}

// initialised marks the request's pending socket as having sent connection_init, and releases
// its place.
func initialised(ctx context.Context) {
	if s, ok := ctx.Value(pendingSocketKey{}).(*pendingSocket); ok {
		s.inited = true
		s.once.Do(s.release)
	}
}

// gate admits an upgrade without credentials only while the bounds allow, and counts a socket
// that ends without connection_init as a failed authentication. An address whose failures are
// spent is still admitted: its valid token arrives in connection_init, and only its failures
// are throttled (there, by the same guard).
func (p *pendingSockets) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.PrincipalFrom(r.Context()); ok || !isUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		client := clientAddress(r.Context())
		if !p.admit(client) {
			auth.TooManyConnections(w, "too many websockets waiting for connection_init")
			return
		}
		s := &pendingSocket{release: func() { p.leave(client) }}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), pendingSocketKey{}, s)))
		s.once.Do(s.release)
		if !s.inited {
			p.guard.Failed(r.Context())
		}
	})
}

func (p *pendingSockets) admit(client string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total >= p.limits.MaxPending || p.byClient[client] >= p.limits.MaxPendingPerClient {
		return false
	}
	p.total++
	p.byClient[client]++
	return true
}

func (p *pendingSockets) leave(client string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total--
	if p.byClient[client]--; p.byClient[client] <= 0 {
		delete(p.byClient, client)
	}
}

func isUpgrade(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }
