//go:build bench

package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/store"
)

// TestSubscriptionLoad holds BENCH_SUBSCRIBERS (default 10,000) graphql-transport-ws
// subscriptions open against one server on loopback and reports the server's memory per
// connection and the latency from publishing a screenshot event to its delivery:
//
//	TEST_DATABASE_URL=… [TEST_REDIS_URL=…] go test -tags bench -run '^TestSubscriptionLoad$' -v ./bench/
//
// The clients run in a child process (this test binary, TestSubscriptionLoadClient), so the
// server's heap and RSS are its own and each process stays under its file descriptor limit.
// Each connection is an ADMIN's screenshotEvents(employeeId:) feed of one of 100 employees;
// each published event reaches that employee's 100 subscribers. With TEST_REDIS_URL the events
// travel as in production: published by another bus (a worker's), through Redis, to the
// server's bus.
func TestSubscriptionLoad(t *testing.T) {
	n := 10_000
	if v := os.Getenv("BENCH_SUBSCRIBERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatal("BENCH_SUBSCRIBERS must be a positive integer")
		}
	}
	raiseFileLimit(t)
	if os.Getenv("BENCH_SUBS_PROFILE") != "" {
		runtime.MemProfileRate = 1 // every allocation, for an exact attribution
	}
	const employees, rounds = 100, 200
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var bus, publisher *events.Bus
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		channel := "bench:screenshots:" + uuid.NewString()
		bus = events.NewBus(events.BusOpts{Redis: redis.NewClient(opts), Channel: channel})
		publisher = events.NewBus(events.BusOpts{Redis: redis.NewClient(opts), Channel: channel})
	} else {
		bus = events.NewBus(events.BusOpts{})
		publisher = bus
	}
	defer bus.Close()
	defer publisher.Close()
	if err := bus.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	srv := apitest.New(t, apitest.Opts{Events: bus,
		Websockets:    auth.WebsocketLimits{MaxPending: n, MaxPendingPerClient: n},
		Subscriptions: httpapi.SubscriptionLimits{MaxConnections: n, MaxSubscriptions: n}})
	f := srv.NewTenant("acme")
	scope := store.Scope{TenantID: f.Tenant.ID}
	ids := make([]string, employees)
	for i := range ids {
		e, err := srv.Store.CreateEmployee(ctx, scope, store.EmployeeParams{Name: apitest.Ptr(fmt.Sprintf("E%d", i)),
			Email: apitest.Ptr(fmt.Sprintf("e%d@acme.example", i)), Role: apitest.Ptr(store.RoleEmployee)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = e.ID.String()
	}
	// The screenshots the events announce, one per round.
	shots := make([]uuid.UUID, rounds)
	err := pgx.BeginFunc(ctx, srv.Store.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, f.Tenant.ID.String()); err != nil {
			return err
		}
		for i := range shots {
			shots[i] = uuid.New()
			if _, err := tx.Exec(ctx, `INSERT INTO screenshots (tenant_id, id, employee_id, captured_at, status, original_key,
				original_bytes, original_format) VALUES ($1, $2, $3, now(), 'PENDING', 'k', 10, 'png')`,
				f.Tenant.ID, shots[i], ids[i%employees]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	heap0, stack0, rss0 := serverMemory()
	g0 := runtime.NumGoroutine()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.CommandContext(ctx, exe, "-test.run=^TestSubscriptionLoadClient$", "-test.timeout=10m")
	child.Env = append(os.Environ(), "BENCH_SUBS_CLIENT=1", "BENCH_SUBS_URL=ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
		"BENCH_SUBS_TOKEN="+f.Token, "BENCH_SUBS_N="+strconv.Itoa(n), "BENCH_SUBS_EMPLOYEES="+strings.Join(ids, ","))
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	started := time.Now()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()

	var mu sync.Mutex
	received := map[uuid.UUID][]int64{}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			id, at, ok := strings.Cut(sc.Text(), " ")
			u, err := uuid.Parse(id)
			if !ok || err != nil {
				continue
			}
			ns, _ := strconv.ParseInt(at, 10, 64)
			mu.Lock()
			received[u] = append(received[u], ns)
			mu.Unlock()
		}
	}()
	for bus.Active() < n {
		if ctx.Err() != nil || time.Since(started) > 5*time.Minute {
			t.Fatalf("only %d of %d subscriptions after %s", bus.Active(), n, time.Since(started))
		}
		time.Sleep(50 * time.Millisecond)
	}
	connectTime := time.Since(started)
	time.Sleep(time.Second) // settle
	heap1, stack1, rss1 := serverMemory()
	g1 := runtime.NumGoroutine()
	if p := os.Getenv("BENCH_SUBS_PROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
		if f, err := os.Create(p + ".goroutine"); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(f, 1)
			_ = f.Close()
		}
	}

	published := make([]int64, rounds)
	for i, shot := range shots {
		published[i] = time.Now().UnixNano()
		if err := publisher.PublishScreenshot(ctx, events.ScreenshotChanged{TenantID: f.Tenant.ID, ScreenshotID: shot,
			EmployeeID: uuid.MustParse(ids[i%employees]), Status: store.ScreenshotPending}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	per := n / employees
	deadline := time.Now().Add(30 * time.Second)
	var latencies []time.Duration
	for {
		mu.Lock()
		got := 0
		for _, r := range received {
			got += len(r)
		}
		if got >= rounds*per || time.Now().After(deadline) {
			latencies = latencies[:0]
			for i, shot := range shots {
				for _, at := range received[shot] {
					latencies = append(latencies, time.Duration(at-published[i]))
				}
			}
			mu.Unlock()
			break
		}
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	_ = stdin.Close()
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))]
	}
	transport := "in process"
	if publisher != bus {
		transport = "through Redis"
	}
	report := fmt.Sprintf(`Subscription load, %s, GOMAXPROCS %d, %d CPUs
connections: %d graphql-transport-ws, one screenshotEvents subscription each (connected in %s)
server memory per connection: heap+stacks %.1f KB (heap %.1f, stacks %.1f), RSS %.1f KB (target < 20 KB); goroutines per connection %.1f
events: %d published %s, each to %d subscribers; delivered %d of %d
latency publish -> delivery with %d connected: p50 %s, p95 %s, p99 %s, max %s (target p95 < 50ms)
`, runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), n, connectTime.Round(time.Millisecond),
		float64(heap1+stack1-heap0-stack0)/float64(n)/1024, float64(heap1-heap0)/float64(n)/1024,
		float64(stack1-stack0)/float64(n)/1024, float64(rss1-rss0)/float64(n)/1024, float64(g1-g0)/float64(n),
		rounds, transport, per, len(latencies), rounds*per, n,
		pct(0.5).Round(10*time.Microsecond), pct(0.95).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
		pct(1).Round(10*time.Microsecond))
	fmt.Print("\n" + report)
	if len(latencies) < rounds*per {
		t.Errorf("%d of %d deliveries arrived", len(latencies), rounds*per)
	}
}

