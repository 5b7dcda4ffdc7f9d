//go:build bench

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workingtracker/api/store"
)

// Reports on the large seed (make bench seeds it, and the seed refreshes the report views):
//
//	BENCH_DATABASE_URL=… BENCH_APP_DATABASE_URL=… go test -tags bench -run '^$' -bench 'ProductivityReport|ExportCSV' -benchtime 5x ./bench/
//	BENCH_DATABASE_URL=… BENCH_APP_DATABASE_URL=… go test -tags bench -run '^TestExportMemory$' -v ./bench/

// reportYear is the twelve months ending with the last whole month of data.
func reportYear(e *Env) (from, to time.Time) {
	to = e.Fixture.MonthTo.UTC()
	return to.AddDate(-1, 0, 0), to
}

// BenchmarkProductivityReport: the first page (100 rows) of productivityReport for every
// employee of the tenant over 12 months grouped by month, read from the view and computed live
// from time_entries (the same SQL the API would run without the views). The live statement must
// aggregate the whole year before it can order and cut a page; the view reads 101 index entries.
func BenchmarkProductivityReport(b *testing.B) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		b.Skip(err)
	}
	e := setup(b, cfg)
	from, to := reportYear(e)
	scope := store.Scope{TenantID: e.Fixture.TenantID}
	for _, live := range []bool{false, true} {
		name := "view"
		if live {
			name = "live"
		}
		b.Run(name, func(b *testing.B) {
			p := store.ProductivityParams{From: from, To: to, GroupBy: store.GroupByMonth, Live: live}
			for b.Loop() {
				page, err := e.store.ProductivityReport(b.Context(), scope, p, store.PageParams{First: 100})
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Rows) != 100 {
					b.Fatalf("%d rows", len(page.Rows))
				}
			}
		})
	}
}

// exportYear requests the CSV export of a year of daily rows of every employee, discards the
// body and returns its rows (lines but the header) and bytes.
func exportYear(ctx context.Context, e *Env) (rows, bytes int64, err error) {
	from, to := reportYear(e)
	url := fmt.Sprintf("%s/export/productivity.csv?from=%s&to=%s&groupBy=DAY", e.server.URL,
		from.Format(time.DateOnly), to.Format(time.DateOnly))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return 0, 0, fmt.Errorf("export: %s: %s", resp.Status, body)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, n, err
	}
	rows, _ = strconv.ParseInt(resp.Header.Get("X-Export-Rows"), 10, 64)
	return rows, n, nil
}

// BenchmarkExportCSV: GET /export/productivity.csv of 12 months × every employee by day over
// loopback HTTP (server and client in this process), in rows per second.
func BenchmarkExportCSV(b *testing.B) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		b.Skip(err)
	}
	e := setup(b, cfg)
	var rows, bytes int64
	start := time.Now()
	for b.Loop() {
		r, n, err := exportYear(b.Context(), e)
		if err != nil {
			b.Fatal(err)
		}
		rows, bytes = rows+r, bytes+n
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(rows)/elapsed, "rows/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/export")
}

// TestExportMemory: the year-long daily export (over half a million rows, 50 MB of CSV) streams
// in constant memory: sampled every 5 ms while it streams, the process's live heap (as of each
// garbage collection; the heap between collections also holds garbage up to GOGC's 400%) grows
// by under 8 MB and its RSS by under 16 MB, where a server that held the rows or the body would
// grow by the whole export.
func TestExportMemory(t *testing.T) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		t.Skip(err)
	}
	e := setup(t, cfg)
	ctx := t.Context()
	// Warm up (pools, prepared statements), then settle.
	if _, _, err := exportYear(ctx, e); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	baseHeap, baseRSS := liveHeap(), rss(t)
	var peakHeap, peakRSS atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if h := liveHeap(); h > peakHeap.Load() {
					peakHeap.Store(h)
				}
				if r := rss(t); r > peakRSS.Load() {
					peakRSS.Store(r)
				}
			}
		}
	}()
	rows, bytes, err := exportYear(ctx, e)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	heapGrowth := int64(peakHeap.Load()) - int64(baseHeap)
	rssGrowth := int64(peakRSS.Load()) - int64(baseRSS)
	t.Logf("exported %d rows, %.1f MB; heap %.1f MB at rest, peak +%.1f MB; RSS %.1f MB at rest, peak +%.1f MB",
		rows, float64(bytes)/1e6, float64(baseHeap)/1e6, float64(heapGrowth)/1e6, float64(baseRSS)/1e6, float64(rssGrowth)/1e6)
	if rows < 400_000 {
		t.Fatalf("only %d rows: is the large seed there?", rows)
	}
	if bytes < 40<<20 {
		t.Fatalf("only %d bytes exported", bytes)
	}
	if heapGrowth > 8<<20 || rssGrowth > 16<<20 {
		t.Fatalf("memory grew by heap %d / RSS %d bytes while streaming %d bytes: not constant", heapGrowth, rssGrowth, bytes)
	}
}

// liveHeap is the heap the last garbage collection found live.
func liveHeap() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// rss is the process's resident set size (Linux), 0 elsewhere.
func rss(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident uint64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		t.Fatal(err)
	}
	return resident * uint64(os.Getpagesize())
}
