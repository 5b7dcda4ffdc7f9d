// Package bench measures the GraphQL API under load against a floor: the same data fetched by
// hand-written SQL through pgx with nothing in between. The ratio of the two is the price of
// everything the API adds on the same data, pool and machine — HTTP, token verification,
// GraphQL parsing and execution, dataloader batching windows, the store's general-purpose
// statements, and JSON.
//
// The entry point is TestLoad (bench_test.go), built only with -tags bench; `make bench`
// provisions and seeds a cluster for it (scripts/bench.sh).
package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/config"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/resolvers"
	"github.com/workingtracker/api/store"
)

// Config is a run's settings.
type Config struct {
	DatabaseURL string
	// AppDatabaseURL is how the server connects (BENCH_APP_DATABASE_URL): as production does, an
	// ordinary role bound by row-level security. Empty: DatabaseURL. The floor, the fixtures and
	// pg_stat_statements use DatabaseURL.
	AppDatabaseURL string
	// Duration is how long each (workload, clients, side) cell is measured, after Warmup.
	Duration, Warmup time.Duration
	Clients          []int
	// Workloads names the workloads to run; empty runs all.
	Workloads []string
	// Server is the server's own configuration read from the same environment (DB_MAX_CONNS,
	// LOADER_WAIT), so the bench serves exactly as `workingtracker serve` would.
	Server config.Config
}

// ConfigFromEnv reads BENCH_DATABASE_URL (required), BENCH_DURATION (default 5s), BENCH_WARMUP
// (1s), BENCH_CLIENTS (1,16,64) and BENCH_WORKLOADS (all), and the server's settings.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{DatabaseURL: getenv("BENCH_DATABASE_URL"), AppDatabaseURL: getenv("BENCH_APP_DATABASE_URL"),
		Duration: 5 * time.Second, Warmup: time.Second,
		Clients: []int{1, 16, 64}}
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("BENCH_DATABASE_URL is not set: run `make bench`, which provisions and seeds a PostgreSQL cluster for the benchmark"))
	}
	for _, d := range []struct {
		name      string
		dst       *time.Duration
		allowZero bool
	}{{"BENCH_DURATION", &c.Duration, false}, {"BENCH_WARMUP", &c.Warmup, true}} {
		if v := getenv(d.name); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed < 0 || (parsed == 0 && !d.allowZero) {
				errs = append(errs, fmt.Errorf("%s must be a positive duration such as 5s, not %q", d.name, v))
			}
			*d.dst = parsed
		}
	}
	if v := getenv("BENCH_CLIENTS"); v != "" {
		c.Clients = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("BENCH_CLIENTS must list positive integers such as 1,16,64, not %q", v))
				break
			}
			c.Clients = append(c.Clients, n)
		}
	}
	if v := getenv("BENCH_WORKLOADS"); v != "" {
		known := Workloads(Fixture{})
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if !slices.ContainsFunc(known, func(w Workload) bool { return w.Name == name }) {
				errs = append(errs, fmt.Errorf("BENCH_WORKLOADS: unknown workload %q", name))
			}
			c.Workloads = append(c.Workloads, name)
		}
	}
	server, err := config.FromEnv(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	c.Server = server
	return c, errors.Join(errs...)
}

// Env is a running bench: the real HTTP handler on a loopback listener, a client for it, the
// floor, and the fixture the workloads cycle through.
type Env struct {
	cfg       Config
	store     *store.Store
	floor     *Floor
	server    *httptest.Server
	transport *http.Transport
	client    *http.Client
	token     string
	stats     *statStatements // nil when pg_stat_statements is unavailable
	statsErr  error
	Fixture   Fixture
	Workloads []Workload
}

