package metrics_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/metrics"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/testredis"
	"github.com/workingtracker/api/loaders"
)

// gathered is a registry's metrics, read once.
type gathered map[string]*dto.MetricFamily

func gather(t *testing.T, reg prometheus.Gatherer) gathered {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	g := gathered{}
	for _, f := range families {
		g[f.GetName()] = f
	}
	return g
}

// series returns the series of name whose labels include want.
func (g gathered) series(name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	f := g[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		ok := true
		for k, v := range want {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k && l.GetValue() == v }) {
				ok = false
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// value sums the counters, gauges and histogram sample counts of name's series matching want.
func (g gathered) value(name string, want map[string]string) float64 {
	var sum float64
	for _, m := range g.series(name, want) {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

type l = map[string]string

var (
	uuidLike  = regexp.MustCompile(`(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}`)
	emailLike = regexp.MustCompile(`[^@\s]+@[^@\s]+`)
)

// requireBoundedLabels fails on a label value that looks like an id, an e-mail address or
// document text.
func requireBoundedLabels(t *testing.T, g gathered) {
	t.Helper()
	for name, f := range g {
		if !strings.HasPrefix(name, "workingtracker_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				v := lp.GetValue()
				require.False(t, uuidLike.MatchString(v), "%s{%s=%q} looks like an id", name, lp.GetName(), v)
				require.False(t, emailLike.MatchString(v), "%s{%s=%q} looks like an e-mail address", name, lp.GetName(), v)
				require.False(t, strings.ContainsAny(v, "{}()\"$ "), "%s{%s=%q} looks like document text", name, lp.GetName(), v)
				require.LessOrEqual(t, len(v), 100, "%s{%s=%q}", name, lp.GetName(), v)
			}
		}
	}
}

// TestMetricsMoveWithBoundedLabels runs real operations — named and anonymous, a mutation
// carrying an e-mail address, one with an id in its document, a field error, documents that do
// not parse or validate, one refused for its cost, refused credentials — and reads the
// registry: each moved the series it should, and no label holds a value from a request.
func TestMetricsMoveWithBoundedLabels(t *testing.T) {
	t.Parallel()
	tiers := ratelimit.DefaultTiers()
	tiers.MaxQueryCost = 2000
	srv := apitest.New(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: tiers}})
	fx := srv.NewTenant("metrics")

	var created struct{ CreateEmployee struct{ ID string } }
	srv.MustData(fx.Token, `mutation CreatePerson($input: CreateEmployeeInput!) { createEmployee(input: $input) { id } }`,
		map[string]any{"input": map[string]any{"name": "Ada Lovelace", "email": "ada@metrics.example"}}, &created)
	var team any
	srv.MustData(fx.Token, `query Team { employees(first: 20) { nodes { name department { name } manager { name } projects { name } } } }`, nil, &team)
	srv.MustData(fx.Token, `query Team { employees(first: 5) { nodes { name } } }`, nil, &team)
	srv.MustData(fx.Token, `{ me { id } }`, nil, &team)
	srv.MustData(fx.Token, `{ employee(id: "`+created.CreateEmployee.ID+`") { name email } }`, nil, &team)

	badID := srv.Do(fx.Token, `query Lookup { employees(first: 101) { nodes { name } } }`, nil)
	require.NotEmpty(t, badID.Errors)
	require.Equal(t, "BAD_USER_INPUT", badID.Errors[0].Code())
	invalid := srv.Do(fx.Token, `query Broken { employees { nope } }`, nil)
	require.Equal(t, "GRAPHQL_VALIDATION_FAILED", invalid.Errors[0].Code())
	unparsable := srv.Do(fx.Token, `query Unfinished { employees {`, nil)
	require.Equal(t, "GRAPHQL_PARSE_FAILED", unparsable.Errors[0].Code())
	big := srv.Do(fx.Token, `query Big { employees(first: 100) { nodes { projects(first: 100) { name } } } }`, nil)
	require.Equal(t, "COMPLEXITY_LIMIT", big.Errors[0].Code())
	bigCost := big.Extensions["cost"].(map[string]any)["requestedQueryCost"].(float64)

	require.Equal(t, http.StatusUnauthorized, srv.Do("", `{ me { id } }`, nil).Status)
	require.Equal(t, http.StatusUnauthorized, srv.Do("not.a.token", `{ me { id } }`, nil).Status)
	expired, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: fx.Tenant.ID, EmployeeID: fx.Admin.ID, Roles: []string{"ADMIN"}, TTL: -time.Hour})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, srv.Do(expired, `{ me { id } }`, nil).Status)

	g := gather(t, srv.Registry)
	requireBoundedLabels(t, g)

	t.Run("Operations", func(t *testing.T) {
		ops := "workingtracker_graphql_operations_total"
		require.Equal(t, 2.0, g.value(ops, l{"operation": "Team", "type": "query", "outcome": "ok"}))
		require.Equal(t, 1.0, g.value(ops, l{"operation": "CreatePerson", "type": "mutation", "outcome": "ok"}))
		require.Equal(t, 2.0, g.value(ops, l{"operation": "anonymous", "type": "query", "outcome": "ok"}))
		require.Equal(t, 1.0, g.value(ops, l{"operation": "Lookup", "type": "query", "outcome": "error"}))
		require.Equal(t, 1.0, g.value(ops, l{"operation": "Big", "type": "query", "outcome": "refused"}))
		require.Equal(t, 2.0, g.value(ops, l{"operation": "other", "type": "unknown", "outcome": "error"}),
			"documents that do not parse or validate add no name")
		require.Empty(t, g.series(ops, l{"operation": "Broken"}))
		require.Empty(t, g.series(ops, l{"operation": "Unfinished"}))

		dur := "workingtracker_graphql_operation_duration_seconds"
		require.Equal(t, 2.0, g.value(dur, l{"operation": "Team", "type": "query"}))
		h := g.series(dur, l{"operation": "Team"})[0].GetHistogram()
		require.Positive(t, h.GetSampleSum())
		require.NotEmpty(t, h.GetBucket(), "classic buckets")
		require.NotEmpty(t, h.GetPositiveSpan(), "native buckets")
	})

	t.Run("ErrorsByCode", func(t *testing.T) {
		errs := "workingtracker_graphql_errors_total"
		for code, n := range map[string]float64{"BAD_USER_INPUT": 1, "GRAPHQL_VALIDATION_FAILED": 1, "GRAPHQL_PARSE_FAILED": 1,
			"COMPLEXITY_LIMIT": 1, "RATE_LIMITED": 0, "INTERNAL": 0} {
			require.Equal(t, n, g.value(errs, l{"code": code}), code)
		}
	})

	t.Run("Cost", func(t *testing.T) {
		requested := g.value("workingtracker_graphql_cost_requested_total", nil)
		spent := g.value("workingtracker_graphql_cost_spent_total", nil)
		require.Positive(t, spent)
		require.Equal(t, bigCost, requested-spent, "the refused operation was priced, not spent")
		require.Equal(t, 7.0, g.value("workingtracker_graphql_query_cost", nil), "every operation that was priced")
	})

	t.Run("Loaders", func(t *testing.T) {
		batches := g["workingtracker_loader_batch_size"]
		require.NotNil(t, batches)
		for _, m := range batches.GetMetric() {
			require.Contains(t, loaders.LoaderNames(), m.GetLabel()[0].GetValue())
		}
		require.Positive(t, g.value("workingtracker_loader_batch_size", nil))
	})

	t.Run("Database", func(t *testing.T) {
		require.Positive(t, g.value("workingtracker_db_statement_duration_seconds", l{"command": "select"}))
		require.Positive(t, g.value("workingtracker_db_statement_duration_seconds", l{"command": "insert"}))
		require.Positive(t, g.value("workingtracker_db_pool_acquires_total", nil))
		require.Positive(t, g.value("workingtracker_db_pool_max_connections", nil))
		require.Positive(t, g.value("workingtracker_db_pool_connections", nil))
	})

	t.Run("HTTPAndAuth", func(t *testing.T) {
		require.Positive(t, g.value("workingtracker_http_requests_total", l{"handler": "query", "code": "200"}))
		require.Equal(t, 3.0, g.value("workingtracker_http_requests_total", l{"handler": "query", "code": "401"}))
		failures := "workingtracker_auth_failures_total"
		for reason, n := range map[string]float64{"missing": 1, "invalid": 1, "expired": 1, "inactive_account": 0, "blocked": 0} {
			require.Equal(t, n, g.value(failures, l{"reason": reason}), reason)
		}
		require.NotNil(t, g["workingtracker_websocket_connections"])
		require.NotNil(t, g["workingtracker_ratelimit_refusals_total"])
	})
}

func TestRedisHook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	hook := metrics.NewRedis(reg)
	rdb := testredis.Client(t)
	rdb.AddHook(hook)
	require.NoError(t, rdb.Set(ctx, "metrics-test", "1", time.Minute).Err())
	require.ErrorIs(t, rdb.Get(ctx, "metrics-test-missing").Err(), redis.Nil)
	require.Error(t, rdb.Do(ctx, "frobnicate").Err())
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, "metrics-test")
		return nil
	})
	require.NoError(t, err)

	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	dead.AddHook(hook)
	require.Error(t, dead.Ping(ctx).Err())

	g := gather(t, reg)
	requireBoundedLabels(t, g)
	for _, cmd := range []string{"set", "get", "frobnicate", "pipeline", "ping"} {
		require.Positive(t, g.value("workingtracker_redis_command_duration_seconds", l{"command": cmd}), cmd)
	}
	// The unknown command's error reply and the dead server (its dial and its ping); a missing
	// key is not an error.
	require.GreaterOrEqual(t, g.value("workingtracker_redis_errors_total", nil), 3.0)
}
