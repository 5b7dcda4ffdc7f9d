package graph_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/config"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/store"
)

// BenchmarkPIIFields serves, in process through the real handler, the employees page (50
// rows) and one employee by id, each with and without the four personal data fields, as HR
// (the last four: the ciphertexts are read and decrypted, or found in the keyring's cache) and
// as a MANAGER (masks: nothing is read but their own row's), at 16 concurrent clients. The
// target: the PII variant under 10% slower than the plain one. The …/interleaved sub-benchmarks
// measure that: both variants in alternating phases of one run, reporting the overhead in
// process CPU (server and client, not PostgreSQL's) and in wall time. The …/plain and …/pii
// ones report each variant's ns/op, CPU per request (cpu-ns/op) and allocations. The demo
// tenant is seeded with fake personal data through the server's keyring.
func BenchmarkPIIFields(b *testing.B) {
	// The collector's target as `serve` sets it (config.DefaultGCPercent), not the test binary's.
	defer debug.SetGCPercent(debug.SetGCPercent(config.DefaultGCPercent))
	srv := apitest.New(b, apitest.Opts{})
	ctx := context.Background()
	_, ok, err := seed.RunWithPII(ctx, srv.Store.Pool(),
		seed.Scale{Name: "bench", Employees: 50, Projects: 8, Months: 1, EntriesPerDay: 2}, time.Now(), srv.Keyring)
	require.NoError(b, err)
	require.True(b, ok)
	tenant, err := srv.Store.TenantBySlug(ctx, seed.DemoTenant)
	require.NoError(b, err)
	scope := store.Scope{TenantID: tenant.ID}
	hr, err := srv.Store.FirstEmployeeWithRole(ctx, scope, store.RoleHR)
	require.NoError(b, err)
	manager, err := srv.Store.FirstEmployeeWithRole(ctx, scope, store.RoleManager)
	require.NoError(b, err)
	reports, err := srv.Store.ReportsOf(ctx, scope, manager.ID)
	require.NoError(b, err)
	require.NotEmpty(b, reports)
	target := reports[0] // in both principals' reach: HR sees the last four, the manager masks

	const pii = ` ssn taxId passportNumber bankAccount`
	page := `{ employees(first: 50) { nodes { id name email role status department { name } manager { name }%s } } }`
	byID := `{ employee(id: \"` + target.String() + `\") { id name email role status department { name }%s } }`
	tokens := map[string]string{"HR": srv.Token(tenant.ID, hr.ID, "HR"), "MANAGER": srv.Token(tenant.ID, manager.ID, "MANAGER")}
	do := func(b *testing.B, token, query string) {
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"`+query+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		// Bytes, not String: the client's copy of the body would grow with the PII variant's.
		if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
			b.Fatalf("%d: %s", rec.Code, rec.Body)
		}
	}
	const clients = 16
	// Over loopback HTTP as a client sees the API: a real listener, connections kept alive.
	httpSrv := httptest.NewServer(srv.Handler)
	b.Cleanup(httpSrv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	overHTTP := func(b *testing.B, token, query string) {
		req, err := http.NewRequest(http.MethodPost, httpSrv.URL+"/query", strings.NewReader(`{"query":"`+query+`"}`))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"errors"`)) {
			b.Fatalf("%d %v: %s", resp.StatusCode, err, body)
		}
	}
	transports := []struct {
		name string
		do   func(b *testing.B, token, query string)
	}{{"interleaved", do}, {"interleaved-http", overHTTP}}
	for _, q := range []struct{ name, shape string }{{"employeesPage", page}, {"employeeByID", byID}} {
		for _, role := range []string{"HR", "MANAGER"} {
			for _, t := range transports {
				queries := [2]string{strings.Replace(q.shape, "%s", "", 1), strings.Replace(q.shape, "%s", pii, 1)}
				b.Run(q.name+"/"+role+"/"+t.name+"/clients="+strconv.Itoa(clients), func(b *testing.B) {
					interleaved(b, clients, queries, func(query string) { t.do(b, tokens[role], query) })
				})
			}
			for _, variant := range []string{"plain", "pii"} {
				fields := ""
				if variant == "pii" {
					fields = pii
				}
				query := strings.Replace(q.shape, "%s", fields, 1)
				token := tokens[role]
				do(b, token, query)
				b.Run(q.name+"/"+role+"/"+variant+"/clients="+strconv.Itoa(clients), func(b *testing.B) {
					b.ReportAllocs()
					before := cpuTime()
					b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							do(b, token, query)
						}
					})
					b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// interleaved serves queries[0] (plain) and queries[1] (with personal data) from clients
// goroutines in 40 alternating phases, and reports the second's overhead over the first in
// process CPU (server and client, not PostgreSQL's) and in wall time. The machine's drift
// between separate runs (up to 50% here) weighs on both alike this way, so the overhead is
// measured to a few percent where separate runs could not tell 10%.
func interleaved(b *testing.B, clients int, queries [2]string, do func(query string)) {
	const rounds = 20
	perRound := max(clients, b.N/rounds)
	var cpu, wall [2]time.Duration
	for r := range rounds {
		for k := range 2 {
			v := (r + k) % 2 // plain first in even rounds, PII first in odd ones
			start, t0 := cpuTime(), time.Now()
			var left atomic.Int64
			left.Store(int64(perRound))
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						do(queries[v])
					}
				})
			}
			wg.Wait()
			cpu[v] += cpuTime() - start
			wall[v] += time.Since(t0)
		}
	}
	n := float64(rounds * perRound)
	b.ReportMetric(float64(cpu[0].Nanoseconds())/n, "plain-cpu-ns/req")
	b.ReportMetric(float64(cpu[1].Nanoseconds())/n, "pii-cpu-ns/req")
	b.ReportMetric((float64(cpu[1])/float64(cpu[0])-1)*100, "cpu-overhead-%")
	b.ReportMetric((float64(wall[1])/float64(wall[0])-1)*100, "wall-overhead-%")
}
