package telemetry

import (
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentRedis adds a span per command to rdb: its name (e.g. evalsha), not its arguments
// (keys name tenants and people, values may be cached data), and no caller lookup (a stack
// walk per command).
func InstrumentRedis(rdb redis.UniversalClient, tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false))
}
