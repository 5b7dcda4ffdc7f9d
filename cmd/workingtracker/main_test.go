package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

func envFor(t *testing.T, vars map[string]string) func(string) string {
	t.Helper()
	base := map[string]string{"APP_ENV": "development", "DATA_DIR": t.TempDir(), "LOG_LEVEL": "warn"}
	for k, v := range vars {
		base[k] = v
	}
	return func(k string) string { return base[k] }
}

// served is a `workingtracker serve` running on port 0 through the binary's own entry point.
type served struct {
	base    string
	metrics string            // the metrics URL
	tokens  map[string]string // development token by role
	// stop cancels serve's context, as SIGTERM does; stopped waits up to d for serve to return.
	stop    context.CancelFunc
	stopped func(d time.Duration) (err error, returned bool)
}

func serveFor(t *testing.T, vars map[string]string) served {
	t.Helper()
	vars["HTTP_ADDR"] = "127.0.0.1:0"
	vars["METRICS_ADDR"] = "127.0.0.1:0"
	getenv := envFor(t, vars)
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	finished := make(chan struct{})
	var result error
	go func() {
		result = run(ctx, []string{"serve"}, getenv, w, io.Discard)
		w.Close()
		close(finished)
	}()
	stopped := func(d time.Duration) (error, bool) {
		select {
		case <-finished:
			return result, true
		case <-time.After(d):
			return nil, false
		}
	}
	t.Cleanup(func() {
		cancel()
		err, returned := stopped(20 * time.Second)
		require.True(t, returned, "serve did not stop")
		require.NoError(t, err, "graceful shutdown")
	})
	s := served{tokens: map[string]string{}, stop: cancel, stopped: stopped}
	lines := bufio.NewScanner(out)
	for s.base == "" && lines.Scan() {
		fields := strings.Fields(lines.Text())
		switch {
		case len(fields) == 2 && strings.Count(fields[1], ".") == 2:
			s.tokens[fields[0]] = fields[1]
		case len(fields) > 2 && fields[0] == "listening":
			s.base = fields[2]
		case len(fields) > 2 && fields[0] == "metrics":
			s.metrics = fields[2]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	require.NotEmpty(t, s.base, "serve printed its address")
	return s
}

func (s served) status(t *testing.T, path string) int {
	t.Helper()
	resp, err := http.Get(s.base + path)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeBootsSeedsAndAnswers: serve over a fresh database migrates, seeds the demo tenants,
// prints working tokens, answers a nested query and is ready when PostgreSQL and Redis answer.
func TestServeBootsSeedsAndAnswers(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	require.NotEmpty(t, redisURL, "TEST_REDIS_URL is not set: run the tests with `make test`")
	dbURL := testdb.URL(t)
	s := serveFor(t, map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL})
	require.Len(t, s.tokens, 5, "a token per role")
	waitForJob(t, dbURL, "partition_maintenance", "completed") // workers run in process by default
	require.Equal(t, http.StatusOK, s.status(t, "/readyz"))

	body := `{"query":"{ me { name role department { name } projects { name members { name } } timeEntries(first: 2) { project { name } } } }"}`
	req, _ := http.NewRequest(http.MethodPost, s.base+"/query", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.tokens["MANAGER"])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got struct {
		Data struct {
			Me struct {
				Role     string
				Projects []struct{ Members []struct{ Name string } }
			}
		}
		Errors []any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Empty(t, got.Errors)
	require.Equal(t, "MANAGER", got.Data.Me.Role)
	require.NotEmpty(t, got.Data.Me.Projects)

	// A document over the depth limit, so the refusal counter has a series.
	deep := `{"query":"{ me { ` + strings.Repeat("manager { ", 14) + "id" + strings.Repeat(" }", 14) + ` } }"}`
	req, _ = http.NewRequest(http.MethodPost, s.base+"/query", strings.NewReader(deep))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.tokens["MANAGER"])
	refused, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	refused.Body.Close()

	// The metrics listener exports what serve wired (internal/metrics has the detailed test).
	resp, err = http.Get(s.metrics)
	require.NoError(t, err)
	defer resp.Body.Close()
	scraped, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, want := range []string{
		`workingtracker_graphql_operations_total{operation="anonymous",outcome="ok",type="query"} 1`,
		`workingtracker_graphql_operation_duration_seconds_count{operation="anonymous",type="query"} 1`,
		`workingtracker_http_requests_total{code="200",handler="query"} 2`, // the page and the refused document
		`workingtracker_loader_batch_size_count{loader=`,
		`workingtracker_db_statement_duration_seconds_count{command="select"}`,
		`workingtracker_db_pool_max_connections`,
		`workingtracker_redis_command_duration_seconds_count{command=`,
		`workingtracker_partitions_ahead_months{table="time_entries"} `,
		`workingtracker_auth_failures_total{reason="invalid"} 0`,
		`workingtracker_websocket_connections 0`,
		`go_goroutines`, `process_resident_memory_bytes`,
	} {
		require.True(t, strings.Contains(string(scraped), want), "metrics export %s", want)
	}

	// Every metric the alert rules and the dashboard read is one the server exports: a renamed
	// metric would otherwise leave an alert that never fires and a panel that stays empty.
	exported := map[string]bool{}
	for _, line := range strings.Split(string(scraped), "\n") {
		if name, _, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			name, _, _ = strings.Cut(name, "{")
			exported[name] = true
		}
	}
	for _, file := range []string{"../../deploy/prometheus/rules.yml", "../../deploy/grafana/workingtracker.json"} {
		text, err := os.ReadFile(file)
		require.NoError(t, err)
		names := metricName.FindAllString(string(text), -1)
		require.NotEmpty(t, names, file)
		for _, name := range names {
			require.True(t, exported[name], "%s reads %s, which the server does not export", file, name)
		}
	}
}

// metricName finds the metrics an expression reads (histogram series by their exported names;
// recording rules, named workingtracker:…, are not metrics of the server).
var metricName = regexp.MustCompile(`\b(?:workingtracker|go|process)_[a-z0-9_]+\b`)

func TestReadinessFailsWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	s := serveFor(t, map[string]string{"DATABASE_URL": testdb.URL(t), "REDIS_URL": "redis://" + dead + "/0"})
	require.Equal(t, http.StatusServiceUnavailable, s.status(t, "/readyz"))
	require.Equal(t, http.StatusOK, s.status(t, "/healthz"), "alive, just not ready")

	// Queries are still answered, budgeted in process, and the metrics say so.
	req, _ := http.NewRequest(http.MethodPost, s.base+"/query", strings.NewReader(`{"query":"{ me { name } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.tokens["EMPLOYEE"])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var got struct {
		Errors     []any
		Extensions struct {
			Cost struct{ RequestedQueryCost int }
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	require.Empty(t, got.Errors)
	require.Equal(t, 1, got.Extensions.Cost.RequestedQueryCost)

	resp, err = http.Get(s.metrics)
	require.NoError(t, err)
	defer resp.Body.Close()
	metrics, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(metrics), "workingtracker_ratelimit_shared_up 0")
	require.Contains(t, string(metrics), "workingtracker_ratelimit_local_charges_total 1")
}

func TestCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	getenv := envFor(t, map[string]string{"DATABASE_URL": testdb.URL(t)})
	runOK := func(args ...string) string {
		t.Helper()
		var stdout bytes.Buffer
		require.NoError(t, run(ctx, args, getenv, &stdout, io.Discard), args)
		return stdout.String()
	}

	require.Contains(t, runOK("schema"), `type Employee @key(fields: "id")`)
	require.Contains(t, runOK("migrate", "up"), "up to date")
	require.Contains(t, runOK("migrate", "status"), "applied")
	require.Contains(t, runOK("seed", "--scale", "small", "--anchor", "2026-06-30"), "2 tenants")
	require.Contains(t, runOK("seed"), "exists already", "seeding twice writes nothing")
	tok := strings.TrimSpace(runOK("token", "--role", "hr", "--mfa", "--tenant", "globex"))
	require.Equal(t, 2, strings.Count(tok, "."))

	var stderr bytes.Buffer
	err := run(ctx, []string{"migrate", "sideways"}, getenv, io.Discard, &stderr)
	require.ErrorIs(t, err, errUsage)
	err = run(ctx, []string{"seed", "--scale", "huge"}, getenv, io.Discard, &stderr)
	require.ErrorIs(t, err, errUsage)
	err = run(ctx, []string{"token", "--tenant", "nope"}, getenv, io.Discard, &stderr)
	require.ErrorContains(t, err, "tenant \"nope\"")
	err = run(ctx, []string{"frobnicate"}, getenv, io.Discard, &stderr)
	require.ErrorIs(t, err, errUsage)

	prod := envFor(t, map[string]string{"APP_ENV": "production"})
	err = run(ctx, []string{"serve"}, prod, io.Discard, &stderr)
	require.ErrorContains(t, err, "DATABASE_URL is required in production")

	// The test server's own account is a superuser: production refuses to serve through it.
	superuser := envFor(t, map[string]string{"APP_ENV": "production", "DATABASE_URL": os.Getenv("TEST_DATABASE_URL"),
		"OIDC_ISSUER": "https://idp.invalid", "OIDC_AUDIENCE": "api", "HTTP_ADDR": "127.0.0.1:0", "TRUSTED_PROXY_HOPS": "0",
		"PII_MASTER_KEY": testMasterKey})
	err = run(ctx, []string{"serve"}, superuser, io.Discard, &stderr)
	require.ErrorContains(t, err, "bypasses row-level security")

	// Production must say how many proxies it sits behind.
	noHops := envFor(t, map[string]string{"APP_ENV": "production", "DATABASE_URL": os.Getenv("TEST_DATABASE_URL"),
		"OIDC_ISSUER": "https://idp.invalid", "OIDC_AUDIENCE": "api", "HTTP_ADDR": "127.0.0.1:0"})
	err = run(ctx, []string{"serve"}, noHops, io.Discard, &stderr)
	require.ErrorContains(t, err, "TRUSTED_PROXY_HOPS is required in production")
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fingerprint := func() string {
		url := testdb.URL(t)
		getenv := envFor(t, map[string]string{"DATABASE_URL": url})
		require.NoError(t, run(ctx, []string{"seed", "--anchor", "2026-06-30"}, getenv, io.Discard, io.Discard))
		s, err := store.Open(ctx, url, store.Opts{MaxConns: 2})
		require.NoError(t, err)
		defer s.Close()
		// Every tenant's entries, read as that tenant (row-level security admits no other way).
		rows, err := s.Pool().Query(ctx, `SELECT id FROM tenants ORDER BY slug`)
		require.NoError(t, err)
		tenants, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		require.NoError(t, err)
		require.Len(t, tenants, 2)
		var sums []string
		for _, tenant := range tenants {
			var sum string
			require.NoError(t, pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant.String()); err != nil {
					return err
				}
				return tx.QueryRow(ctx, `SELECT md5(string_agg(id::text || start_time::text, ',' ORDER BY id))
					FROM time_entries`).Scan(&sum)
			}))
			sums = append(sums, sum)
		}
		return strings.Join(sums, ",")
	}
	require.Equal(t, fingerprint(), fingerprint())
}

// productionEnv is a complete production configuration over databaseURL whose issuer cannot be
// reached: serve fails at discovering it, after every check of the database.
func productionEnv(t *testing.T, databaseURL string) func(string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	issuer := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	return envFor(t, map[string]string{"APP_ENV": "production", "DATABASE_URL": databaseURL,
		"OIDC_ISSUER": issuer, "OIDC_AUDIENCE": "api", "HTTP_ADDR": "127.0.0.1:0", "TRUSTED_PROXY_HOPS": "0",
		"PII_MASTER_KEY": testMasterKey})
}

func TestProductionServesOnlyAsARoleRowSecurityBinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owned := testdb.URL(t)
	for name, tc := range map[string]struct {
		url  string
		want string
	}{
		"ErrSuperuser":  {os.Getenv("TEST_DATABASE_URL"), "is a superuser or bypasses row-level security"},
		"ErrTableOwner": {owned, "owns tenant tables (activity_samples, api_keys, audit_anchors, audit_heads, audit_logs, departments, employees,"},
		// Past every database check, serve stops at the unreachable issuer.
		"OrdinaryRole": {testdb.AppRoleURL(t, owned), "auth: discover http://127.0.0.1:"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(ctx, []string{"serve"}, productionEnv(t, tc.url), io.Discard, io.Discard)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestProductionNeverSeeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	err := run(ctx, []string{"seed"}, productionEnv(t, url), io.Discard, io.Discard)
	require.ErrorContains(t, err, "production (APP_ENV=production) never seeds")
	require.NotErrorIs(t, err, errUsage, "exit status 1")

	s, err := store.Open(ctx, url, store.Opts{MaxConns: 1})
	require.NoError(t, err)
	defer s.Close()
	var tenants int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&tenants))
	require.Zero(t, tenants, "nothing written")
}

// TestTokenTTL: a negative --ttl mints a token that expired that long ago (with a warning), never
// a valid one; zero is refused.
func TestTokenTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	s, err := store.Open(ctx, url, store.Opts{MaxConns: 1})
	require.NoError(t, err)
	defer s.Close()
	tenant, err := s.CreateTenant(ctx, seed.DemoTenant, "Acme")
	require.NoError(t, err)
	_, err = s.CreateEmployee(ctx, store.Scope{TenantID: tenant.ID}, store.EmployeeParams{
		Name: ptr("Ada"), Email: ptr("ada@acme.example"), Role: ptr(store.RoleAdmin)})
	require.NoError(t, err)

	dataDir := t.TempDir()
	getenv := envFor(t, map[string]string{"DATABASE_URL": url, "DATA_DIR": dataDir})
	mint := func(ttl string) (token, warning string, err error) {
		var stdout, stderr bytes.Buffer
		err = run(ctx, []string{"token", "--ttl", ttl}, getenv, &stdout, &stderr)
		return strings.TrimSpace(stdout.String()), stderr.String(), err
	}
	signer, err := auth.LoadOrCreateDevSigner(filepath.Join(dataDir, "dev-signing-key.pem"))
	require.NoError(t, err)
	verifier, err := auth.NewVerifier(ctx, auth.VerifierOpts{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		KeySet: signer.KeySet(), CacheTTL: -1})
	require.NoError(t, err)
	expiry := func(t *testing.T, token string) time.Time {
		t.Helper()
		parts := strings.Split(token, ".")
		require.Len(t, parts, 3)
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var claims struct{ Exp int64 }
		require.NoError(t, json.Unmarshal(payload, &claims))
		return time.Unix(claims.Exp, 0)
	}

	t.Run("PositiveIsValid", func(t *testing.T) {
		token, warning, err := mint("2h")
		require.NoError(t, err)
		require.Empty(t, warning)
		require.WithinDuration(t, time.Now().Add(2*time.Hour), expiry(t, token), time.Minute)
		_, err = verifier.Verify(ctx, token)
		require.NoError(t, err)
	})
	t.Run("NegativeIsExpired", func(t *testing.T) {
		token, warning, err := mint("-1h")
		require.NoError(t, err)
		require.Contains(t, warning, "warning: --ttl -1h0m0s: the token expired 1h0m0s ago")
		require.WithinDuration(t, time.Now().Add(-time.Hour), expiry(t, token), time.Minute)
		_, err = verifier.Verify(ctx, token)
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
	})
	t.Run("NegativeWithinClockSkewSaysSo", func(t *testing.T) {
		token, warning, err := mint("-10s")
		require.NoError(t, err)
		require.Contains(t, warning, "accepted for another 50s")
		require.WithinDuration(t, time.Now().Add(-10*time.Second), expiry(t, token), 5*time.Second)
	})
	t.Run("ErrZero", func(t *testing.T) {
		_, _, err := mint("0")
		require.ErrorIs(t, err, errUsage)
	})
}

func ptr[T any](v T) *T { return &v }

// waitForJob waits until a job of kind is in state.
func waitForJob(t *testing.T, dbURL, kind, state string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = $2`, kind, state).Scan(&n))
		return n > 0
	}, 15*time.Second, 20*time.Millisecond, "no %s job %s", kind, state)
}

