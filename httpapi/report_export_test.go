package httpapi_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/store"
)

type exportBundle struct {
	srv    *apitest.Server
	tenant *store.Tenant
	scope  store.Scope
	byRole map[string]*store.Employee
}

func setupExports(t *testing.T, opts apitest.Opts) *exportBundle {
	t.Helper()
	ctx := context.Background()
	srv := apitest.New(t, opts)
	_, ok, err := seed.Run(ctx, srv.Store.Pool(), seed.Scale{Name: "exports", Employees: 16, Projects: 4, Months: 2, EntriesPerDay: 2},
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.True(t, ok)
	b := &exportBundle{srv: srv, byRole: map[string]*store.Employee{}}
	b.tenant, err = srv.Store.TenantBySlug(ctx, seed.DemoTenant)
	require.NoError(t, err)
	b.scope = store.Scope{TenantID: b.tenant.ID}
	page, err := srv.Store.ListEmployees(ctx, b.scope, store.ListEmployeesParams{}, store.PageParams{First: 100})
	require.NoError(t, err)
	for _, e := range page.Rows {
		if b.byRole[e.Role] == nil {
			b.byRole[e.Role] = e
		}
	}
	return b
}

func (b *exportBundle) token(role string) string {
	return b.srv.Token(b.tenant.ID, b.byRole[role].ID, role)
}

func (b *exportBundle) get(t *testing.T, token, path string, q url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path+"?"+q.Encode(), nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func errorOf(t *testing.T, resp *http.Response) (code, field string) {
	t.Helper()
	var body struct {
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Len(t, body.Errors, 1)
	code, _ = body.Errors[0].Extensions["code"].(string)
	field, _ = body.Errors[0].Extensions["field"].(string)
	return code, field
}

var twoMonths = url.Values{"from": {"2026-09-01"}, "to": {"2026-11-01"}}

func withParams(base url.Values, kv ...string) url.Values {
	q := url.Values{}
	for k, v := range base {
		q[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

// TestExportProductivity: the CSV and JSON-lines exports carry exactly the report's rows (the
// store's pages, in the same order), filtered as asked and within the caller's reach.
func TestExportProductivity(t *testing.T) {
	t.Parallel()
	b := setupExports(t, apitest.Opts{})
	ctx := context.Background()
	all := func(scope store.Scope, p store.ProductivityParams) []*store.ProductivityRow {
		var out []*store.ProductivityRow
		page := store.PageParams{First: 100}
		for {
			got, err := b.srv.Store.ProductivityReport(ctx, scope, p, page)
			require.NoError(t, err)
			out = append(out, got.Rows...)
			if !got.HasNextPage {
				return out
			}
			page.After = store.ProductivityCursor(got.Rows[len(got.Rows)-1])
		}
	}
	from, to := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

	t.Run("CSV", func(t *testing.T) {
		t.Parallel()
		resp := b.get(t, b.token(store.RoleAdmin), httpapi.ExportProductivityCSV, twoMonths)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/csv; charset=utf-8; header=present", resp.Header.Get("Content-Type"))
		require.Contains(t, resp.Header.Get("Content-Disposition"), `filename="productivity.csv"`)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		records, err := csv.NewReader(resp.Body).ReadAll()
		require.NoError(t, err)
		want := all(b.scope, store.ProductivityParams{From: from, To: to, GroupBy: store.GroupByDay})
		require.Equal(t, []string{"employee_id", "period_start", "period_end", "total_seconds", "billable_seconds",
			"total_hours", "billable_hours", "entry_count", "distinct_projects"}, records[0])
		require.Len(t, records, len(want)+1)
		require.Equal(t, strconv.Itoa(len(want)), resp.Header.Get("X-Export-Rows"))
		for i, r := range want {
			require.Equal(t, []string{r.EmployeeID.String(), r.PeriodStart.Format(time.DateOnly), r.PeriodEnd.Format(time.DateOnly),
				strconv.Itoa(r.TotalSeconds), strconv.Itoa(r.BillableSeconds), strconv.FormatFloat(r.TotalHours(), 'f', -1, 64),
				strconv.FormatFloat(r.BillableHours(), 'f', -1, 64), strconv.Itoa(r.EntryCount), strconv.Itoa(r.DistinctProjects)},
				records[i+1])
		}
	})

	t.Run("JSONLinesMonthlyForOneEmployee", func(t *testing.T) {
		t.Parallel()
		employee := b.byRole[store.RoleEmployee].ID
		q := withParams(twoMonths, "groupBy", "MONTH", "employeeId", employee.String(), "from", "2026-09-01T00:00:00Z")
		resp := b.get(t, b.token(store.RoleHR), httpapi.ExportProductivityJSONL, q)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/x-ndjson; charset=utf-8", resp.Header.Get("Content-Type"))
		want := all(b.scope, store.ProductivityParams{From: from, To: to, GroupBy: store.GroupByMonth, EmployeeIDs: []uuid.UUID{employee}})
		require.Len(t, want, 2)
		lines := bufio.NewScanner(resp.Body)
		n := 0
		for lines.Scan() {
			var row struct {
				EmployeeID       string    `json:"employeeId"`
				PeriodStart      time.Time `json:"periodStart"`
				PeriodEnd        time.Time `json:"periodEnd"`
				TotalSeconds     int       `json:"totalSeconds"`
				BillableSeconds  int       `json:"billableSeconds"`
				TotalHours       float64   `json:"totalHours"`
				EntryCount       int       `json:"entryCount"`
				DistinctProjects int       `json:"distinctProjects"`
			}
			require.NoError(t, json.Unmarshal(lines.Bytes(), &row))
			w := want[n]
			require.Equal(t, w.EmployeeID.String(), row.EmployeeID)
			require.True(t, w.PeriodStart.Equal(row.PeriodStart))
			require.True(t, w.PeriodEnd.Equal(row.PeriodEnd))
			require.Equal(t, w.TotalSeconds, row.TotalSeconds)
			require.Equal(t, w.EntryCount, row.EntryCount)
			require.Equal(t, w.DistinctProjects, row.DistinctProjects)
			n++
		}
		require.Equal(t, len(want), n)
	})

	t.Run("Reach", func(t *testing.T) {
		t.Parallel()
		employee := b.byRole[store.RoleEmployee].ID
		resp := b.get(t, b.token(store.RoleEmployee), httpapi.ExportProductivityCSV, twoMonths)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		records, err := csv.NewReader(resp.Body).ReadAll()
		require.NoError(t, err)
		require.Greater(t, len(records), 1)
		for _, rec := range records[1:] {
			require.Equal(t, employee.String(), rec[0], "an EMPLOYEE exports their own rows only")
		}
		// A BI key exports the tenant, like an ADMIN.
		_, biKey, err := b.srv.Store.CreateAPIKey(ctx, store.Scope{TenantID: b.tenant.ID, ActorID: b.byRole[store.RoleAdmin].ID},
			store.APIKeyParams{Name: "BI", Role: store.RoleBI})
		require.NoError(t, err)
		resp = b.get(t, biKey, httpapi.ExportProductivityCSV, twoMonths)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		records, err = csv.NewReader(resp.Body).ReadAll()
		require.NoError(t, err)
		require.Len(t, records, len(all(b.scope, store.ProductivityParams{From: from, To: to}))+1)
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		resp := b.get(t, "", httpapi.ExportProductivityCSV, twoMonths)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		code, _ := errorOf(t, resp)
		require.Equal(t, "UNAUTHENTICATED", code)

		employee := b.byRole[store.RoleEmployee].ID
		_, agentKey, err := b.srv.Store.CreateAPIKey(ctx, store.Scope{TenantID: b.tenant.ID, ActorID: b.byRole[store.RoleAdmin].ID},
			store.APIKeyParams{Name: "Laptop", Role: store.RoleAgent, EmployeeID: &employee})
		require.NoError(t, err)
		for _, token := range []string{agentKey, b.srv.Token(b.tenant.ID, employee, "INTERN")} {
			resp := b.get(t, token, httpapi.ExportProductivityJSONL, twoMonths)
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			code, _ := errorOf(t, resp)
			require.Equal(t, "FORBIDDEN", code)
		}
		resp = b.get(t, b.token(store.RoleAdmin), "/export/employees.csv", twoMonths)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Run("BadParameters", func(t *testing.T) {
		t.Parallel()
		for name, tc := range map[string]struct {
			q     url.Values
			field string
		}{
			"MissingFrom":     {url.Values{"to": {"2026-11-01"}}, "from"},
			"MalformedTo":     {withParams(twoMonths, "to", "november"), "to"},
			"ToBeforeFrom":    {withParams(twoMonths, "to", "2026-08-01"), "to"},
			"NotMidnight":     {withParams(twoMonths, "from", "2026-09-01T10:00:00Z"), "from"},
			"NotAMonth":       {withParams(twoMonths, "groupBy", "MONTH", "to", "2026-10-15"), "to"},
			"NotAMonday":      {withParams(twoMonths, "groupBy", "WEEK"), "from"},
			"UnknownGroupBy":  {withParams(twoMonths, "groupBy", "YEAR"), "groupBy"},
			"BadEmployeeID":   {withParams(twoMonths, "employeeId", "42"), "employeeId"},
			"BadDepartmentID": {withParams(twoMonths, "departmentId", "x"), "departmentId"},
			"UnknownParam":    {withParams(twoMonths, "form", "2026-09-01"), "form"},
			"RepeatedFrom":    {url.Values{"from": {"2026-09-01", "2026-10-01"}, "to": {"2026-11-01"}}, "from"},
			"TooLong":         {withParams(twoMonths, "from", "2016-01-01"), "to"},
			"TooManyEmployees": {withParams(twoMonths, "employeeId",
				strings.TrimSuffix(strings.Repeat(uuid.NewString()+",", store.MaxReportEmployees+1), ",")), "employeeId"},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				resp := b.get(t, b.token(store.RoleAdmin), httpapi.ExportProductivityCSV, tc.q)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Contains(t, resp.Header.Get("Content-Type"), "application/json")
				code, field := errorOf(t, resp)
				require.Equal(t, "BAD_USER_INPUT", code)
				require.Equal(t, tc.field, field)
			})
		}
	})
}

// TestExportBudget: an export is priced by its rows (1 + a point per 100) and charged before any
// row is sent: one the budget cannot pay answers 429 RATE_LIMITED with Retry-After, as GraphQL
// does; one over the maximum an operation may cost answers COMPLEXITY_LIMIT.
func TestExportBudget(t *testing.T) {
	t.Parallel()
	slow := ratelimit.Limit{Burst: 30, Rate: 1, Period: time.Hour}
	tiers := ratelimit.DefaultTiers()
	for role := range tiers.ByRole {
		tiers.ByRole[role] = slow
	}
	tiers.Default, tiers.MaxQueryCost = slow, 25
	b := setupExports(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: tiers}})
	token := b.token(store.RoleAdmin)

	// 16 employees × ~22 working days in October by day: ~350 rows, 5 points.
	october := url.Values{"from": {"2026-10-01"}, "to": {"2026-11-01"}}
	resp := b.get(t, token, httpapi.ExportProductivityCSV, october)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rows, err := strconv.Atoi(resp.Header.Get("X-Export-Rows"))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(1+(rows+99)/100), resp.Header.Get("X-Query-Cost"))
	_, _ = io.Copy(io.Discard, resp.Body)

	// The admin's budget: 30 - 5 = 25 left; five more Octobers spend it.
	refused := false
	for range 6 {
		resp = b.get(t, token, httpapi.ExportProductivityCSV, october)
		if resp.StatusCode == http.StatusTooManyRequests {
			refused = true
			require.NotEmpty(t, resp.Header.Get("Retry-After"))
			code, _ := errorOf(t, resp)
			require.Equal(t, "RATE_LIMITED", code)
			break
		}
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	require.True(t, refused, "the budget ran out")

	// The GraphQL budget is the same one: spent.
	r := b.srv.Do(token, `{ me { id } }`, nil)
	require.NotEmpty(t, r.Errors)
	require.Equal(t, "RATE_LIMITED", r.Errors[0].Code())

	// More than MAX_QUERY_COST (25): two months by day for everyone, ~700 rows, 8 points, is
	// fine; a daily export over one maximum is refused whatever the budget holds.
	big := setupExports(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: func() ratelimit.Tiers {
		t := ratelimit.DefaultTiers()
		t.MaxQueryCost = 3
		return t
	}()}})
	resp = big.get(t, big.token(store.RoleAdmin), httpapi.ExportProductivityCSV, twoMonths)
	code, _ := errorOf(t, resp)
	require.Equal(t, "COMPLEXITY_LIMIT", code)
	require.NotEqual(t, http.StatusOK, resp.StatusCode)
}