// Setup opens the stores, serves the API and mints a token for the demo tenant's admin.
// Close the Env when done.
func Setup(ctx context.Context, cfg Config, logger *slog.Logger) (_ *Env, err error) {
	e := &Env{cfg: cfg}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	// The process runs as `workingtracker serve` would (GC target included); the floor shares it.
	cfg.Server.ApplyRuntime()
	opts := store.Opts{MaxConns: cfg.Server.DBMaxConns}
	appURL := cmp.Or(cfg.AppDatabaseURL, cfg.DatabaseURL)
	if e.store, err = store.Open(ctx, appURL, opts); err != nil {
		return nil, err
	}
	tenant, err := e.store.TenantBySlug(ctx, seed.DemoTenant)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w (seed it with `workingtracker seed --scale large`)", seed.DemoTenant, err)
	}
	admin, err := e.store.FirstEmployeeWithRole(ctx, store.Scope{TenantID: tenant.ID}, store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if e.floor, err = OpenFloor(ctx, cfg.DatabaseURL, opts, tenant.ID); err != nil {
		return nil, err
	}
	if e.Fixture, err = e.floor.fixture(ctx, admin.ID); err != nil {
		return nil, err
	}
	for _, w := range Workloads(e.Fixture) {
		if len(cfg.Workloads) == 0 || slices.Contains(cfg.Workloads, w.Name) {
			e.Workloads = append(e.Workloads, w)
		}
	}

	// A key of its own: the bench needs no development key on disk and accepts nothing else.
	signer, err := auth.GenerateSigner()
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(ctx, auth.VerifierOpts{Issuer: auth.DevIssuer, Audience: auth.DevAudience, KeySet: signer.KeySet()})
	if err != nil {
		return nil, err
	}
	if e.token, err = signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience, TenantID: tenant.ID,
		EmployeeID: admin.ID, Roles: []string{store.RoleAdmin}, TTL: 24 * time.Hour}); err != nil {
		return nil, err
	}
	e.server = httptest.NewServer(httpapi.NewHandler(httpapi.Opts{
		GraphQL: graph.ServerOpts{
			Resolvers: resolvers.New(e.store, resolvers.Deps{Events: events.NewBus(events.BusOpts{})}),
			Reader:    e.store,
			Org:       e.store,
			Loaders:   loaders.Opts{Quiet: cfg.Server.LoaderWait},
		},
		Verifier: auth.Credentials{JWT: verifier, Accounts: auth.NewAccounts(e.store, auth.AccountsOpts{})},
		Logger:   logger,
		Ready:    e.store.Ping,
		// The security chain runs in full (costs are priced and charged), with a budget no
		// workload exhausts: the bench measures serving, not refusing.
		RateLimits: httpapi.RateLimits{Tiers: benchTiers()},
		Exports:    e.store,
	}))
	// Keep-alive connections for every client: without enough idle slots per host the
	// transport closes and redials connections, and the bench measures TCP handshakes.
	idle := 64
	for _, c := range cfg.Clients {
		idle = max(idle, c)
	}
	e.transport = &http.Transport{
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	e.client = &http.Client{Transport: e.transport, Timeout: time.Minute}

	// Without pg_stat_statements the bench still measures; the report says what is missing.
	e.stats, e.statsErr = openStatStatements(ctx, cfg.DatabaseURL)
	return e, nil
}

// Close stops the server and releases every connection.
func (e *Env) Close() {
	if e.server != nil {
		e.server.Close()
	}
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	if e.stats != nil {
		_ = e.stats.close(context.Background())
	}
	if e.floor != nil {
		e.floor.Close()
	}
	if e.store != nil {
		e.store.Close()
	}
}

// PoolSize is the connection cap of each pool (the server's and the floor's).
func (e *Env) PoolSize() int32 { return e.store.Pool().Config().MaxConns }

// requestFunc performs request i of a workload and writes the response body to buf.
type requestFunc func(ctx context.Context, i int, buf *bytes.Buffer) error

// graphQL returns the requests of w against the served API. Bodies are encoded once up front,
// so the clients spend their time on the exchange being measured.
func (e *Env) graphQL(w Workload) (requestFunc, error) {
	bodies := make([][]byte, w.cycle)
	for i := range bodies {
		req := map[string]any{"query": w.Query}
		if w.variables != nil {
			req["variables"] = w.variables(i)
		}
		b, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("%s: encode request: %w", w.Name, err)
		}
		bodies[i] = b
	}
	url := e.server.URL + "/query"
	authorization := "Bearer " + e.token
	return func(ctx context.Context, i int, buf *bytes.Buffer) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", authorization)
		resp, err := e.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := buf.ReadFrom(resp.Body); err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(buf.String(), 500))
		}
		return nil
	}, nil
}

