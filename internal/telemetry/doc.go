// Package telemetry is the one home of tracing: it builds the OpenTelemetry TracerProvider from
// the standard OTEL_* environment and instruments the edges of the service — the HTTP handler
// (W3C traceparent and baggage from the gateway), the GraphQL operation (otelgqlgen), pgx
// statements (otelpgx), go-redis commands (redisotel) — and routes the libraries' own log lines
// through slog. Domain code never starts spans; loaders take the tracer this package's provider
// gives (loaders.Opts.Tracer) for their batch spans.
//
// With no exporter configured (OTEL_EXPORTER_OTLP_ENDPOINT unset) there is no provider at all:
// Tracing.Provider is nil and every layer skips its instrumentation, so an untraced server pays
// nothing but reading an incoming traceparent, which its access log reports.
//
// The provider is passed explicitly to each instrumented layer. It is never installed as
// OpenTelemetry's global provider; only the global error handler is set (the SDK reports export
// failures nowhere else), see RouteLibraryLogs.
//
// Spans carry no personal data, credentials or variable values: otelgqlgen's variables are off,
// otelpgx's statement arguments are off, statements whose values are inlined (bun's writes) have
// their string literals masked, redisotel records no command arguments, and every exporter is
// wrapped by one that drops the attributes that could still carry them (the document,
// resolver arguments, forwarded client addresses) — see redactedAttributes.
package telemetry
