package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/testredis"
)

// BenchmarkSecurityChain prices the security chain per request: the full HTTP handler
// (request id, security headers, CORS, body limit, token verification, document limits, cost,
// budget charge in process or in Redis, extensions.cost) against the same GraphQL server with
// none of it, handed the principal directly. Both run in process (no network), so the
// difference is the chain. `make bench` runs it; p50 and p95 are reported per request.
func BenchmarkSecurityChain(b *testing.B) {
	srv := apitest.New(b, apitest.Opts{})
	c := srv.NewTenant("acme")
	principal := &auth.Principal{TenantID: c.Tenant.ID, EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"},
		ExpiresAt: time.Now().Add(time.Hour)}
	bare := httpapi.NewBareGraphQLHandler(srv.Opts)
	off := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bare.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), principal)))
	})
	handlers := []struct {
		name string
		h    http.Handler
	}{{"off", off}}
	withLimiter := func(l ratelimit.Limiter) http.Handler {
		opts := srv.Opts
		// apitest's tiers never refuse: the bench prices charging, not refusing.
		opts.RateLimits = httpapi.RateLimits{Limiter: l, Tiers: opts.RateLimits.Tiers}
		return httpapi.NewHandler(opts)
	}
	handlers = append(handlers, struct {
		name string
		h    http.Handler
	}{"on-local", withLimiter(ratelimit.NewLocal(1000))})
	if os.Getenv("TEST_REDIS_URL") != "" {
		handlers = append(handlers, struct {
			name string
			h    http.Handler
		}{"on-redis", withLimiter(ratelimit.NewRedis(testredis.Client(b)))})
	}
	queries := []struct{ name, body string }{
		{"typename", `{"query":"{ __typename }"}`},
		{"employeesPage", `{"query":"{ employees(first: 50) { totalCount edges { cursor node { id name email department { name } projects { name } timeEntries(first: 20) { id startTime project { name } } } } } }"}`},
	}
	for _, q := range queries {
		for _, h := range handlers {
			b.Run(q.name+"/"+h.name, func(b *testing.B) {
				durations := make([]time.Duration, 0, 1<<16)
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(q.body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+c.Token)
					rec := httptest.NewRecorder()
					start := time.Now()
					h.h.ServeHTTP(rec, req)
					durations = append(durations, time.Since(start))
					if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
						b.Fatalf("%d: %s", rec.Code, rec.Body)
					}
				}
				slices.Sort(durations)
				b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds())/1e3, "p50-µs")
				b.ReportMetric(float64(durations[len(durations)*95/100].Nanoseconds())/1e3, "p95-µs")
			})
		}
	}
}
