package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Failover charges the shared (Redis) limiter and, when it fails or is slow, the local one, so
// requests are always answered. After a failure it leaves the shared limiter alone for
// RetryEvery (each request would otherwise wait out the timeout), then lets one request try it
// again; the first success switches back. Each switch is logged once and shown by the metrics.
type Failover struct {
	Shared Limiter
	Local  Limiter
	// Timeout bounds a shared charge (default 50ms): a budget check must never hang a request.
	Timeout time.Duration
	// RetryEvery is how long to use only the local limiter after a failure (default 1s).
	RetryEvery time.Duration
	Logger     *slog.Logger
	Metrics    *Metrics

	mu        sync.Mutex
	down      bool
	downUntil time.Time
}

// Charge implements Limiter.
func (f *Failover) Charge(ctx context.Context, key string, limit Limit, cost int) (Result, error) {
	if f.useShared(time.Now()) {
		sharedCtx, cancel := context.WithTimeout(ctx, durationOr(f.Timeout, 50*time.Millisecond))
		res, err := f.Shared.Charge(sharedCtx, key, limit, cost)
		cancel()
		if err == nil {
			f.answered()
			return res, nil
		}
		if ctx.Err() != nil { // the client left: not the shared limiter's fault
			return Result{}, ctx.Err()
		}
		f.failed(err)
	}
	f.Metrics.localCharges.Inc()
	return f.Local.Charge(ctx, key, limit, cost)
}

// useShared says whether to try the shared limiter: always while it answers; while it is down,
// one request every RetryEvery probes it (not every request at once when the time comes).
func (f *Failover) useShared(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return true
	}
	if now.Before(f.downUntil) {
		return false
	}
	f.downUntil = now.Add(durationOr(f.RetryEvery, time.Second))
	return true
}

func (f *Failover) failed(err error) {
	f.Metrics.sharedErrors.Inc()
	f.Metrics.sharedUp.Set(0)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downUntil = time.Now().Add(durationOr(f.RetryEvery, time.Second))
	if !f.down {
		f.down = true
		f.Logger.Warn("shared rate limiter unavailable: budgets are kept per instance until it answers", "err", err)
	}
}

// answered marks the shared limiter up (the gauge starts at 0: with no Redis configured there is
// no Failover, and budgets are per instance).
func (f *Failover) answered() {
	f.Metrics.sharedUp.Set(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.down = false
		f.Logger.Info("shared rate limiter answers again: budgets are shared across instances")
	}
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Metrics are the rate limiter's Prometheus metrics.
type Metrics struct {
	sharedUp     prometheus.Gauge
	sharedErrors prometheus.Counter
	localCharges prometheus.Counter
	Refusals     *prometheus.CounterVec
}

// NewMetrics registers the rate limiter's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sharedUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "workingtracker_ratelimit_shared_up",
			Help: "1 while the shared (Redis) rate limiter answers, 0 while budgets are kept per instance.",
		}),
		sharedErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_ratelimit_shared_errors_total",
			Help: "Charges the shared (Redis) rate limiter failed or did not answer in time.",
		}),
		localCharges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_ratelimit_local_charges_total",
			Help: "Charges made against the in-process limiter because the shared (Redis) one did not answer.",
		}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workingtracker_ratelimit_refusals_total",
			Help: "Requests refused by a limit: reason is cost (budget exhausted), complexity (over the maximum query cost), document (depth, aliases, ...) or unauthenticated (per-IP budget).",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.sharedUp, m.sharedErrors, m.localCharges, m.Refusals)
	return m
}
