package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
)

// SubscriptionLimits bound what one principal (a person: tenant and employee; or an API key)
// holds open. They are counted per instance, in memory: behind a load balancer a principal may
// hold this many on each instance.
type SubscriptionLimits struct {
	// MaxConnections is the most websockets and Server-Sent Events streams a principal may
	// hold open (default 20, WS_MAX_CONNECTIONS_PER_PRINCIPAL); the next websocket is closed at
	// connection_init (4429), the next stream refused with 429 TOO_MANY_SUBSCRIPTIONS.
	MaxConnections int
	// MaxSubscriptions is the most subscriptions a principal may run at once, over websockets
	// and SSE together (default 100, MAX_SUBSCRIPTIONS_PER_PRINCIPAL); the next is refused with
	// TOO_MANY_SUBSCRIPTIONS and the connection stays usable.
	MaxSubscriptions int
}

// WithDefaults fills the limits left at zero.
func (l SubscriptionLimits) WithDefaults() SubscriptionLimits {
	if l.MaxConnections <= 0 {
		l.MaxConnections = 20
	}
	if l.MaxSubscriptions <= 0 {
		l.MaxSubscriptions = 100
	}
	return l
}

// closeTooManyConnections is the close code of a websocket over its principal's connection
// cap (graphql-transport-ws reserves 4400-4499 for the server's refusals).
const closeTooManyConnections = 4429

// principalCaps counts each principal's websockets and subscriptions.
type principalCaps struct {
	limits SubscriptionLimits
	mu     sync.Mutex
	conns  map[string]int
	subs   map[string]int
}

func newPrincipalCaps(l SubscriptionLimits) *principalCaps {
	return &principalCaps{limits: l.WithDefaults(), conns: map[string]int{}, subs: map[string]int{}}
}

// principalKey names a principal as its budget does: an API key, or a person of a tenant.
func principalKey(p *auth.Principal) string {
	if p.Service {
		return "key:" + p.APIKeyID.String()
	}
	return "user:" + p.TenantID.String() + ":" + p.EmployeeID.String()
}

// take counts one more in counts for key unless it holds max; release (idempotent) gives it back.
func (c *principalCaps) take(counts map[string]int, key string, max int) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if counts[key] >= max {
		return nil, false
	}
	counts[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if counts[key]--; counts[key] <= 0 {
				delete(counts, key)
			}
		})
	}, true
}

// admitConnection counts an authenticated websocket until ctx (the connection's) ends, or
// refuses it with the close code and reason the transport sends.
func (c *principalCaps) admitConnection(ctx context.Context) (context.Context, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return ctx, nil
	}
	release, ok := c.take(c.conns, principalKey(p), c.limits.MaxConnections)
	if !ok {
		msg := fmt.Sprintf("%s: at most %d websockets per user on this server; close one first",
			apperr.TooManySubscriptions, c.limits.MaxConnections)
		ctx = transport.WithWebsocketCloseCode(ctx, closeTooManyConnections)
		return transport.AppendCloseReason(ctx, msg), &wsCloseError{code: closeTooManyConnections, reason: msg}
	}
	context.AfterFunc(ctx, release)
	return ctx, nil
}

// admitStream counts an authenticated Server-Sent Events stream as one of its principal's
// connections until release: each is a connection held open as a websocket is.
func (c *principalCaps) admitStream(ctx context.Context) (release func(), ok bool) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return func() {}, true
	}
	return c.take(c.conns, principalKey(p), c.limits.MaxConnections)
}

// aroundOperations counts each subscription of a principal while it runs, on every transport,
// and refuses one over the cap as an error of that operation.
func (c *principalCaps) aroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	p, ok := auth.PrincipalFrom(ctx)
	if !ok || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	release, ok := c.take(c.subs, principalKey(p), c.limits.MaxSubscriptions)
	if !ok {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message: fmt.Sprintf("too many subscriptions: at most %d at once per user on this server; stop one first",
				c.limits.MaxSubscriptions),
			Extensions: map[string]any{"code": string(apperr.TooManySubscriptions), "maximum": c.limits.MaxSubscriptions},
		}}})
	}
	// A subscription ends when its stream does or when its context does (the client stopped
	// it, the connection closed).
	stop := context.AfterFunc(ctx, release)
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp == nil {
			stop()
			release()
		}
		return resp
	}
}

// websocketOrigins refuses a websocket upgrade whose Origin (a browser's page) is neither this
// host nor one of the CORS allowlist (FORBIDDEN, 403): a cross-site page could otherwise open a
// socket, though it cannot read the token it would need. Clients that send no Origin (servers,
// CLIs, mobile apps) pass. The websocket library checks the same list again when it accepts.
func websocketOrigins(allowed []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocketUpgrade(r) && !originAllowed(r, allowed) {
			writeRefusal(w, refusal{code: apperr.Forbidden, status: http.StatusForbidden,
				message: "this origin may not open websockets here: add it to CORS_ALLOWED_ORIGINS"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true // same origin: the playground
	}
	return slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(strings.TrimRight(a, "/"), origin) })
}

// sseTransport is gqlgen's Server-Sent Events transport (POST, Content-Type application/json,
// Accept: text/event-stream) behind the API's own request checks: the body is read as GraphQL
// over HTTP reads it, and refused through the one error writer (gqlgen's SSE would echo a bad
// body back); the stream ends when the principal's credentials expire or a recheck refuses the
// principal (as a websocket does); and the server's write timeout does not cut it off.
type sseTransport struct {
	inner transport.SSE
	watch func(ctx context.Context, payload map[string]any) (context.Context, error)
	caps  *principalCaps
}

var _ graphql.Transport = sseTransport{}

func (t sseTransport) Supports(r *http.Request) bool { return t.inner.Supports(r) }

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	mt := responseMediaType(r.Header.Get("Accept"))
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErrors(w, mt, http.StatusBadRequest, gqlerror.List{refusal{code: apperr.BadRequest,
			message: "could not read the request body"}.gqlError()})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if _, f := readParams(r); f != nil {
		writeErrors(w, mt, f.httpStatus(), gqlerror.List{f.gqlError()})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ctx, err := t.watch(r.Context(), nil)
	if err != nil {
		writeErrors(w, mt, http.StatusUnauthorized, gqlerror.List{refusal{code: apperr.Unauthenticated,
			message: "unauthenticated"}.gqlError()})
		return
	}
	release, ok := t.caps.admitStream(ctx)
	if !ok {
		writeErrors(w, mt, http.StatusTooManyRequests, gqlerror.List{refusal{code: apperr.TooManySubscriptions,
			message: fmt.Sprintf("at most %d websockets and event streams per user on this server; close one first",
				t.caps.limits.MaxConnections),
			extensions: map[string]any{"maximum": t.caps.limits.MaxConnections}}.gqlError()})
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream lives as long as its subscription
	t.inner.Do(flushingWriter{ResponseWriter: w, rc: rc}, r.WithContext(ctx), exec)
}

// flushingWriter flushes through the middleware's writers, which do not all implement
// http.Flusher themselves but unwrap to one that does.
type flushingWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (f flushingWriter) Flush() { _ = f.rc.Flush() }

func (f flushingWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
