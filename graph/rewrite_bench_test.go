package graph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/seed"
)

// nestedPage is the page the rewritten generated code is fastest on: 50 employees with 20
// entries each, every entry with its project and task (tools/rewritelists).
const nestedPage = `{"query":"{ employees(first: 50) { edges { node { id name email status department { id name } ` +
	`timeEntries(first: 20) { id startTime endTime billable project { id name status } task { id title status } } } } } }"}`

// BenchmarkNestedPage times the GraphQL side of the nested page in process, as an ADMIN handed
// to the handler directly: `-bench NestedPage -benchmem` before and after a change to the rewrite.
// The /fieldMiddleware case installs a pass-through field middleware, so every field takes
// gqlgen's graphql.ResolveField (the path the rewrite falls back to when one is installed).
func BenchmarkNestedPage(b *testing.B) {
	srv, principal := seededServer(b, 50)
	for _, c := range []struct {
		name      string
		intercept bool
	}{{"fastPath", false}, {"fieldMiddleware", true}} {
		gql := httpapi.NewGraphQLServer(srv.Opts)
		if c.intercept {
			gql.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) })
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := postAs(gql, principal, nestedPage)
				if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
					b.Fatalf("%d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkRewrittenFields times the same page from memory (memoryRoot): the generated code's
// share of a request alone, which the database's time hides in BenchmarkNestedPage.
func BenchmarkRewrittenFields(b *testing.B) {
	for _, c := range []struct {
		name      string
		intercept bool
	}{{"fastPath", false}, {"fieldMiddleware", true}} {
		h, principal := newMemoryRoot(50, 20).handler()
		if c.intercept {
			h.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) })
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := postAs(h, principal, nestedPage)
				if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
					b.Fatalf("%d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// seededServer is a server over the demo tenant seeded with employees and a month of their
// entries, and an ADMIN principal of it.
func seededServer(tb testing.TB, employees int) (*apitest.Server, *auth.Principal) {
	tb.Helper()
	srv := apitest.New(tb, apitest.Opts{})
	ctx := context.Background()
	scale := seed.Scale{Name: "page", Employees: employees, Projects: 8, Months: 1, EntriesPerDay: 2}
	_, ok, err := seed.Run(ctx, srv.Store.Pool(), scale, time.Now())
	require.NoError(tb, err)
	require.True(tb, ok)
	tenant, err := srv.Store.TenantBySlug(ctx, seed.DemoTenant)
	require.NoError(tb, err)
	var admin uuid.UUID
	require.NoError(tb, pgx.BeginFunc(ctx, srv.Store.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant.ID.String()); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT id FROM employees WHERE role = 'ADMIN' LIMIT 1`).Scan(&admin)
	}))
	return srv, &auth.Principal{TenantID: tenant.ID, EmployeeID: admin, Roles: []string{"ADMIN"},
		ExpiresAt: time.Now().Add(time.Hour)}
}

// postAs posts a GraphQL request body to h as principal.
func postAs(h http.Handler, principal *auth.Principal, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req = req.WithContext(auth.WithPrincipal(req.Context(), principal))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
