// Package ratelimit keeps cost budgets: each principal (and each client IP that fails to
// authenticate) has a bucket of points that requests spend by their query cost and that refills
// at a steady rate (GCRA). Buckets live in Redis so every instance shares them; without Redis, or
// while Redis does not answer, an in-process limiter keeps the same rules on each instance.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Limit is a budget: at most Burst points, restored at Rate points per Period.
type Limit struct {
	Burst  int
	Rate   int
	Period time.Duration
}

// PerSecond is a budget of burst points restored at rate points a second.
func PerSecond(burst, rate int) Limit { return Limit{Burst: burst, Rate: rate, Period: time.Second} }

// RestorePerSecond is the points restored each second.
func (l Limit) RestorePerSecond() float64 { return float64(l.Rate) / l.Period.Seconds() }

// Valid reports whether the limit can ever allow a charge.
func (l Limit) Valid() bool { return l.Burst > 0 && l.Rate > 0 && l.Period > 0 }

func (l Limit) String() string {
	return fmt.Sprintf("%d points, %g restored per second", l.Burst, l.RestorePerSecond())
}

// Result is the outcome of a charge.
type Result struct {
	// Allowed is true when the points were spent; a refused charge spends nothing.
	Allowed bool
	Limit   Limit
	// Remaining is the points left now (after the charge, when it was allowed).
	Remaining int
	// RetryAfter is how long until the same charge would be allowed (zero when allowed).
	RetryAfter time.Duration
}

// Limiter spends cost points of a key's budget.
type Limiter interface {
	// Charge spends cost points of key's budget when it holds that many, and otherwise spends
	// nothing. A cost of zero reports the budget without spending it.
	Charge(ctx context.Context, key string, limit Limit, cost int) (Result, error)
}

// retryAfterFor is how long a budget of available points takes to hold cost points.
func retryAfterFor(limit Limit, available float64, cost int) time.Duration {
	missing := float64(cost) - available
	if missing <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(missing / limit.RestorePerSecond() * float64(time.Second)))
}
