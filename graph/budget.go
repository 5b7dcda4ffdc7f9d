package graph

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/reqid"
)

// RateLimits configures the query-cost budgets.
type RateLimits struct {
	// Limiter keeps the budgets (ratelimit.Failover over Redis, or ratelimit.Local).
	Limiter ratelimit.Limiter
	// IPLimiter keeps the per-IP budgets for failed authentications, apart from Limiter's so a
	// flood of addresses cannot evict people's in-process budgets.
	IPLimiter ratelimit.Limiter
	Tiers     ratelimit.Tiers
	Metrics   *ratelimit.Metrics
	// TrustedProxyHops is how many proxies in front of the server append to X-Forwarded-For;
	// the client IP is the address they saw. 0: the connection's peer is the client.
	TrustedProxyHops int
}

// codeRateLimited refuses an operation the caller's budget cannot pay for now.
const codeRateLimited = "RATE_LIMITED"

// costReport is extensions.cost: what the operation cost and what the budget holds now.
type costReport struct {
	RequestedQueryCost int             `json:"requestedQueryCost"`
	ThrottleStatus     model.RateLimit `json:"throttleStatus"`
}

// budgetGate prices each operation before it runs and spends the price from the principal's
// budget: an operation over the maximum cost is refused (COMPLEXITY_LIMIT), one the budget
// cannot pay is refused (RATE_LIMITED, HTTP 429 with Retry-After), and every other response
// reports the cost in extensions.cost. Websocket operations (subscription starts included) pass
// here the same way.
type budgetGate struct {
	limits RateLimits
	schema graphql.ExecutableSchema
	logger *slog.Logger
}

func (g budgetGate) aroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok { // authentication comes first on every transport; refuse rather than run unbudgeted
		return refusal(&gqlerror.Error{Message: "unauthenticated",
			Extensions: map[string]any{"code": string(apperr.Unauthenticated)}}, nil)
	}
	oc := graphql.GetOperationContext(ctx)
	cost := operationCost(g.schema.Schema(), oc.Operation, oc.Variables)
	if cost == 0 && !onlyAsksForBudget(oc.Operation) {
		// Every operation pays something, or free ones ({ __typename }, introspection) could
		// be sent without end; asking for the budget itself stays free.
		cost = 1
	}
	key, limit := g.budgetFor(p)
	maxCost := min(g.limits.Tiers.MaxQueryCost, limit.Burst)
	status := model.RateLimit{MaximumAvailable: limit.Burst, RestoreRate: limit.RestorePerSecond(), MaximumQueryCost: maxCost}

	charge := cost
	if cost > maxCost {
		charge = 0 // refused: only look at the budget, to report it
	}
	res, err := g.limits.Limiter.Charge(ctx, key, limit, charge)
	if err != nil {
		id := reqid.From(ctx)
		if ctx.Err() != nil { // the client left
			return refusal(&gqlerror.Error{Message: "request cancelled", Extensions: map[string]any{
				"code": codeBadRequest, "requestId": id}}, nil)
		}
		g.logger.ErrorContext(ctx, "charge the cost budget", "err", err, "request_id", id)
		return refusal(&gqlerror.Error{Message: "internal error", Extensions: map[string]any{
			"code": string(apperr.Internal), "requestId": id}}, nil)
	}
	status.CurrentlyAvailable = res.Remaining
	report := &costReport{RequestedQueryCost: cost, ThrottleStatus: status}
	if cost > maxCost {
		g.limits.Metrics.Refusals.WithLabelValues("complexity").Inc()
		return refusal(&gqlerror.Error{
			Message: fmt.Sprintf("the operation costs %s points, more than the maximum of %d: ask for fewer items (first) or fewer fields",
				countString(cost), maxCost),
			Extensions: map[string]any{"code": codeComplexityLimit, "limit": "cost", "maximum": maxCost, "cost": cost},
		}, report)
	}
	if !res.Allowed {
		g.limits.Metrics.Refusals.WithLabelValues("cost").Inc()
		retry := auth.RetryAfterSeconds(res.RetryAfter)
		markThrottled(ctx, retry)
		return refusal(&gqlerror.Error{
			Message: fmt.Sprintf("rate limited: the operation costs %d points and %d are available; retry in %d s",
				cost, res.Remaining, retry),
			Extensions: map[string]any{"code": codeRateLimited, "retryAfter": retry},
		}, report)
	}
	responses := next(withRateLimit(ctx, &status))
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp != nil {
			if resp.Extensions == nil {
				resp.Extensions = map[string]any{}
			}
			resp.Extensions["cost"] = report
		}
		return resp
	}
}

// budgetFor names the principal's budget and its size: an API key has one per key, a person
// one per tenant and employee.
func (g budgetGate) budgetFor(p *auth.Principal) (string, ratelimit.Limit) {
	limit := g.limits.Tiers.ForRoles(policy.HeldRoles(p))
	if b := p.CostBudget; b != nil {
		limit = ratelimit.PerSecond(b.Maximum, b.RestorePerSecond)
	}
	if p.Service {
		return "key:" + p.APIKeyID.String(), limit
	}
	return "user:" + p.TenantID.String() + ":" + p.EmployeeID.String(), limit
}

// onlyAsksForBudget reports whether op asks for rateLimit and nothing else (but __typename).
func onlyAsksForBudget(op *ast.OperationDefinition) bool {
	if op.Operation != ast.Query {
		return false
	}
	asks := false
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || (f.Name != "rateLimit" && f.Name != "__typename") {
			return false
		}
		asks = asks || f.Name == "rateLimit"
	}
	return asks
}

