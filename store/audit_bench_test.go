package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// BenchmarkAuditOverhead is the audit trail's price per mutation: the same store write (an
// updateTask, in its transaction) without and with the mutation's pending entry in its context
// (the check that the transaction wrote, the tenant head's lock, the entry and the head in one
// statement). It reports the p50 and p95 of each; the overhead is the difference of the p50s.
// `go test -run '^$' -bench AuditOverhead -benchtime 2000x ./store/`
func BenchmarkAuditOverhead(b *testing.B) {
	ctx := context.Background()
	s := testdb.Open(b, store.Opts{})
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(b, err)
	scope := store.Scope{TenantID: tenant.ID}
	p, err := s.CreateProject(ctx, scope, store.ProjectParams{Name: ptr("Apollo")})
	require.NoError(b, err)
	task, err := s.CreateTask(ctx, scope, store.TaskParams{ProjectID: &p.ID, Title: ptr("t")})
	require.NoError(b, err)
	for _, audited := range []bool{false, true} {
		b.Run(fmt.Sprintf("audited=%v", audited), func(b *testing.B) {
			durations := make([]time.Duration, 0, b.N)
			for i := 0; b.Loop(); i++ {
				c := ctx
				if audited {
					c = store.WithPendingAudit(ctx, &store.PendingAudit{Entry: store.AuditEntry{Action: "updateTask",
						ChangedFields: []string{"title"}}})
				}
				start := time.Now()
				_, err := s.UpdateTask(c, scope, task.ID, store.TaskParams{Title: ptr(fmt.Sprintf("t%d", i))})
				durations = append(durations, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportPercentiles(b, durations)
		})
	}
}

// BenchmarkAuditContention appends entries from 8 writers at once, all to one tenant (they take
// turns on its head) or each to its own (they do not wait for each other).
// `go test -run '^$' -bench AuditContention -benchtime 2000x ./store/`
func BenchmarkAuditContention(b *testing.B) {
	ctx := context.Background()
	s := testdb.Open(b, store.Opts{MaxConns: 10})
	var scopes []store.Scope
	for i := range 8 {
		tenant, err := s.CreateTenant(ctx, fmt.Sprintf("t%d", i), "T")
		require.NoError(b, err)
		scopes = append(scopes, store.Scope{TenantID: tenant.ID})
	}
	for _, shared := range []bool{true, false} {
		b.Run(fmt.Sprintf("oneTenant=%v", shared), func(b *testing.B) {
			var mu sync.Mutex
			var all []time.Duration
			var wg sync.WaitGroup
			per := max(1, b.N/8)
			b.ResetTimer()
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					scope := scopes[w]
					if shared {
						scope = scopes[0]
					}
					local := make([]time.Duration, 0, per)
					for range per {
						start := time.Now()
						if err := s.AppendAudit(ctx, scope, store.AuditEntry{Action: "createTimeEntry"}); err != nil {
							b.Error(err)
							return
						}
						local = append(local, time.Since(start))
					}
					mu.Lock()
					all = append(all, local...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			b.StopTimer()
			reportPercentiles(b, all)
		})
	}
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d[len(d)*95/100].Microseconds()), "p95-µs")
}