// floorRequests returns the requests of w through the floor. They marshal what they fetched into
// a GraphQL-shaped response, so the floor pays for serialisation as the server does.
func (e *Env) floorRequests(w Workload) requestFunc {
	return func(ctx context.Context, i int, buf *bytes.Buffer) error {
		data, err := w.floor(ctx, e.floor, i)
		if err != nil {
			return err
		}
		return json.NewEncoder(buf).Encode(response[any]{Data: &data})
	}
}

// responseCheck checks every response of one workload on one side. The data does not change
// while the bench runs, so the answer to a request is the same each time: the first response to
// each distinct request gets the workload's full check, and later ones pass by being identical
// to it, compared byte for byte. A response that differs is checked in full again. Decoding
// every response instead would spend the clients' CPU, on the machine the server and the
// floor share, on the bench's own bookkeeping.
type responseCheck struct {
	check  func(i int, body []byte) error
	passed []atomic.Pointer[[]byte] // by request variant, i mod cycle
}

func newResponseCheck(w Workload) *responseCheck {
	return &responseCheck{check: w.check, passed: make([]atomic.Pointer[[]byte], w.cycle)}
}

func (c *responseCheck) verify(i int, body []byte) error {
	slot := &c.passed[i%len(c.passed)]
	if known := slot.Load(); known != nil && bytes.Equal(*known, body) {
		return nil
	}
	if err := c.check(i, body); err != nil {
		return err
	}
	kept := bytes.Clone(body)
	slot.CompareAndSwap(nil, &kept)
	return nil
}

// Sample is what one cell measured.
type Sample struct {
	Requests int
	// Elapsed runs from the end of the warm-up to the last measured response.
	Elapsed time.Duration
	// Latencies are sorted ascending.
	Latencies []time.Duration
}

// Throughput is in requests per second.
func (s Sample) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

// Percentile is the nearest-rank p-th percentile latency, p in (0, 100].
func (s Sample) Percentile(p float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(s.Latencies))*p/100)) - 1
	return s.Latencies[min(max(rank, 0), len(s.Latencies)-1)]
}

