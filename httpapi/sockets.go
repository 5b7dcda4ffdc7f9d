package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// CloseGoingAway is the websocket close code a server shutting down sends (RFC 6455 1001: the
// endpoint is going away): clients reconnect, to another instance, at once.
const CloseGoingAway = 1001

// Sockets tracks the websockets a handler serves so that a server shutting down can close them:
// http.Server.Shutdown neither closes hijacked connections nor waits for them. The zero value is
// not usable; build one with NewSockets.
type Sockets struct {
	goingAway chan struct{}

	mu      sync.Mutex
	active  int
	closing bool
}

// NewSockets returns a tracker with no sockets.
func NewSockets() *Sockets {
	return &Sockets{goingAway: make(chan struct{})}
}

// Close tells every websocket to close with CloseGoingAway (and any opened later), and waits
// until their handlers have returned or ctx ends (then it returns ctx's error).
func (s *Sockets) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.goingAway)
	}
	s.mu.Unlock()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		active := s.active
		s.mu.Unlock()
		if active == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Active is the number of websockets open now.
func (s *Sockets) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// track counts a websocket upgrade's handler and ends its context once Close is called: the
// gqlgen transport then closes the socket (through goingAwayConn, with CloseGoingAway).
func (s *Sockets) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		// One that arrives while closing gets a context already ended: it is accepted and
		// closed at once, with CloseGoingAway, as a client expects from a server going away.
		s.mu.Lock()
		s.active++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.active--
			s.mu.Unlock()
		}()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(goingAwayContext{s.goingAway}, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// goingAwayContext is done once the sockets are told to go away.
type goingAwayContext struct{ done chan struct{} }

func (goingAwayContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c goingAwayContext) Done() <-chan struct{}     { return c.done }
func (goingAwayContext) Value(any) any               { return nil }
func (c goingAwayContext) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// goingAwayWebsockets accepts websockets with gqlgen's default implementation, and makes the
// close frame of a socket closed by a shutdown say so: gqlgen closes a socket whose context
// ended with 1000 (normal closure), which tells a client the conversation is over, where 1001
// tells it to reconnect.
type goingAwayWebsockets struct {
	inner     transport.WebsocketImplementation
	goingAway <-chan struct{}
}

func (g goingAwayWebsockets) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := g.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	return &goingAwayConn{WebsocketConn: conn, goingAway: g.goingAway}, nil
}

// goingAwayConn is a websocket whose close code is CloseGoingAway once the server shuts down.
// It passes the optional read limit and deadline on, which gqlgen enforces only on a connection
// that has them (TestWebsocketConnKeepsLimits).
type goingAwayConn struct {
	transport.WebsocketConn
	goingAway <-chan struct{}
}

var (
	_ transport.WebsocketReadLimiter   = (*goingAwayConn)(nil)
	_ transport.WebsocketReadDeadliner = (*goingAwayConn)(nil)
)

func (c *goingAwayConn) WriteClose(code int, message string) error {
	select {
	case <-c.goingAway:
		code, message = CloseGoingAway, "server shutting down"
	default:
	}
	return c.WebsocketConn.WriteClose(code, message)
}

func (c *goingAwayConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *goingAwayConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
