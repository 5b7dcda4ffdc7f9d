package telemetry

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HTTPHandler continues the caller's trace (W3C traceparent and baggage, as a gateway sends
// them) with a server span per request, named after its method and path ("POST /query").
// Health probes are not traced. With a nil provider it only reads an incoming traceparent, so
// that the access log can report the gateway's trace id.
//
// A client can ask for its request to be sampled (a traceparent with the sampled flag): with the
// default parent-based sampler, requests that reach the service without a gateway in front
// decide their own sampling.
func HTTPHandler(next http.Handler, tp trace.TracerProvider) http.Handler {
	if tp == nil {
		tc := propagation.TraceContext{}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Traceparent") != "" {
				r = r.WithContext(tc.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
			}
			next.ServeHTTP(w, r)
		})
	}
	return otelhttp.NewHandler(next, "http.server",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(Propagator()),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()), // metrics are Prometheus's
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.URL.Path == "/query" || r.URL.Path == "/" {
				return r.Method + " " + r.URL.Path
			}
			return r.Method // any other path: not a span name per URL someone typed
		}),
	)
}
