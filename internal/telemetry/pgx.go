package telemetry

import (
	"context"
	"regexp"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// PGXTracer traces pgx statements under the request's span (none outside a sampled one) with
// their text, never their arguments. Statements whose values are inlined — bun's, which
// prepares nothing — have their string literals masked ('?'), so an e-mail address written by
// an INSERT does not reach a span. Compose it with other tracers with pgx's multitracer.
func PGXTracer(tp trace.TracerProvider) pgx.QueryTracer {
	return &pgxTracer{Tracer: otelpgx.NewTracer(otelpgx.WithTracerProvider(tp),
		otelpgx.WithMeterProvider(noop.NewMeterProvider()), // metrics are Prometheus's (not the OTel global)
		otelpgx.WithDisableConnectionDetailsInAttributes())}
}

// pgxTracer is otelpgx's tracer (query, batch, prepare, copy, connect and pool acquire) with
// the statement text masked on the way in.
type pgxTracer struct{ *otelpgx.Tracer }

// TraceQueryStart and TraceQueryEnd do nothing outside a sampled request: otelpgx would still
// time the statement for its metrics (which go nowhere here).
func (t *pgxTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	data.SQL = MaskLiterals(data.SQL)
	return t.Tracer.TraceQueryStart(ctx, conn, data)
}

// TraceQueryEnd ends the statement's span: the only recording span its context can hold, as
// TraceQueryStart starts one whenever the request's span records.
func (t *pgxTracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	t.Tracer.TraceQueryEnd(ctx, conn, data)
}

func (t *pgxTracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	data.SQL = MaskLiterals(data.SQL)
	t.Tracer.TraceBatchQuery(ctx, conn, data)
}

func (t *pgxTracer) TracePrepareStart(ctx context.Context, conn *pgx.Conn, data pgx.TracePrepareStartData) context.Context {
	data.SQL = MaskLiterals(data.SQL)
	return t.Tracer.TracePrepareStart(ctx, conn, data)
}

var stringLiteral = regexp.MustCompile(`'(?:[^']|'')*'`)

// MaskLiterals replaces the string literals of a statement by '?'.
func MaskLiterals(sql string) string {
	if strings.IndexByte(sql, '\'') < 0 {
		return sql
	}
	return stringLiteral.ReplaceAllLiteralString(sql, "'?'")
}
