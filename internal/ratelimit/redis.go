package ratelimit

import (
	"context"
	"fmt"
	"math"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis keeps budgets in Redis (redis_rate's GCRA script: one atomic round trip per charge),
// so all instances behind a load balancer spend from the same buckets.
type Redis struct {
	limiter *redis_rate.Limiter
}

// NewRedis keeps budgets in rdb.
func NewRedis(rdb redis.UniversalClient) *Redis {
	return &Redis{limiter: redis_rate.NewLimiter(rdb)}
}

// Charge implements Limiter.
func (r *Redis) Charge(ctx context.Context, key string, limit Limit, cost int) (Result, error) {
	res, err := r.limiter.AllowN(ctx, key,
		redis_rate.Limit{Burst: limit.Burst, Rate: limit.Rate, Period: limit.Period}, cost)
	if err != nil {
		return Result{}, fmt.Errorf("redis budget %q: %w", key, err)
	}
	if res.RetryAfter < 0 { // the script's "allowed"
		return Result{Allowed: true, Limit: limit, Remaining: res.Remaining}, nil
	}
	// A refusal reports no remaining points; what is there follows from the wait: the budget
	// lacks RetryAfter × rate of the cost.
	available := float64(cost) - res.RetryAfter.Seconds()*limit.RestorePerSecond()
	return Result{Limit: limit, Remaining: int(math.Max(0, math.Floor(available))), RetryAfter: res.RetryAfter}, nil
}
