package graph_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/cost"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/telemetry"
)

// tracedHandler is memoryRoot's handler traced into an in-memory exporter.
func (r *memoryRoot) tracedHandler(t *testing.T, fieldSpans bool) (*handler.Server, *auth.Principal, *tracetest.InMemoryExporter) {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	tp := telemetry.NewProvider(telemetry.ProviderOpts{Exporter: spans, Synchronous: true})
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	tiers := ratelimit.DefaultTiers()
	tiers.MaxQueryCost = 1 << 30
	h := graph.NewServer(graph.ServerOpts{Resolvers: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Budgets: cost.Budgets{Tiers: tiers}, TracerProvider: tp, FieldSpans: fieldSpans})
	h.AddTransport(transport.POST{})
	return h, &auth.Principal{TenantID: uuid.New(), EmployeeID: uuid.New(), Roles: []string{"ADMIN"},
		ExpiresAt: time.Now().Add(time.Hour)}, spans
}

// TestOperationSpansKeepTheFastPath: tracing operations installs no field middleware (otelgqlgen's
// Tracer is a field interceptor as soon as it is installed, so it is not installed whole), and
// the rewritten fields keep their fast path; field spans do install one, and take gqlgen's path.
func TestOperationSpansKeepTheFastPath(t *testing.T) {
	t.Parallel()
	for name, fieldSpans := range map[string]bool{"OperationSpans": false, "FieldSpans": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, principal, spans := newMemoryRoot(1, 1).tracedHandler(t, fieldSpans)
			probe := &interceptedProbe{}
			h.Use(probe)
			rec := postAs(h, principal, `{"query":"query One { employees(first: 1) { edges { node { id name } } } }"}`)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, []bool{fieldSpans}, probe.seen, "lists.Intercepted per operation")
			var op int
			for _, s := range spans.GetSpans() {
				if s.Name == "One" {
					op++
				}
			}
			require.Equal(t, 1, op, "one operation span")
		})
	}
}

// TestFieldSpansSeeRewrittenFields: with field spans on, the resolver fields tools/rewritelists
// writes out without graphql.ResolveField get their spans, one per resolved field.
func TestFieldSpansSeeRewrittenFields(t *testing.T) {
	t.Parallel()
	h, principal, spans := newMemoryRoot(3, 4).tracedHandler(t, true)
	body, err := json.Marshal(map[string]string{"query": rewrittenQuery})
	require.NoError(t, err)
	rec := postAs(h, principal, string(body))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	count := map[string]int{}
	for _, s := range spans.GetSpans() {
		count[s.Name]++
	}
	// 3 employees with 3 entries each; every entry's project and task (half of them have none:
	// the field still resolves), every task's project and assignee.
	for name, want := range map[string]int{
		"EmployeeConnection/totalCount": 1,
		"Employee/department":           3,
		"Employee/manager":              3,
		"Employee/timeEntries":          3,
		"TimeEntry/project":             9,
		"TimeEntry/task":                9,
		"TimeEntry/employee":            9,
	} {
		require.Equal(t, want, count[name], "spans of %s (all: %v)", name, count)
	}
	require.Positive(t, count["Task/project"], "spans: %v", count)
	require.Equal(t, count["Task/project"], count["Task/assignee"])
}
