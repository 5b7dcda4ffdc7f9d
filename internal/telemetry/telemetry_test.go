package telemetry_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/telemetry"
	"github.com/workingtracker/api/internal/testredis"
	"github.com/workingtracker/api/store"
)

type traceBundle struct {
	srv      *apitest.Server
	spans    *tracetest.InMemoryExporter
	fixture  apitest.Fixture
	email    string // an employee's, read by the operations
	newEmail string // written by a mutation (bun inlines it into the INSERT)
}

// setup serves the API traced into memory, charging budgets in Redis (traced too), with an
// employee whose e-mail address the tests look for in spans.
func setup(t *testing.T) traceBundle {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	tp := telemetry.NewProvider(telemetry.ProviderOpts{Exporter: spans, Synchronous: true})
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	rdb := testredis.Client(t)
	require.NoError(t, telemetry.InstrumentRedis(rdb, tp))
	srv := apitest.New(t, apitest.Opts{TracerProvider: tp,
		RateLimits: httpapi.RateLimits{Limiter: ratelimit.NewRedis(rdb)}})
	f := srv.NewTenant("acme")
	b := traceBundle{srv: srv, spans: spans, fixture: f, email: "ada.lovelace@analytical.example",
		newEmail: "charles.babbage@difference.example"}
	_, err := srv.Store.CreateEmployee(t.Context(), f.Scope, store.EmployeeParams{Name: apitest.Ptr("Ada Lovelace"),
		Email: apitest.Ptr(b.email)})
	require.NoError(t, err)
	spans.Reset()
	return b
}

// post sends a GraphQL request with the given extra headers.
func (b traceBundle) post(t *testing.T, query string, vars map[string]any, headers map[string]string) apitest.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/query", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.fixture.Token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return apitest.Decode(t, resp)
}

// teamQuery reads the employee found by a variable's e-mail prefix, with loader-batched
// relations, and by an e-mail address written in the document itself.
const teamQuery = `query Team($search: String) {
  employees(filter: {search: $search}, first: 5) { nodes { id name email projects { name } timeEntries(first: 2) { id } } }
  byAddress: employees(filter: {search: "ada.lovelace@analytical.example"}, first: 1) { nodes { id } }
}`

func TestTraceContinuesTheGatewaysTraceToSQLAndRedis(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := b.post(t, teamQuery, map[string]any{"search": "ada.love"},
		map[string]string{"Traceparent": "00-" + traceID + "-" + parentID + "-01"})
	require.Equal(t, http.StatusOK, r.Status)
	require.Empty(t, r.Errors)
	require.Contains(t, string(r.Data), b.email)

	spans := b.spans.GetSpans()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		require.Equal(t, traceID, s.SpanContext.TraceID().String(), "span %q is not in the gateway's trace", s.Name)
		byID[s.SpanContext.SpanID()] = s
	}
	one := func(name string) tracetest.SpanStub {
		t.Helper()
		var found []tracetest.SpanStub
		for _, s := range spans {
			if s.Name == name {
				found = append(found, s)
			}
		}
		require.Len(t, found, 1, "spans named %q among %v", name, names(spans))
		return found[0]
	}
	isUnder := func(s tracetest.SpanStub, ancestor tracetest.SpanStub) bool {
		for p, ok := s, true; ok; p, ok = byID[p.Parent.SpanID()] {
			if p.Parent.SpanID() == ancestor.SpanContext.SpanID() {
				return true
			}
		}
		return false
	}

	httpSpan := one("POST /query")
	require.Equal(t, parentID, httpSpan.Parent.SpanID().String(), "the request span's parent is the gateway's")
	require.True(t, httpSpan.Parent.IsRemote())
	require.Equal(t, trace.SpanKindServer, httpSpan.SpanKind)

	op := one("Team")
	require.Equal(t, httpSpan.SpanContext.SpanID(), op.Parent.SpanID())
	attrs := attrMap(op.Attributes)
	require.Equal(t, "query", attrs[telemetry.AttrOperationType].AsString())
	require.Equal(t, "Team", attrs[telemetry.AttrOperationName].AsString())
	require.Equal(t, "ok", attrs[telemetry.AttrOutcome].AsString())
	cost := int64(r.Extensions["cost"].(map[string]any)["requestedQueryCost"].(float64))
	require.Positive(t, cost)
	require.Equal(t, cost, attrs[telemetry.AttrCost].AsInt64())

	// Loader batches: one span per batch with its size, under the operation, with its SQL.
	var loaderSpans, sqlUnderLoader, sqlUnderOp int
	for _, s := range spans {
		a := attrMap(s.Attributes)
		switch {
		case strings.HasPrefix(s.Name, "loader "):
			loaderSpans++
			require.True(t, isUnder(s, op), "loader span %q is under the operation", s.Name)
			require.Positive(t, a["loader.batch.size"].AsInt64(), s.Name)
		case a["db.query.text"].AsString() != "":
			require.True(t, isUnder(s, httpSpan), "statement span %q is in the request", s.Name)
			if isUnder(s, op) {
				sqlUnderOp++
			}
			if p, ok := byID[s.Parent.SpanID()]; ok && strings.HasPrefix(p.Name, "loader ") {
				sqlUnderLoader++
			}
		}
	}
	require.Positive(t, loaderSpans, "spans: %v", names(spans))
	require.Positive(t, sqlUnderOp, "statements run by the operation")
	require.Positive(t, sqlUnderLoader, "statements run by loader batches")

	// The budget's charge: a Redis command in the request (before the operation runs).
	var redisSpans int
	for _, s := range spans {
		if attrMap(s.Attributes)["db.system"].AsString() == "redis" {
			redisSpans++
			require.True(t, isUnder(s, httpSpan), "redis span %q is in the request", s.Name)
		}
	}
	require.Positive(t, redisSpans, "spans: %v", names(spans))
}

