package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP counts requests by handler and status class.
type HTTP struct {
	requests *prometheus.CounterVec
}

// NewHTTP registers the HTTP metrics with reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "workingtracker_http_requests_total",
		Help: "HTTP requests by handler (query, healthz, readyz, other) and status class (1xx for websocket upgrades, 2xx, 3xx, 4xx, 5xx).",
	}, []string{"handler", "code"})}
	reg.MustRegister(h.requests)
	return h
}

// Handler counts the requests next answers.
func (h *HTTP) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusClass{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		h.requests.WithLabelValues(handlerLabel(r.URL.Path), statusClassLabel(status)).Inc()
	})
}

func statusClassLabel(status int) string {
	switch status / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	}
	return "5xx"
}

func handlerLabel(path string) string {
	switch p := strings.TrimSuffix(path, "/"); p {
	case "/query":
		return "query"
	case "/healthz":
		return "healthz"
	case "/readyz":
		return "readyz"
	}
	return "other"
}

// statusClass remembers the first status written.
type statusClass struct {
	http.ResponseWriter
	status int
}

func (s *statusClass) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusClass) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (websocket hijack, flush).
func (s *statusClass) Unwrap() http.ResponseWriter { return s.ResponseWriter }