// TestWorkerCommand: `workingtracker worker` works jobs (the leader's periodic partition upkeep
// among them) until it is told to stop, and refuses WORKERS=0.
func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	getenv := envFor(t, map[string]string{"DATABASE_URL": dbURL, "WORKERS": "2", "METRICS_ADDR": "127.0.0.1:0",
		"WORKER_SHUTDOWN_TIMEOUT": "2s"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"worker"}, getenv, w, io.Discard)
		w.Close()
	}()
	lines := bufio.NewScanner(out)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "working jobs") {
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	waitForJob(t, dbURL, "partition_maintenance", "completed")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "graceful stop")
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not stop")
	}

	var stderr bytes.Buffer
	err := run(context.Background(), []string{"worker"}, envFor(t, map[string]string{"DATABASE_URL": dbURL, "WORKERS": "0"}),
		io.Discard, &stderr)
	require.ErrorContains(t, err, "WORKERS=0")
}

// TestShutdownDrainsThenClosesWebsockets: on SIGTERM (the context ends) readiness fails while
// the listener still answers, for SHUTDOWN_DRAIN; then an open websocket is closed with 1001
// (going away), the listener closes, and serve returns nil well within its deadline.
func TestShutdownDrainsThenClosesWebsockets(t *testing.T) {
	t.Parallel()
	const drain = time.Second
	s := serveFor(t, map[string]string{"DATABASE_URL": testdb.URL(t), "SHUTDOWN_DRAIN": drain.String()})
	require.Equal(t, http.StatusOK, s.status(t, "/readyz"))

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.base, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init",
		"payload": map[string]any{"Authorization": "Bearer " + s.tokens["EMPLOYEE"]}}))
	var ack struct{ Type string }
	require.NoError(t, wsjson.Read(ctx, conn, &ack))
	require.Equal(t, "connection_ack", ack.Type)
	type closed struct {
		status websocket.StatusCode
		at     time.Time
	}
	wsClosed := make(chan closed, 1)
	go func() {
		for {
			var msg map[string]any
			if err := wsjson.Read(ctx, conn, &msg); err != nil {
				wsClosed <- closed{websocket.CloseStatus(err), time.Now()}
				return
			}
		}
	}()

	stop := time.Now()
	s.stop()
	var notReady time.Time
	for notReady.IsZero() {
		resp, err := http.Get(s.base + "/readyz")
		require.NoError(t, err, "the listener answers while readiness fails")
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			notReady = time.Now()
		}
		require.Less(t, time.Since(stop), drain/2, "readiness fails at once")
	}
	// Still serving during the drain.
	require.Equal(t, http.StatusOK, s.status(t, "/healthz"))

	c := <-wsClosed
	require.Equal(t, websocket.StatusGoingAway, c.status)
	require.GreaterOrEqual(t, c.at.Sub(stop), drain, "websockets stay open for the drain")
	err, returned := s.stopped(5 * time.Second)
	require.True(t, returned, "serve returns within its deadline")
	require.NoError(t, err)
	t.Logf("readiness failed after %v, websocket closed after %v, serve returned after %v",
		notReady.Sub(stop), c.at.Sub(stop), time.Since(stop))
	_, err = http.Get(s.base + "/readyz")
	require.Error(t, err, "the listener is closed")
}

