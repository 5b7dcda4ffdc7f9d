package graph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/telemetry"
)

// BenchmarkTracing serves the nested employees page and an employee by id, in process, with
// tracing off (no provider: serve without OTEL_EXPORTER_OTLP_ENDPOINT) and on with 10% and 100%
// of requests sampled (batched export into an exporter that drops the spans: the SDK's work,
// not the network's), at 1 and 16 clients.
func BenchmarkTracing(b *testing.B) {
	dbURL := apitest.New(b, apitest.Opts{}).DatabaseURL
	seeder := apitest.New(b, apitest.Opts{DatabaseURL: dbURL})
	token, adminID := seedBenchCompany(b, seeder)

	var exported discard
	modes := []struct {
		name string
		tp   trace.TracerProvider
	}{{"off", nil}}
	for _, ratio := range []float64{0.1, 1} {
		tp := telemetry.NewProvider(telemetry.ProviderOpts{Exporter: &exported,
			Sampler: sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))})
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		modes = append(modes, struct {
			name string
			tp   trace.TracerProvider
		}{"sampled=" + strconv.Itoa(int(ratio*100)) + "%", tp})
	}
	queries := []struct{ name, body string }{
		{"employeesPage", `{"query":"query Page { employees(first: 50) { nodes { id name department { name } projects { id name } timeEntries(first: 20) { id startTime durationSeconds project { id name } } } } }"}`},
		{"employeeByID", `{"query":"query One($id: ID!) { employee(id: $id) { id name email department { name } manager { name } } }","variables":{"id":"` + adminID.String() + `"}}`},
	}
	for _, q := range queries {
		for _, clients := range []int{1, 16} {
			for _, m := range modes {
				srv := apitest.New(b, apitest.Opts{DatabaseURL: dbURL, TracerProvider: m.tp, Signer: seeder.Signer})
				do := func(b *testing.B) {
					req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(q.body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+token)
					rec := httptest.NewRecorder()
					srv.Handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
						b.Fatalf("%d: %s", rec.Code, rec.Body)
					}
				}
				b.Run(q.name+"/clients="+strconv.Itoa(clients)+"/tracing="+m.name, func(b *testing.B) {
					do(b)
					b.ReportAllocs()
					before, spans := cpuTime(), exported.spans.Load()
					if clients == 1 {
						for b.Loop() {
							do(b)
						}
					} else {
						b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								do(b)
							}
						})
					}
					b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
					if m.tp != nil {
						if p, ok := m.tp.(*sdktrace.TracerProvider); ok {
							_ = p.ForceFlush(context.Background())
						}
						b.ReportMetric(float64(exported.spans.Load()-spans)/float64(b.N), "spans/op")
					}
				})
			}
		}
	}
}

// discard is an exporter that counts and drops what it is given.
type discard struct{ spans atomic.Int64 }

func (d *discard) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	d.spans.Add(int64(len(spans)))
	return nil
}
func (*discard) Shutdown(context.Context) error { return nil }