func refusal(err *gqlerror.Error, report *costReport) graphql.ResponseHandler {
	resp := &graphql.Response{Errors: gqlerror.List{err}}
	if report != nil {
		resp.Extensions = map[string]any{"cost": report}
	}
	return graphql.OneShot(resp)
}

type rateLimitKey struct{}

func withRateLimit(ctx context.Context, status *model.RateLimit) context.Context {
	return context.WithValue(ctx, rateLimitKey{}, status)
}

// RateLimitFrom is the request's budget after its charge (the rateLimit query).
func RateLimitFrom(ctx context.Context) (*model.RateLimit, bool) {
	s, ok := ctx.Value(rateLimitKey{}).(*model.RateLimit)
	return s, ok
}

// throttled carries a refusal's wait from the operation to the HTTP response: gqlgen's
// transports answer 200, and a client that is rate limited must get 429 and Retry-After.
type throttled struct{ retryAfter atomic.Int64 }

type throttledKey struct{}

func markThrottled(ctx context.Context, seconds int) {
	if t, ok := ctx.Value(throttledKey{}).(*throttled); ok {
		t.retryAfter.Store(int64(seconds))
	}
}

// throttleStatus turns a rate-limited operation's response into HTTP 429 with Retry-After.
func throttleStatus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := &throttled{}
		next.ServeHTTP(&throttleWriter{ResponseWriter: w, t: t}, r.WithContext(context.WithValue(r.Context(), throttledKey{}, t)))
	})
}

type throttleWriter struct {
	http.ResponseWriter
	t     *throttled
	wrote bool
}

func (w *throttleWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if s := w.t.retryAfter.Load(); s > 0 && code == http.StatusOK {
			w.Header().Set("Retry-After", strconv.FormatInt(s, 10))
			code = http.StatusTooManyRequests
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *throttleWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (websocket hijack, flush).
func (w *throttleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// failureGuard is the per-client-IP budget for failed authentications (each costs 1), kept in
// the IP limiter. Once it is spent, the address is blocked in this process until the budget
// holds a point again: a blocked client is refused before its credentials are checked, and
// clients that authenticate pay nothing for the guard (no budget lookup).
type failureGuard struct {
	limiter ratelimit.Limiter
	limit   ratelimit.Limit
	blocked *expirable.LRU[string, time.Time]
	metrics *ratelimit.Metrics
}

func newFailureGuard(l RateLimits) failureGuard {
	return failureGuard{limiter: l.IPLimiter, limit: l.Tiers.Unauthenticated, metrics: l.Metrics,
		blocked: expirable.NewLRU[string, time.Time](100_000, nil, time.Hour)}
}

// Blocked implements auth.FailureGuard.
func (g failureGuard) Blocked(ctx context.Context) (time.Duration, bool) {
	until, ok := g.blocked.Get(clientAddress(ctx))
	if !ok {
		return 0, false
	}
	if wait := time.Until(until); wait > 0 {
		g.metrics.Refusals.WithLabelValues("unauthenticated").Inc()
		return wait, true
	}
	return 0, false
}

// Failed implements auth.FailureGuard.
func (g failureGuard) Failed(ctx context.Context) (time.Duration, bool) {
	ip := clientAddress(ctx)
	res, err := g.limiter.Charge(ctx, "ip:"+ip, g.limit, 1)
	if err != nil || res.Allowed {
		return 0, false
	}
	g.blocked.Add(ip, time.Now().Add(res.RetryAfter))
	g.metrics.Refusals.WithLabelValues("unauthenticated").Inc()
	return res.RetryAfter, true
}

type clientAddressKey struct{}

// withClientAddress records the client's address for the failure guard (websocket connections
// authenticate after the upgrade, from this context).
//
// With no trusted proxies, a request that arrives from a private or loopback address carrying
// X-Forwarded-For looks like one passed on by a proxy the configuration does not know of: every
// client behind it would count as the proxy's one address. That is logged as a warning, at most
// every ten minutes, until TRUSTED_PROXY_HOPS says otherwise.
func withClientAddress(hops int, logger *slog.Logger, next http.Handler) http.Handler {
	var lastWarning atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r, hops)
		if hops == 0 && r.Header.Get("X-Forwarded-For") != "" {
			if addr, err := netip.ParseAddr(ip); err == nil && (addr.IsPrivate() || addr.IsLoopback()) {
				now := time.Now().UnixNano()
				if last := lastWarning.Load(); now-last > int64(10*time.Minute) && lastWarning.CompareAndSwap(last, now) {
					logger.WarnContext(r.Context(), "requests arrive through a proxy (X-Forwarded-For from a private address) "+
						"but TRUSTED_PROXY_HOPS is 0: every client behind it shares one address and one failed-authentication "+
						"budget; set TRUSTED_PROXY_HOPS to the number of proxies", "peer", ip)
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientAddressKey{}, ip)))
	})
}

func clientAddress(ctx context.Context) string {
	a, _ := ctx.Value(clientAddressKey{}).(string)
	return a
}

// clientIP is the address of the client: the peer, or behind hops trusted proxies the address
// the outermost of them saw (X-Forwarded-For's hops-th entry from the right). Entries further
// left are the client's own words and not trusted. An IPv6 client is its /64, the block one
// host is typically given (any address in it is as easy to use as the next).
func clientIP(r *http.Request, hops int) string {
	addr := ""
	if hops > 0 {
		var forwarded []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for _, part := range strings.Split(h, ",") {
				forwarded = append(forwarded, strings.TrimSpace(part))
			}
		}
		if len(forwarded) >= hops {
			addr = forwarded[len(forwarded)-hops]
		}
	}
	if addr == "" {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			addr = host
		} else {
			addr = r.RemoteAddr
		}
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		prefix, _ := ip.Prefix(64)
		return prefix.String()
	}
	return ip.String()
}