// TestSubscriptionLoadClient is TestSubscriptionLoad's child process: it opens the
// subscriptions, prints "<screenshot id> <unix nanos>" per event received, and exits when its
// stdin closes.
func TestSubscriptionLoadClient(t *testing.T) {
	if os.Getenv("BENCH_SUBS_CLIENT") == "" {
		t.Skip("run by TestSubscriptionLoad")
	}
	raiseFileLimit(t)
	url, token := os.Getenv("BENCH_SUBS_URL"), os.Getenv("BENCH_SUBS_TOKEN")
	n, _ := strconv.Atoi(os.Getenv("BENCH_SUBS_N"))
	employees := strings.Split(os.Getenv("BENCH_SUBS_EMPLOYEES"), ",")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	var outMu sync.Mutex
	go func() {
		for range time.Tick(20 * time.Millisecond) {
			outMu.Lock()
			_ = out.Flush()
			outMu.Unlock()
		}
	}()
	sem := make(chan struct{}, 64) // dials at once
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialSubscriber(ctx, url, token, employees[i%len(employees)])
			<-sem
			if err != nil {
				fmt.Fprintf(os.Stderr, "subscriber %d: %v\n", i, err)
				return
			}
			defer conn.CloseNow()
			for {
				var m struct {
					Type    string `json:"type"`
					Payload struct {
						Data struct {
							ScreenshotEvents struct{ ID string } `json:"screenshotEvents"`
						} `json:"data"`
					} `json:"payload"`
				}
				if err := wsjson.Read(ctx, conn, &m); err != nil {
					return
				}
				if m.Type == "next" {
					at := time.Now().UnixNano()
					outMu.Lock()
					fmt.Fprintf(out, "%s %d\n", m.Payload.Data.ScreenshotEvents.ID, at)
					outMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

func dialSubscriber(ctx context.Context, url, token, employeeID string) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init",
		"payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		return nil, err
	}
	var ack struct{ Type string }
	if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
		return nil, fmt.Errorf("no connection_ack (%s): %v", ack.Type, err)
	}
	err = wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($e: ID) { screenshotEvents(employeeId: $e) { id status } }`,
		"variables": map[string]any{"e": employeeID}}})
	return conn, err
}

// serverMemory is the Go heap and goroutine stacks in use after a collection, and the
// process's resident set.
func serverMemory() (heap, stacks, rss uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	raw, _ := os.ReadFile("/proc/self/statm")
	if f := strings.Fields(string(raw)); len(f) > 1 {
		pages, _ := strconv.ParseUint(f[1], 10, 64)
		rss = pages * uint64(os.Getpagesize())
	}
	return m.HeapInuse, m.StackInuse, rss
}

// raiseFileLimit lifts the soft limit on open files to the hard one: each connection is a
// descriptor on each side.
func raiseFileLimit(t *testing.T) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Logf("raise RLIMIT_NOFILE: %v", err)
	}
}
