package graph

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/reqid"
)

// RateLimits configures the query-cost budgets.
type RateLimits struct {
	// Limiter keeps the budgets (ratelimit.Failover over Redis, or ratelimit.Local).
	Limiter ratelimit.Limiter
	Tiers   ratelimit.Tiers
	Metrics *ratelimit.Metrics
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
	if !ok {
		return next(ctx) // unauthenticated requests never get this far
	}
	oc := graphql.GetOperationContext(ctx)
	cost := operationCost(g.schema.Schema(), oc.Operation, oc.Variables)
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
				costString(cost), maxCost),
			Extensions: map[string]any{"code": codeComplexityLimit, "limit": "cost", "maximum": maxCost, "cost": cost},
		}, report)
	}
	if !res.Allowed {
		g.limits.Metrics.Refusals.WithLabelValues("cost").Inc()
		retry := retryAfterSeconds(res.RetryAfter)
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
	limit := g.limits.Tiers.ForRoles(p.Roles)
	if b := p.CostBudget; b != nil {
		limit = ratelimit.PerSecond(b.Maximum, b.RestorePerSecond)
	}
	if p.Service {
		return "key:" + p.APIKeyID.String(), limit
	}
	return "user:" + p.TenantID.String() + ":" + p.EmployeeID.String(), limit
}

func refusal(err *gqlerror.Error, report *costReport) graphql.ResponseHandler {
	resp := &graphql.Response{Errors: gqlerror.List{err}}
	if report != nil {
		resp.Extensions = map[string]any{"cost": report}
	}
	return graphql.OneShot(resp)
}

func costString(cost int) string {
	if cost == math.MaxInt64 {
		return "too many"
	}
	return strconv.Itoa(cost)
}

// retryAfterSeconds rounds a wait up to whole seconds (Retry-After's unit), at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
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

// unauthenticatedBudget is auth.Middleware's refused hook: each request that fails to
// authenticate costs its client IP a point; when the IP's budget is spent, it is answered 429
// instead of 401, which slows down guessing tokens and API keys.
func (l RateLimits) unauthenticatedBudget(w http.ResponseWriter, r *http.Request) bool {
	res, err := l.Limiter.Charge(r.Context(), "ip:"+clientIP(r, l.TrustedProxyHops), l.Tiers.Unauthenticated, 1)
	if err != nil || res.Allowed {
		return false
	}
	l.Metrics.Refusals.WithLabelValues("unauthenticated").Inc()
	retry := retryAfterSeconds(res.RetryAfter)
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []map[string]any{{
		"message":    fmt.Sprintf("too many requests that failed to authenticate from this address; retry in %d s", retry),
		"extensions": map[string]any{"code": codeRateLimited, "retryAfter": retry},
	}}})
	return true
}

// clientIP is the address of the client: the peer, or behind hops trusted proxies the address
// the outermost of them saw (X-Forwarded-For's hops-th entry from the right). Entries further
// left are the client's own words and not trusted.
func clientIP(r *http.Request, hops int) string {
	if hops > 0 {
		var forwarded []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for _, part := range strings.Split(h, ",") {
				forwarded = append(forwarded, strings.TrimSpace(part))
			}
		}
		if len(forwarded) >= hops {
			if ip := net.ParseIP(forwarded[len(forwarded)-hops]); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
