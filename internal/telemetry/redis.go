package telemetry

import (
	"context"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// InstrumentRedis adds a span per command (and connection dial) to rdb, inside requests only
// (the pool's background dials and health checks start no trace of their own): the command's
// name (e.g. evalsha), not its arguments (keys name tenants and people, values may be cached
// data), and no caller lookup (a stack walk per command).
func InstrumentRedis(rdb redis.UniversalClient, tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(childSpans{tp: tp}),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false))
}

// childSpans starts spans only under a recording span.
type childSpans struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (c childSpans) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{t: c.tp.Tracer(name, opts...)}
}

type childTracer struct {
	embedded.Tracer
	t trace.Tracer
}

var noSpan = noop.Span{}

func (c childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, noSpan
	}
	return c.t.Start(ctx, name, opts...)
}