// measure runs clients concurrent closed-loop clients for warmup + duration. Requests started
// during the warm-up fill caches and connection pools and are not recorded; those started after
// it are recorded until the end, including the last ones, which finish a little after it. The
// first request to fail or to return a response that fails check stops the run with its error.
func measure(ctx context.Context, clients int, warmup, duration time.Duration, do requestFunc, check func(int, []byte) error) (Sample, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		from      = time.Now().Add(warmup)
		until     = from.Add(duration)
		latencies = make([][]time.Duration, clients)
		lastDone  = make([]time.Time, clients)
	)
	for c := range clients {
		wg.Go(func() {
			var buf bytes.Buffer
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				start := time.Now()
				if !start.Before(until) {
					return
				}
				buf.Reset()
				err := do(ctx, i, &buf)
				done := time.Now()
				if err == nil {
					err = check(i, buf.Bytes())
				}
				if err != nil {
					cancel(fmt.Errorf("request %d: %w", i, err))
					return
				}
				if !start.Before(from) {
					latencies[c] = append(latencies[c], done.Sub(start))
					lastDone[c] = done
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return Sample{}, err
	}
	var s Sample
	last := from
	for c := range clients {
		s.Latencies = append(s.Latencies, latencies[c]...)
		if lastDone[c].After(last) {
			last = lastDone[c]
		}
	}
	slices.Sort(s.Latencies)
	s.Requests = len(s.Latencies)
	s.Elapsed = last.Sub(from)
	return s, nil
}

// equivalenceSamples is how many requests of each workload are compared across the sides.
const equivalenceSamples = 8

// sample runs the equivalence samples of a workload on one side and returns their responses,
// each having passed the workload's check.
func (sd *side) sample(ctx context.Context, w Workload) ([][]byte, error) {
	step := max(w.cycle/equivalenceSamples, 1)
	var bodies [][]byte
	err := sd.observe(ctx, func() error {
		for k := 0; k < equivalenceSamples && k*step < w.cycle; k++ {
			i := k * step
			var buf bytes.Buffer
			if err := sd.do(ctx, i, &buf); err != nil {
				return fmt.Errorf("%s request %d, %s: %w", w.Name, i, sd.name, err)
			}
			if err := sd.check.verify(i, buf.Bytes()); err != nil {
				return fmt.Errorf("%s request %d, %s response: %w", w.Name, i, sd.name, err)
			}
			bodies = append(bodies, buf.Bytes())
		}
		return nil
	})
	return bodies, err
}

// verifyEquivalent requires the two sides' sample responses to hold the same values: the ratio
// means something only if the floor returns the same rows.
func verifyEquivalent(w Workload, gql, floor [][]byte) error {
	for k := range gql {
		var gv, fv any
		if err := json.Unmarshal(gql[k], &gv); err != nil {
			return err
		}
		if err := json.Unmarshal(floor[k], &fv); err != nil {
			return err
		}
		// GraphQL reports the query's cost in extensions; the floor has no budget to report.
		if m, ok := gv.(map[string]any); ok {
			delete(m, "extensions")
		}
		if where := firstDifference("", gv, fv); where != "" {
			return fmt.Errorf("%s sample %d: the floor's response differs from GraphQL's at %s", w.Name, k, where)
		}
	}
	return nil
}

// firstDifference returns the path of the first value that differs between a and b (decoded
// JSON), with both values, or "" when they are equal.
func firstDifference(path string, a, b any) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, seen := av[k]; !seen {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if d := firstDifference(path+"."+k, av[k], bv[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		if len(av) != len(bv) {
			return fmt.Sprintf("%s: %d items vs %d", path, len(av), len(bv))
		}
		for i := range av {
			if d := firstDifference(path+"["+strconv.Itoa(i)+"]", av[i], bv[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if reflect.DeepEqual(a, b) {
		return ""
	}
	return fmt.Sprintf("%s: GraphQL %s vs floor %s", path, truncate(fmt.Sprint(a), 200), truncate(fmt.Sprint(b), 200))
}

// Cell is one (workload, clients) measurement of both sides.
type Cell struct {
	Workload string
	Clients  int
	GraphQL  Sample
	Floor    Sample
}

// Ratio is GraphQL's throughput as a fraction of the floor's.
func (c Cell) Ratio() float64 {
	if c.Floor.Throughput() == 0 {
		return 0
	}
	return c.GraphQL.Throughput() / c.Floor.Throughput()
}

// Result is a whole run.
type Result struct {
	Cells []Cell
	// GraphQLStatements and FloorStatements total pg_stat_statements over everything each side
	// ran; both are empty when StatementsErr says why they could not be read.
	GraphQLStatements, FloorStatements []StatementStat
	StatementsErr                      error
	// PoolSize is each side's connection cap: the most times a statement prepared with a generic
	// plan can be planned, once per connection.
	PoolSize int32
}

// side is one way of serving a workload — GraphQL or the floor — with what it has been
// observed doing.
type side struct {
	name  string
	do    requestFunc
	check *responseCheck
	stats *statStatements // nil: not observed
	// statements totals pg_stat_statements over every phase this side ran.
	statements statementTotals
}

// observe runs fn with pg_stat_statements reset before and read after, adding what fn's
// statements did to the side's totals. The other side never runs meanwhile, so the counts are
// this side's own.
func (sd *side) observe(ctx context.Context, fn func() error) error {
	if sd.stats == nil {
		return fn()
	}
	if err := sd.stats.reset(ctx); err != nil {
		return fmt.Errorf("reset pg_stat_statements: %w", err)
	}
	if err := fn(); err != nil {
		return err
	}
	snap, err := sd.stats.snapshot(ctx)
	if err != nil {
		return fmt.Errorf("read pg_stat_statements: %w", err)
	}
	sd.statements.add(snap)
	return nil
}

func (sd *side) measure(ctx context.Context, clients int, warmup, duration time.Duration) (Sample, error) {
	var s Sample
	err := sd.observe(ctx, func() error {
		var err error
		s, err = measure(ctx, clients, warmup, duration, sd.do, sd.check.verify)
		return err
	})
	return s, err
}

// Run measures every workload at every client count. Per workload it first checks that both
// sides return the same data, then per cell it measures the GraphQL side and the floor back to
// back, so that both meet the same machine (which may be busy with other work) within seconds
// of each other.
func (e *Env) Run(ctx context.Context, progress io.Writer) (*Result, error) {
	res := &Result{StatementsErr: e.statsErr}
	gqlStats, floorStats := statementTotals{}, statementTotals{}
	for _, w := range e.Workloads {
		do, err := e.graphQL(w)
		if err != nil {
			return nil, err
		}
		gql := &side{name: "GraphQL", do: do, check: newResponseCheck(w), stats: e.stats, statements: gqlStats}
		floor := &side{name: "floor", do: e.floorRequests(w), check: newResponseCheck(w), stats: e.stats, statements: floorStats}

		gqlSamples, err := gql.sample(ctx, w)
		if err != nil {
			return nil, err
		}
		floorSamples, err := floor.sample(ctx, w)
		if err != nil {
			return nil, err
		}
		if err := verifyEquivalent(w, gqlSamples, floorSamples); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "%s: GraphQL and floor responses match\n", w.Name)

		for _, clients := range e.cfg.Clients {
			cell := Cell{Workload: w.Name, Clients: clients}
			if cell.GraphQL, err = gql.measure(ctx, clients, e.cfg.Warmup, e.cfg.Duration); err != nil {
				return nil, fmt.Errorf("%s, %d clients, GraphQL: %w", w.Name, clients, err)
			}
			if cell.Floor, err = floor.measure(ctx, clients, e.cfg.Warmup, e.cfg.Duration); err != nil {
				return nil, fmt.Errorf("%s, %d clients, floor: %w", w.Name, clients, err)
			}
			res.Cells = append(res.Cells, cell)
			fmt.Fprintf(progress, "%-14s %3d clients  GraphQL %8.1f req/s p95 %7s | floor %8.1f req/s p95 %7s | ratio %.2f\n",
				w.Name, clients, cell.GraphQL.Throughput(), ms(cell.GraphQL.Percentile(95)),
				cell.Floor.Throughput(), ms(cell.Floor.Percentile(95)), cell.Ratio())
		}
	}
	if e.stats != nil {
		res.GraphQLStatements, res.FloorStatements = gqlStats.sorted(), floorStats.sorted()
	}
	res.PoolSize = e.PoolSize()
	return res, nil
}

// statementTotals sums snapshots by statement.
type statementTotals map[int64]*StatementStat

func (t statementTotals) add(snap []StatementStat) {
	for _, s := range snap {
		acc, ok := t[s.QueryID]
		if !ok {
			acc = &StatementStat{QueryID: s.QueryID, Query: s.Query}
			t[s.QueryID] = acc
		}
		acc.Calls += s.Calls
		acc.Plans += s.Plans
		acc.Rows += s.Rows
		acc.ExecTime += s.ExecTime
		acc.PlanTime += s.PlanTime
	}
}

// sorted lists the statements by calls, most called first.
func (t statementTotals) sorted() []StatementStat {
	out := make([]StatementStat, 0, len(t))
	for _, s := range t {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b StatementStat) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(b.ExecTime, a.ExecTime))
	})
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func benchTiers() ratelimit.Tiers {
	t := ratelimit.DefaultTiers()
	t.ByRole[store.RoleAdmin] = ratelimit.PerSecond(1<<30, 1<<29)
	t.MaxQueryCost = 1 << 20
	return t
}
