package ratelimit

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Local keeps budgets in this process: the same rules as Redis for a single instance (a token
// bucket, which is GCRA's equivalent), used when REDIS_URL is unset or Redis does not answer.
// It remembers the most recently used keys; a forgotten key starts again with a full budget.
type Local struct {
	mu      sync.Mutex
	buckets *lru.Cache[string, *bucket]
	now     func() time.Time
}

type bucket struct {
	limit  Limit
	tokens *rate.Limiter
}

// NewLocal keeps the budgets of up to size keys.
func NewLocal(size int) *Local {
	buckets, err := lru.New[string, *bucket](size)
	if err != nil {
		panic(err) // only for size <= 0, a programming error
	}
	return &Local{buckets: buckets, now: time.Now}
}

// Charge implements Limiter.
func (l *Local) Charge(_ context.Context, key string, limit Limit, cost int) (Result, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets.Get(key)
	switch {
	case !ok:
		b = &bucket{limit: limit, tokens: rate.NewLimiter(rate.Limit(limit.RestorePerSecond()), limit.Burst)}
		l.buckets.Add(key, b)
	case b.limit != limit:
		// A new tier applies to what is left, as in Redis: changing it does not refill.
		b.tokens.SetLimitAt(now, rate.Limit(limit.RestorePerSecond()))
		b.tokens.SetBurstAt(now, limit.Burst)
		b.limit = limit
	}
	// Under the lock, checking and then spending is atomic; a refusal spends nothing.
	available := b.tokens.TokensAt(now)
	if available < float64(cost) {
		return Result{Limit: limit, Remaining: int(available), RetryAfter: retryAfterFor(limit, available, cost)}, nil
	}
	b.tokens.AllowN(now, cost)
	return Result{Allowed: true, Limit: limit, Remaining: int(b.tokens.TokensAt(now))}, nil
}
