package metrics

import (
	"context"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTP counts requests by handler and status code.
type HTTP struct {
	requests *prometheus.CounterVec
}

// NewHTTP registers the HTTP metrics with reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "workingtracker_http_requests_total",
		Help: "HTTP requests by handler (query, healthz, readyz, other) and status code (101 for websocket upgrades).",
	}, []string{"handler", "code"})}
	reg.MustRegister(h.requests)
	return h
}

type handlerKey struct{}

// Handler counts the requests next answers. promhttp's instrumentation records the status
// (and keeps hijacking, for websockets, working); the handler label is the path's, from a fixed
// set.
func (h *HTTP) Handler(next http.Handler) http.Handler {
	counted := promhttp.InstrumentHandlerCounter(h.requests, next,
		promhttp.WithLabelFromCtx("handler", func(ctx context.Context) string {
			label, _ := ctx.Value(handlerKey{}).(string)
			return label
		}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		counted.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), handlerKey{}, handlerLabel(r.URL.Path))))
	})
}

func handlerLabel(path string) string {
	switch strings.TrimSuffix(path, "/") {
	case "/query":
		return "query"
	case "/healthz":
		return "healthz"
	case "/readyz":
		return "readyz"
	}
	return "other"
}
