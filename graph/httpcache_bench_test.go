package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/store"
)

// BenchmarkPersistedGETRevalidation: a BI dashboard's persisted GET of a report (HR's reach,
// 24 employees × 2 months by month, 48 rows) through the real handler over loopback HTTP,
// answered in full and answered 304 Not Modified on revalidation (If-None-Match with the tag
// the full answer carried).
func BenchmarkPersistedGETRevalidation(b *testing.B) {
	ctx := context.Background()
	srv := apitest.New(b, apitest.Opts{})
	_, ok, err := seed.Run(ctx, srv.Store.Pool(), seed.Scale{Name: "reports", Employees: 24, Projects: 5, Months: 2, EntriesPerDay: 2}, reportAnchor)
	require.NoError(b, err)
	require.True(b, ok)
	_, err = srv.Store.RefreshReports(ctx, time.Hour)
	require.NoError(b, err)
	tenant, err := srv.Store.TenantBySlug(ctx, seed.DemoTenant)
	require.NoError(b, err)
	page, err := srv.Store.ListEmployees(ctx, store.Scope{TenantID: tenant.ID}, store.ListEmployeesParams{}, store.PageParams{First: 1})
	require.NoError(b, err)
	_, err = srv.Store.RegisterPersistedOperations(ctx, store.Scope{TenantID: tenant.ID}, []store.PersistedOperationParams{{
		ID: store.OperationID(cachedReport), Name: "MonthlyHours", Type: store.OperationQuery, Body: cachedReport}})
	require.NoError(b, err)
	token := srv.Token(tenant.ID, page.Rows[0].ID, store.RoleHR)
	raw, err := json.Marshal(cachedReportVars)
	require.NoError(b, err)
	target := srv.URL + "/query?" + url.Values{"documentId": {"sha256:" + store.OperationID(cachedReport)}, "variables": {string(raw)}}.Encode()
	do := func(b *testing.B, tag string, want int) http.Header {
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if tag != "" {
			req.Header.Set("If-None-Match", tag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("%d %s", resp.StatusCode, body)
		}
		return resp.Header
	}
	tag := do(b, "", http.StatusOK).Get("ETag")
	require.NotEmpty(b, tag)
	for _, c := range []struct {
		name string
		tag  string
		want int
	}{{"Full", "", http.StatusOK}, {"Revalidated304", tag, http.StatusNotModified}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				do(b, c.tag, c.want)
			}
		})
	}
}
