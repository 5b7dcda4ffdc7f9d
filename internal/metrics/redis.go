package metrics

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Redis is a go-redis hook timing commands by name and counting failures (add it with the
// client's AddHook).
type Redis struct {
	duration *prometheus.HistogramVec
	errors   prometheus.Counter
}

var _ redis.Hook = (*Redis)(nil)

// NewRedis registers the Redis metrics with reg.
func NewRedis(reg prometheus.Registerer) *Redis {
	r := &Redis{
		duration: prometheus.NewHistogramVec(nativeHistogram(prometheus.HistogramOpts{
			Name:    "workingtracker_redis_command_duration_seconds",
			Help:    "Redis command latency by command name (pipeline for pipelines), failed commands included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}), []string{"command"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_redis_errors_total",
			Help: "Redis commands and dials that failed: unreachable, timed out, or an error reply (not a missing key, not a script to load).",
		}),
	}
	reg.MustRegister(r.duration, r.errors)
	return r
}

// DialHook implements redis.Hook.
func (r *Redis) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			r.errors.Inc()
		}
		return conn, err
	}
}

// ProcessHook implements redis.Hook.
func (r *Redis) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		r.observe(commandLabel(cmd.Name()), start, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (r *Redis) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		r.observe("pipeline", start, err)
		return err
	}
}

func (r *Redis) observe(command string, start time.Time, err error) {
	r.duration.WithLabelValues(command).Observe(time.Since(start).Seconds())
	// A missing key is an answer; NOSCRIPT makes go-redis load the script and run it again.
	if err != nil && !errors.Is(err, redis.Nil) && !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		r.errors.Inc()
	}
}

// commandLabel keeps command names (the application's fixed set: evalsha, ping …) and turns
// anything else into "other".
func commandLabel(name string) string {
	if name == "" || len(name) > 32 {
		return "other"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c == '_' || c == '.') {
			return "other"
		}
	}
	return name
}
