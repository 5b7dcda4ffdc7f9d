package auth

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/workingtracker/api/internal/ratelimit"
)

// FailureGuard keeps count of a client's failed authentications (the client is identified by
// the request context's ClientAddress).
type FailureGuard interface {
	// Blocked reports whether the client has failed too often, and for how long it stays so.
	Blocked(ctx context.Context) (time.Duration, bool)
	// Failed records a failure; it reports whether the client is now blocked, and for how long.
	Failed(ctx context.Context) (time.Duration, bool)
	// Refused is told every refused authentication with its reason (the metrics), including a
	// blocked client's refusals that Failed does not charge.
	Refused(ctx context.Context, reason FailureReason)
}

// FailureReason says why an authentication was refused: a small fixed set (FailureReasons),
// so it can label a metric.
type FailureReason string

// Reasons of refused authentications.
const (
	// ReasonMissing: no bearer token (or a websocket that never sent connection_init).
	ReasonMissing FailureReason = "missing"
	// ReasonInvalid: a token or API key that does not verify: malformed, badly signed, wrong
	// issuer or audience, unknown or revoked key.
	ReasonInvalid FailureReason = "invalid"
	// ReasonExpired: a validly signed token past its expiry (and the clock-skew allowance).
	ReasonExpired FailureReason = "expired"
	// ReasonInactiveAccount: a valid token of an employee whose account is not open.
	ReasonInactiveAccount FailureReason = "inactive_account"
	// ReasonBlocked: refused unchecked, because the client address's failures are spent and the
	// credential could not be valid.
	ReasonBlocked FailureReason = "blocked"
	// ReasonError: the credential could not be checked (the database did not answer).
	ReasonError FailureReason = "error"
)

// FailureReasons lists every reason.
func FailureReasons() []FailureReason {
	return []FailureReason{ReasonMissing, ReasonInvalid, ReasonExpired, ReasonInactiveAccount, ReasonBlocked, ReasonError}
}

// FailureCounter counts refused authentications by reason (internal/metrics implements it).
type FailureCounter interface {
	AuthFailed(reason string)
}

type noGuard struct{}

func (noGuard) Blocked(context.Context) (time.Duration, bool) { return 0, false }
func (noGuard) Failed(context.Context) (time.Duration, bool)  { return 0, false }
func (noGuard) Refused(context.Context, FailureReason)        {}

// AddressGuard is the per-client-address budget for failed authentications (each costs 1),
// kept in a limiter apart from people's budgets, so a flood of addresses cannot evict them from
// an in-process cache. Once it is spent, the address is remembered as blocked in this process
// until the budget holds a point again; clients that authenticate pay nothing for the guard (no
// budget lookup).
type AddressGuard struct {
	limiter ratelimit.Limiter
	limit   ratelimit.Limit
	blocked *expirable.LRU[string, time.Time]
	metrics *ratelimit.Metrics
	// failures counts refusals by reason (nil: not counted).
	failures FailureCounter
	// lookups remembers, per blocked address, when it last had a credential looked up.
	lookups *expirable.LRU[string, time.Time]
	mu      sync.Mutex
}

// blockedLookupEvery is how often a blocked address may have a credential looked up in the
// database (an API key): its valid key still gets through within a second or so, while a flood
// of random well-formed keys costs one lookup a second.
const blockedLookupEvery = time.Second

// NewAddressGuard charges failures to limiter, under limit (the UNAUTHENTICATED tier), and
// counts them by reason in failures (nil: not counted).
func NewAddressGuard(limiter ratelimit.Limiter, limit ratelimit.Limit, metrics *ratelimit.Metrics, failures FailureCounter) *AddressGuard {
	return &AddressGuard{limiter: limiter, limit: limit, metrics: metrics, failures: failures,
		blocked: expirable.NewLRU[string, time.Time](100_000, nil, time.Hour),
		lookups: expirable.NewLRU[string, time.Time](100_000, nil, time.Minute)}
}

// PermitLookup lets a blocked address have one credential looked up per blockedLookupEvery.
func (g *AddressGuard) PermitLookup(ctx context.Context) bool {
	addr := ClientAddress(ctx)
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, ok := g.lookups.Get(addr); ok && now.Sub(last) < blockedLookupEvery {
		return false
	}
	g.lookups.Add(addr, now)
	return true
}

// Refused implements FailureGuard.
func (g *AddressGuard) Refused(_ context.Context, reason FailureReason) {
	if g.failures != nil {
		g.failures.AuthFailed(string(reason))
	}
}

// Blocked implements FailureGuard.
func (g *AddressGuard) Blocked(ctx context.Context) (time.Duration, bool) {
	until, ok := g.blocked.Get(ClientAddress(ctx))
	if !ok {
		return 0, false
	}
	if wait := time.Until(until); wait > 0 {
		g.metrics.Refusals.WithLabelValues("unauthenticated").Inc()
		return wait, true
	}
	return 0, false
}

// Failed implements FailureGuard.
func (g *AddressGuard) Failed(ctx context.Context) (time.Duration, bool) {
	ip := ClientAddress(ctx)
	res, err := g.limiter.Charge(ctx, "ip:"+ip, g.limit, 1)
	if err != nil || res.Allowed {
		return 0, false
	}
	g.blocked.Add(ip, time.Now().Add(res.RetryAfter))
	g.metrics.Refusals.WithLabelValues("unauthenticated").Inc()
	return res.RetryAfter, true
}

type clientAddressKey struct{}

// WithClientAddress returns ctx carrying the client's address, as the HTTP layer determined it
// (the peer, or what trusted proxies saw): the key of its failure budget.
func WithClientAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddressKey{}, addr)
}

// ClientAddress is the request's client address ("" when none was recorded).
func ClientAddress(ctx context.Context) string {
	a, _ := ctx.Value(clientAddressKey{}).(string)
	return a
}
