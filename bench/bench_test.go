//go:build bench

package bench

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestLoad is `make bench`: every workload at every client count against the GraphQL server and
// the floor, reported as a markdown table (also written to BENCH_OUT when set). It fails on any
// failed request; missed targets fail it only with BENCH_ENFORCE=1, since a shared machine makes
// single runs noisy.
func TestLoad(t *testing.T) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	env := setup(t, cfg)
	started := time.Now()
	res, err := env.Run(t.Context(), os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	header := []string{
		fmt.Sprintf("Load benchmark, %s, %s", started.UTC().Format(time.RFC3339), time.Since(started).Round(time.Second)),
		fmt.Sprintf("%s, %s/%s, GOMAXPROCS %d, %d CPUs", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU()),
		fmt.Sprintf("each cell: %s warm-up + %s measured per side; pool: %d connections per side",
			cfg.Warmup, cfg.Duration, env.PoolSize()),
		fmt.Sprintf("data: tenant acme, %d employees; monthEntries month %s", len(env.Fixture.EmployeeIDs),
			env.Fixture.MonthFrom.Format("2006-01")),
	}
	var report bytes.Buffer
	if err := res.WriteMarkdown(&report, header); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\n%s\n", report.Bytes())
	if out := os.Getenv("BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, report.Bytes(), 0o644); err != nil {
			t.Fatalf("write BENCH_OUT: %v", err)
		}
	}
	if os.Getenv("BENCH_ENFORCE") != "" && !res.TargetsMet() {
		t.Error("targets not met (BENCH_ENFORCE is set)")
	}
}

// BenchmarkWorkloads times single requests of each workload, one at a time, on both sides:
//
//	BENCH_DATABASE_URL=… go test -tags bench -run '^$' -bench Workloads ./bench/
func BenchmarkWorkloads(b *testing.B) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	env := setup(b, cfg)
	for _, w := range env.Workloads {
		gql, err := env.graphQL(w)
		if err != nil {
			b.Fatal(err)
		}
		for _, side := range []struct {
			name string
			do   requestFunc
		}{{"graphql", gql}, {"floor", env.floorRequests(w)}} {
			b.Run(w.Name+"/"+side.name, func(b *testing.B) {
				check := newResponseCheck(w)
				var buf bytes.Buffer
				for i := 0; b.Loop(); i++ {
					buf.Reset()
					if err := side.do(b.Context(), i, &buf); err != nil {
						b.Fatal(err)
					}
					if err := check.verify(i, buf.Bytes()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func setup(tb testing.TB, cfg Config) *Env {
	tb.Helper()
	// Warnings and errors only: the access log is at debug level, and a server error is logged
	// before the check that sees it in the response fails the run.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env, err := Setup(tb.Context(), cfg, logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(env.Close)
	return env
}
