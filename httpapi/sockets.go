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
// http.Server.Shutdown neither closes hijacked connections nor waits for them. Build one with
// NewSockets.
type Sockets struct {
	// goingAway ends when Close is called.
	goingAway context.Context
	close     context.CancelFunc

	mu     sync.Mutex
	active int
	held   map[*wsConn]struct{} // transportWS's connections (hold)
}

// NewSockets returns a tracker with no sockets.
func NewSockets() *Sockets {
	ctx, cancel := context.WithCancel(context.Background())
	return &Sockets{goingAway: ctx, close: cancel, held: map[*wsConn]struct{}{}}
}

// Close closes every websocket with CloseGoingAway (and any opened later at once), cancels
// their operations, and waits until their handlers have returned or ctx ends (then it returns
// ctx's error).
func (s *Sockets) Close(ctx context.Context) error {
	s.close()
	s.mu.Lock()
	held := make([]*wsConn, 0, len(s.held))
	for c := range s.held {
		held = append(held, c)
	}
	s.mu.Unlock()
	for _, c := range held {
		c.close(CloseGoingAway, "server shutting down")
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.Active() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Active is the number of websockets and Server-Sent Events streams open now.
func (s *Sockets) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// hold counts c, a websocket that outlives its upgrade's handler (transportWS detaches the
// connection after connection_init), until release, which must be called once it ends; Close
// closes it with CloseGoingAway (at once when Close was called already). A registry, not a
// context.AfterFunc per connection: 10,000 sockets, 10,000 map entries.
func (s *Sockets) hold(c *wsConn) (release func()) {
	s.mu.Lock()
	closing := s.goingAway.Err() != nil
	if !closing {
		s.held[c] = struct{}{}
	}
	s.active++
	s.mu.Unlock()
	if closing {
		c.close(CloseGoingAway, "server shutting down")
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.held, c)
			s.active--
			s.mu.Unlock()
		})
	}
}

// track counts a websocket upgrade's handler, or a Server-Sent Events stream's, and ends its
// context once Close is called (the operations it runs are cancelled; goingAwayWebsockets
// closes a socket itself; a stream ends with its subscriptions). http.Server.Shutdown would
// wait for a stream until its deadline: it never goes idle.
func (s *Sockets) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stream := isWebsocketUpgrade(r) && !(transportWS{}).Supports(r) || // transportWS holds its own
			(transport.SSE{}).Supports(r)
		if !stream {
			next.ServeHTTP(w, r)
			return
		}
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
		stop := context.AfterFunc(s.goingAway, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// goingAwayWebsockets accepts websockets with gqlgen's default implementation and closes each
// with CloseGoingAway once the sockets are told to go away — whatever it is doing, waiting for
// connection_init included. gqlgen itself would close a socket whose context ended with 1000
// (normal closure), which tells a client the conversation is over where 1001 tells it to
// reconnect, and would leave a socket waiting for connection_init open until its timeout.
type goingAwayWebsockets struct {
	inner     transport.WebsocketImplementation
	goingAway context.Context
}

func (g goingAwayWebsockets) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := g.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	c := &goingAwayConn{WebsocketConn: conn, goingAway: g.goingAway.Done()}
	c.stop = context.AfterFunc(g.goingAway, func() {
		// The close handshake ends gqlgen's read loop, which then cleans up as for a client
		// that left. A socket accepted after Close goes away at once.
		_ = c.WriteClose(CloseGoingAway, "server shutting down")
	})
	return c, nil
}

// goingAwayConn is a websocket whose close code is CloseGoingAway once the server shuts down.
// It passes the optional read limit and deadline on, which gqlgen enforces only on a connection
// that has them (TestWebsocketConnKeepsLimits).
type goingAwayConn struct {
	transport.WebsocketConn
	goingAway <-chan struct{}
	stop      func() bool
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

func (c *goingAwayConn) Close() error {
	c.stop()
	return c.WebsocketConn.Close()
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
