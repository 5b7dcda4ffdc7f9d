package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/rs/cors"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/internal/telemetry"
)

// securityHeaders are sent with every response. The playground sends its own
// Content-Security-Policy; API responses get apiHeaders' stricter one.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// Browsers ignore it over plain HTTP; behind TLS it pins HTTPS for two years.
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		next.ServeHTTP(w, r)
	})
}

// apiHeaders marks JSON API responses as nothing a browser should render or frame.
func apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setAPIHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

func setAPIHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
}

// crossOrigin lets browsers from the allowed origins call the API; tokens travel in a header,
// never in cookies, so credentials are not allowed across origins. No origins means none:
// rs/cors reads an empty list as "every origin", so then no CORS headers are sent at all.
func crossOrigin(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: append([]string{"Authorization", "Content-Type", reqid.Header}, preflightHeaders...),
		ExposedHeaders: []string{reqid.Header},
		MaxAge:         600,
	}).Handler
}

// maxRequestBytes bounds a GraphQL request body: documents and variables of real clients are a
// few kilobytes; anything near this is abuse.
const maxRequestBytes = 1 << 20

// bodyLimits are the body limits of /query: JSON (and every other) requests get json; multipart
// POSTs (uploads) get multipart, their files' limit plus an allowance for the other parts.
type bodyLimits struct{ json, multipart int64 }

func tooLargeRefusal(n int64) refusal {
	return refusal{code: apperr.RequestTooLarge, message: fmt.Sprintf("request body too large: the limit is %d bytes", n)}
}

func limitBody(limits bodyLimits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, upload := limits.json, r.Method == http.MethodPost && isMultipart(r)
		if upload {
			n = limits.multipart
		}
		if r.ContentLength > n {
			writeRefusal(w, tooLargeRefusal(n))
			return
		}
		if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
			if upload {
				// Uploads are streamed to temporary files, not buffered: reading past the limit
				// fails with *http.MaxBytesError, which the multipart transport answers 413.
				r.Body = http.MaxBytesReader(w, r.Body, n)
				next.ServeHTTP(w, r)
				return
			}
			// Unannounced length (chunked): read up to the limit to tell a large body apart.
			body, err := io.ReadAll(io.LimitReader(r.Body, n+1))
			if err != nil {
				writeRefusal(w, refusal{code: apperr.BadRequest, message: "could not read the request body"})
				return
			}
			if int64(len(body)) > n {
				writeRefusal(w, tooLargeRefusal(n))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status for the access log, and what the layers under it learn
// about the request that the line reports: the operation, its cost, the error codes and who
// asked. They fill it through the ResponseWriter they are handed (see observed) — a mutable
// record, fit for observation only: nothing reads it to decide a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool

	operationName, operationType string
	cost                         int
	hasCost                      bool
	codes                        []string
	tenantID, principalID        string
}

// observed is the access log's record of the request w answers, or nil outside accessLog.
func observed(w http.ResponseWriter) *statusRecorder {
	for {
		switch t := w.(type) {
		case *statusRecorder:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// WriteHeader passes the first status on and drops later ones: a refused websocket upgrade is
// answered by the websocket library and then again by gqlgen, and net/http would log the
// second as a superfluous call.
func (r *statusRecorder) WriteHeader(code int) {
	if r.wrote {
		return
	}
	r.wrote = true
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (websocket hijack, flush).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recoverPanics answers a panic outside gqlgen (whose own recover covers resolvers) with a
// bare 500 and logs it with the request id, instead of net/http's dropped connection and
// stack on stderr.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			id := reqid.From(r.Context())
			logger.ErrorContext(r.Context(), "panic in HTTP handler", "panic", fmt.Sprint(v), "request_id", id,
				"stack", string(debug.Stack()))
			writeRefusal(w, refusal{code: apperr.Internal, message: "internal error", extensions: map[string]any{"requestId": id}})
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog writes one line per request at info (health probes at debug): method, path,
// status, duration, request and trace ids, and for GraphQL the operation's name and type (never
// its document or variables), requested cost, error codes, tenant and principal ids.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		ctx := r.Context()
		telemetry.RecordHTTPStatus(ctx, rec.status)
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug // probes every few seconds
		}
		if !logger.Enabled(ctx, level) {
			return
		}
		attrs := make([]slog.Attr, 0, 14)
		attrs = append(attrs, slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)), slog.String("request_id", reqid.From(ctx)))
		if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		if rec.operationType != "" {
			attrs = append(attrs, slog.String("operation_type", rec.operationType))
			if rec.operationName != "" {
				attrs = append(attrs, slog.String("operation", rec.operationName))
			}
		}
		if rec.hasCost {
			attrs = append(attrs, slog.Int("cost", rec.cost))
		}
		if len(rec.codes) > 0 {
			attrs = append(attrs, slog.Any("codes", rec.codes))
		}
		if rec.tenantID != "" {
			attrs = append(attrs, slog.String("tenant_id", rec.tenantID))
		}
		if rec.principalID != "" {
			attrs = append(attrs, slog.String("principal_id", rec.principalID))
		}
		logger.LogAttrs(ctx, level, "http request", attrs...)
	})
}