// TestReadinessFailsWhileMigrationsAreBehind: a database missing a migration this binary embeds
// is not ready.
func TestReadinessFailsWhileMigrationsAreBehind(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	s := serveFor(t, map[string]string{"DATABASE_URL": url})
	db, err := store.Open(context.Background(), url, store.Opts{MaxConns: 1})
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Pool().Exec(context.Background(),
		`DELETE FROM bun_migrations WHERE id = (SELECT max(id) FROM bun_migrations)`)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, s.status(t, "/readyz"))
	require.Equal(t, http.StatusOK, s.status(t, "/healthz"), "alive, just not ready")
}

// TestShutdownEndsEventStreams: an open Server-Sent Events subscription neither holds shutdown
// until its deadline nor outlives it: it ends with the drain, as websockets go away.
func TestShutdownEndsEventStreams(t *testing.T) {
	t.Parallel()
	const drain = 500 * time.Millisecond
	s := serveFor(t, map[string]string{"DATABASE_URL": testdb.URL(t), "SHUTDOWN_DRAIN": drain.String()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/query",
		strings.NewReader(`{"query":"subscription { screenshotEvents { id status } }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+s.tokens["EMPLOYEE"])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	streamEnded := make(chan time.Time, 1)
	go func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		streamEnded <- time.Now()
	}()

	stop := time.Now()
	s.stop()
	err, returned := s.stopped(10 * time.Second)
	require.True(t, returned, "serve returns within its shutdown, not after its deadline")
	require.NoError(t, err)
	select {
	case at := <-streamEnded:
		require.GreaterOrEqual(t, at.Sub(stop), drain, "the stream is served through the drain")
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived the server")
	}
}
