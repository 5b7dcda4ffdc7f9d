package ratelimit_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/testredis"
)

// slow restores a point an hour: within a test, a budget only shrinks.
var slow = ratelimit.Limit{Burst: 100, Rate: 1, Period: time.Hour}

func limiters(t *testing.T) map[string]ratelimit.Limiter {
	return map[string]ratelimit.Limiter{
		"redis": ratelimit.NewRedis(testredis.Client(t)),
		"local": ratelimit.NewLocal(1000),
	}
}

// TestBudgetSemantics holds for both limiters: charges spend, a refusal spends nothing and says
// how long to wait, a zero charge reports without spending, keys are apart.
func TestBudgetSemantics(t *testing.T) {
	t.Parallel()
	for name, l := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			key := uuid.NewString()

			res, err := l.Charge(ctx, key, slow, 0)
			require.NoError(t, err)
			require.True(t, res.Allowed)
			require.Equal(t, 100, res.Remaining, "a new budget is full")

			res, err = l.Charge(ctx, key, slow, 60)
			require.NoError(t, err)
			require.True(t, res.Allowed)
			require.Equal(t, 40, res.Remaining)

			res, err = l.Charge(ctx, key, slow, 41)
			require.NoError(t, err)
			require.False(t, res.Allowed)
			require.Equal(t, 40, res.Remaining, "a refusal reports what is left")
			// One point an hour: the missing point comes back in about an hour.
			require.InDelta(t, time.Hour.Seconds(), res.RetryAfter.Seconds(), 5)

			res, err = l.Charge(ctx, key, slow, 40)
			require.NoError(t, err)
			require.True(t, res.Allowed, "the refused charge spent nothing")
			require.Zero(t, res.Remaining)

			res, err = l.Charge(ctx, uuid.NewString(), slow, 100)
			require.NoError(t, err)
			require.True(t, res.Allowed, "another key has its own budget")
		})
	}
}

func TestBudgetRestores(t *testing.T) {
	t.Parallel()
	fast := ratelimit.PerSecond(10, 100) // a point every 10ms
	for name, l := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			key := uuid.NewString()
			res, err := l.Charge(ctx, key, fast, 10)
			require.NoError(t, err)
			require.True(t, res.Allowed)
			res, err = l.Charge(ctx, key, fast, 5)
			require.NoError(t, err)
			require.False(t, res.Allowed)
			require.Positive(t, res.RetryAfter)
			require.LessOrEqual(t, res.RetryAfter, 60*time.Millisecond)
			time.Sleep(res.RetryAfter + 10*time.Millisecond)
			res, err = l.Charge(ctx, key, fast, 5)
			require.NoError(t, err)
			require.True(t, res.Allowed, "after RetryAfter the charge is allowed")
		})
	}
}

// TestSharedBudgetHasNoDoubleSpend: two instances (two Redis clients) charging one budget in
// parallel allow exactly what it holds.
func TestSharedBudgetHasNoDoubleSpend(t *testing.T) {
	t.Parallel()
	instances := []ratelimit.Limiter{ratelimit.NewRedis(testredis.Client(t)), ratelimit.NewRedis(testredis.Client(t))}
	key := uuid.NewString()
	const cost, attempts = 7, 60 // 100 points hold 14 charges of 7
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			res, err := instances[i%2].Charge(context.Background(), key, slow, cost)
			if err != nil {
				t.Error(err)
				return
			}
			if res.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 100/cost, allowed.Load())
	res, err := instances[0].Charge(context.Background(), key, slow, 0)
	require.NoError(t, err)
	require.Equal(t, 100-(100/cost)*cost, res.Remaining, "every allowed charge was spent once")
}

func TestLocalBudgetHasNoDoubleSpend(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(10)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			if res, _ := l.Charge(context.Background(), "k", slow, 7); res.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 14, allowed.Load())
}

// TestFailoverSurvivesRedisStopping: with Redis stopped mid-test, charges are still answered,
// quickly, by the local limiter, and the metrics say so; once Redis is back, it is used again.
func TestFailoverSurvivesRedisStopping(t *testing.T) {
	t.Parallel()
	server := testredis.Start(t)
	// As serve configures it: the limiter's deadline bounds each charge.
	rdb := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	metrics := ratelimit.NewMetrics(reg)
	f := &ratelimit.Failover{
		Shared: ratelimit.NewRedis(rdb), Local: ratelimit.NewLocal(100),
		Timeout: 100 * time.Millisecond, RetryEvery: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics,
	}
	ctx := context.Background()
	key := uuid.NewString()
	charge := func(cost int) ratelimit.Result {
		t.Helper()
		res, err := f.Charge(ctx, key, slow, cost)
		require.NoError(t, err)
		return res
	}

	require.Equal(t, 0.0, metric(t, reg, "workingtracker_ratelimit_shared_up"), "not up before it has answered")
	require.True(t, charge(30).Allowed)
	require.Equal(t, 70, charge(0).Remaining, "Redis holds the budget")
	require.Equal(t, 1.0, metric(t, reg, "workingtracker_ratelimit_shared_up"))

	server.Stop()
	for range 20 {
		start := time.Now()
		res := charge(1)
		require.True(t, res.Allowed, "requests are answered without Redis")
		require.Less(t, time.Since(start), time.Second, "never hanging on a dead Redis")
	}
	require.Equal(t, 0.0, metric(t, reg, "workingtracker_ratelimit_shared_up"))
	require.Positive(t, metric(t, reg, "workingtracker_ratelimit_shared_errors_total"))
	require.EqualValues(t, 20, metric(t, reg, "workingtracker_ratelimit_local_charges_total"))

	server.Restart()
	require.Eventually(t, func() bool {
		res, err := f.Charge(ctx, key, slow, 0)
		// The restarted Redis kept nothing, so its budget is full; the local one has spent 20.
		return err == nil && res.Remaining == 100
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 1.0, metric(t, reg, "workingtracker_ratelimit_shared_up"))
}

// metric reads a registered gauge's or counter's value.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			m := f.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s is not registered", name)
	return 0
}

func TestTiersForRoles(t *testing.T) {
	t.Parallel()
	tiers := ratelimit.DefaultTiers()
	require.Equal(t, tiers.ByRole["AGENT"], tiers.ForRoles([]string{"AGENT"}))
	require.Equal(t, tiers.ByRole["EMPLOYEE"], tiers.ForRoles([]string{"AGENT", "EMPLOYEE"}), "the largest of the roles'")
	require.Equal(t, tiers.Default, tiers.ForRoles([]string{"SOMETHING_NEW"}))
	require.Equal(t, tiers.Default, tiers.ForRoles(nil))
}

// TestLocalLimitChangeDoesNotRefill: a new tier applies to what is left, as in Redis.
func TestLocalLimitChangeDoesNotRefill(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(10)
	res, err := l.Charge(context.Background(), "k", slow, 90)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	bigger := ratelimit.Limit{Burst: 1000, Rate: 1, Period: time.Hour}
	res, err = l.Charge(context.Background(), "k", bigger, 0)
	require.NoError(t, err)
	require.Equal(t, 10, res.Remaining)
	require.Equal(t, bigger, res.Limit)
}
