package graph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/store"
)

// BenchmarkWorkloadCPU serves, in process, bench/'s employeesPage (50 employees, each with its
// department, projects and latest 20 entries with their project) and a page of entries whose
// projects' tasks and their assignees are left to the loaders' batching window (nothing
// prefetches them), at 1 and 16 concurrent clients. Besides ns/op and allocs/op it reports the
// process's CPU time (user + system, getrusage) per request: what the server spends, waiting
// included.
func BenchmarkWorkloadCPU(b *testing.B) {
	srv := apitest.New(b, apitest.Opts{})
	token, _ := seedBenchCompany(b, srv)

	queries := []struct{ name, body string }{
		{"employeesPage", `{"query":"{ employees(first: 50) { nodes { id name department { name } projects { id name } timeEntries(first: 20) { id startTime durationSeconds project { id name } } } } }"}`},
		{"batchedTasks", `{"query":"{ timeEntries(first: 100) { nodes { id project { name tasks(first: 5) { title assignee { name } } } } } }"}`},
	}
	do := func(b *testing.B, body string) {
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
			b.Fatalf("%d: %s", rec.Code, rec.Body)
		}
	}
	for _, q := range queries {
		do(b, q.body)
		for _, clients := range []int{1, 16} {
			b.Run(q.name+"/clients="+strconv.Itoa(clients), func(b *testing.B) {
				b.ReportAllocs()
				before := cpuTime()
				if clients == 1 {
					for b.Loop() {
						do(b, q.body)
					}
				} else {
					b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							do(b, q.body)
						}
					})
				}
				b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// seedBenchCompany seeds srv's database with the demo tenant at a benchmark's scale (50
// employees, 8 projects, a month of entries) and returns an ADMIN's token and id.
func seedBenchCompany(b *testing.B, srv *apitest.Server) (string, uuid.UUID) {
	b.Helper()
	ctx := context.Background()
	_, ok, err := seed.Run(ctx, srv.Store.Pool(),
		seed.Scale{Name: "bench", Employees: 50, Projects: 8, Months: 1, EntriesPerDay: 2}, time.Now())
	require.NoError(b, err)
	require.True(b, ok)
	tenant, err := srv.Store.TenantBySlug(ctx, seed.DemoTenant)
	require.NoError(b, err)
	admin, err := srv.Store.FirstEmployeeWithRole(ctx, store.Scope{TenantID: tenant.ID}, store.RoleAdmin)
	require.NoError(b, err)
	return srv.Token(tenant.ID, admin.ID, store.RoleAdmin), admin.ID
}