// TestSpansCarryNoSecretsOrPersonalData: the token, variable values and e-mail addresses of the
// requests — in variables, in the document, read from and written to the database — appear in
// no span name, attribute, event or status.
func TestSpansCarryNoSecretsOrPersonalData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.post(t, teamQuery, map[string]any{"search": "ada.love"}, nil)
	require.Empty(t, r.Errors)
	r = b.post(t, `mutation Hire($email: String!) { createEmployee(input: {name: "Charles Babbage", email: $email}) { id email } }`,
		map[string]any{"email": b.newEmail}, nil)
	require.Empty(t, r.Errors)
	// An error whose message a client sees, and a document that does not validate.
	b.post(t, `query Bad { employee(id: "not-a-uuid") { email } }`, nil, nil)
	b.post(t, `query Invalid($search: String) { employees(filter: {search: $search}) { nodes { nope } } }`,
		map[string]any{"search": "ada.love"}, nil)

	spans := b.spans.GetSpans()
	require.NotEmpty(t, spans)
	var statements int
	for _, s := range spans {
		text := spanText(s)
		for _, secret := range []string{b.fixture.Token, "ada.love", b.email, b.newEmail, "Charles Babbage"} {
			require.NotContains(t, text, secret, "span %q", s.Name)
		}
		if attrMap(s.Attributes)["db.query.text"].AsString() != "" {
			statements++
		}
	}
	require.Positive(t, statements, "statement text is recorded (without values)")
}

func TestMaskLiterals(t *testing.T) {
	t.Parallel()
	require.Equal(t, `INSERT INTO e (name, email) VALUES ('?', '?')`,
		telemetry.MaskLiterals(`INSERT INTO e (name, email) VALUES ('O''Brien', 'ob@x.example')`))
	require.Equal(t, `SELECT $1`, telemetry.MaskLiterals(`SELECT $1`))
}

func names(spans tracetest.SpanStubs) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

func attrMap(attrs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(attrs))
	for _, a := range attrs {
		m[a.Key] = a.Value
	}
	return m
}

// spanText is everything a span says, as text.
func spanText(s tracetest.SpanStub) string {
	var sb strings.Builder
	sb.WriteString(s.Name + "\n" + s.Status.Description + "\n")
	write := func(attrs []attribute.KeyValue) {
		for _, a := range attrs {
			sb.WriteString(string(a.Key) + "=" + a.Value.Emit() + "\n")
		}
	}
	write(s.Attributes)
	for _, e := range s.Events {
		sb.WriteString(e.Name + "\n")
		write(e.Attributes)
	}
	return sb.String()
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
