package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/store"
)

// cachedReport is a BI dashboard's report: it reads the views only.
const cachedReport = `query MonthlyHours($from: Time!, $to: Time!, $first: Int) {
  productivityReport(filter: {from: $from, to: $to, groupBy: MONTH}, first: $first) {
    nodes { employeeId periodStart totalSeconds billableSeconds }
    pageInfo { hasNextPage endCursor }
    freshness { refreshedAt nextRefreshAt }
  }
}`

var cachedReportVars = map[string]any{"from": "2026-09-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "first": 100}

// httpAnswer is a raw HTTP answer.
type httpAnswer struct {
	status int
	header http.Header
	body   string
}

func (a httpAnswer) etag() string { return a.header.Get("ETag") }

// cachedGET sends a persisted GET by documentId, with If-None-Match when tag is not "".
func cachedGET(t *testing.T, srv *apitest.Server, token, body string, vars map[string]any, tag string) httpAnswer {
	t.Helper()
	raw, err := json.Marshal(vars)
	require.NoError(t, err)
	q := url.Values{"documentId": {"sha256:" + store.OperationID(body)}, "variables": {string(raw)}}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/query?"+q.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if tag != "" {
		req.Header.Set("If-None-Match", tag)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return httpAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// requireCached asserts a full answer with a strong tag and private caching.
func requireCached(t *testing.T, a httpAnswer) {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.NotContains(t, a.body, `"errors"`)
	require.Regexp(t, `^"[A-Za-z0-9_-]{32}"$`, a.etag(), "a strong tag")
	require.Contains(t, a.header.Values("Vary"), "Authorization, Accept")
	require.True(t, strings.HasPrefix(a.header.Get("Cache-Control"), "private, "), a.header.Get("Cache-Control"))
}

func requireUncached(t *testing.T, a httpAnswer) {
	t.Helper()
	require.Equal(t, "no-store", a.header.Get("Cache-Control"), a.body)
	require.Empty(t, a.etag())
}

var maxAge = regexp.MustCompile(`^private, max-age=(\d+)$`)

func register(t *testing.T, srv *apitest.Server, tenant uuid.UUID, bodies ...string) {
	t.Helper()
	var ops []store.PersistedOperationParams
	for i, body := range bodies {
		ops = append(ops, store.PersistedOperationParams{ID: store.OperationID(body), Name: "",
			Type: store.OperationQuery, Body: body})
		if m := regexp.MustCompile(`^query (\w+)`).FindStringSubmatch(body); m != nil {
			ops[i].Name = m[1]
		}
	}
	_, err := srv.Store.RegisterPersistedOperations(context.Background(), store.Scope{TenantID: tenant}, ops)
	require.NoError(t, err)
}

// TestHTTPCaching: persisted GETs of reports carry a tag derived from what they read, and a
// revalidation answers 304 without running the report, until a refresh or a change of reach;
// principals never share tags, live reads and POSTs are never cached, and the rules that come
// before execution still come before a 304.
func TestHTTPCaching(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupReports(t, apitest.Opts{})
	srv := b.srv
	// A periodic refresh schedules the next: max-age runs until then.
	_, err := srv.Store.RefreshReports(ctx, time.Hour)
	require.NoError(t, err)
	live := `query Mine { me { id name } }`
	withProfiles := `query WithNames($from: Time!, $to: Time!) {
  productivityReport(filter: {from: $from, to: $to, groupBy: MONTH}) { nodes { totalSeconds employee { name } } }
}`
	byDepartment := `query ByDepartment($from: Time!, $to: Time!, $d: ID) {
  productivityReport(filter: {from: $from, to: $to, groupBy: MONTH, departmentId: $d}) { nodes { totalSeconds } }
}`
	projects := `query ProjectHours { projectHoursReport { nodes { project { id name budgetHours } totalHours teamSize } } }`
	stale := `query Stale($from: Time!, $to: Time!) {
  productivityReport(filter: {from: $from, to: $to}) { nodes { totalSeconds } freshness { staleSeconds } }
}`
	register(t, srv, b.tenant.ID, cachedReport, live, withProfiles, byDepartment, projects, stale)
	register(t, srv, b.other.ID, cachedReport)

	hr := b.token(store.RoleHR)
	manager := b.token(store.RoleManager)

	t.Run("TagAndMaxAgeUntilTheNextRefresh", func(t *testing.T) {
		a := cachedGET(t, srv, hr, cachedReport, cachedReportVars, "")
		requireCached(t, a)
		m := maxAge.FindStringSubmatch(a.header.Get("Cache-Control"))
		require.NotNil(t, m, a.header.Get("Cache-Control"))
		age, _ := strconv.Atoi(m[1])
		require.InDelta(t, 3600, age, 120, "until the next refresh, an hour away")
		require.Equal(t, a.etag(), cachedGET(t, srv, hr, cachedReport, cachedReportVars, "").etag(), "stable while nothing changes")
	})

	t.Run("RevalidationAnswers304WithoutRunning", func(t *testing.T) {
		full := cachedGET(t, srv, hr, cachedReport, cachedReportVars, "")
		requireCached(t, full)
		srv.Statements.Reset()
		_ = cachedGET(t, srv, hr, cachedReport, cachedReportVars, "")
		ran := srv.Statements.Count()
		srv.Statements.Reset()
		a := cachedGET(t, srv, hr, cachedReport, cachedReportVars, `"other", `+full.etag())
		require.Equal(t, http.StatusNotModified, a.status)
		require.Empty(t, a.body)
		require.Equal(t, full.etag(), a.etag())
		require.Equal(t, full.header.Get("Cache-Control"), a.header.Get("Cache-Control"))
		// The validator's one read (the views' freshness), not the report's statements.
		require.Equal(t, int64(1), srv.Statements.Count(), "a 304 reads the freshness only")
		require.Greater(t, ran, int64(1), "a full answer runs the report")
		// A weak form of the tag matches too (If-None-Match compares weakly).
		require.Equal(t, http.StatusNotModified, cachedGET(t, srv, hr, cachedReport, cachedReportVars, "W/"+full.etag()).status)
		// A manager's 304 also reads their reporting line (their reach is part of the tag).
		mfull := cachedGET(t, srv, manager, cachedReport, cachedReportVars, "")
		requireCached(t, mfull)
		srv.Statements.Reset()
		require.Equal(t, http.StatusNotModified, cachedGET(t, srv, manager, cachedReport, cachedReportVars, mfull.etag()).status)
		require.Equal(t, int64(2), srv.Statements.Count())
	})

	t.Run("VariablesAreInTheTag", func(t *testing.T) {
		full := cachedGET(t, srv, hr, cachedReport, cachedReportVars, "")
		other := map[string]any{"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "first": 100}
		a := cachedGET(t, srv, hr, cachedReport, other, full.etag())
		require.Equal(t, http.StatusOK, a.status)
		require.NotEqual(t, full.etag(), a.etag())
	})

	t.Run("NewTagAfterARefresh", func(t *testing.T) {
		before := cachedGET(t, srv, hr, cachedReport, cachedReportVars, "")
		requireCached(t, before)
		_, err := srv.Store.RefreshReports(ctx, time.Hour)
		require.NoError(t, err)
		after := cachedGET(t, srv, hr, cachedReport, cachedReportVars, before.etag())
		requireCached(t, after)
		require.NotEqual(t, before.etag(), after.etag())
		require.Equal(t, http.StatusNotModified, cachedGET(t, srv, hr, cachedReport, cachedReportVars, after.etag()).status)
	})

	t.Run("NewTagWhenReachChanges", func(t *testing.T) {
		before := cachedGET(t, srv, manager, cachedReport, cachedReportVars, "")
		requireCached(t, before)
		var outside uuid.UUID
		for _, id := range b.everyone {
			if !contains(b.reports, id) {
				outside = id
				break
			}
		}
		require.NotEqual(t, uuid.Nil, outside)
		admin := srv.MFAToken(b.tenant.ID, b.byRole[store.RoleAdmin].ID, store.RoleAdmin)
		r := srv.Do(admin, `mutation($id: ID!, $m: ID!) { updateEmployee(id: $id, input: {managerId: $m}) { id } }`,
			map[string]any{"id": outside.String(), "m": b.byRole[store.RoleManager].ID.String()})
		require.Empty(t, r.Errors)
		after := cachedGET(t, srv, manager, cachedReport, cachedReportVars, before.etag())
		requireCached(t, after)
		require.NotEqual(t, before.etag(), after.etag(), "the manager gained a report")
		require.Contains(t, after.body, outside.String(), "and sees their figures")
		require.NotContains(t, before.body, outside.String())
	})

	t.Run("PrincipalsNeverShareATag", func(t *testing.T) {
		var secondManager *store.Employee
		page, err := srv.Store.ListEmployees(ctx, b.scope, store.ListEmployeesParams{}, store.PageParams{First: 100})
		require.NoError(t, err)
		for _, e := range page.Rows {
			if e.Role == store.RoleManager && e.ID != b.byRole[store.RoleManager].ID {
				secondManager = e
				break
			}
		}
		require.NotNil(t, secondManager, "the seed has two managers")
		otherPage, err := srv.Store.ListEmployees(ctx, store.Scope{TenantID: b.other.ID}, store.ListEmployeesParams{}, store.PageParams{First: 1})
		require.NoError(t, err)
		principals := map[string]string{
			"HR":            hr,
			"ADMIN":         b.token(store.RoleAdmin),
			"Manager":       manager,
			"SecondManager": srv.Token(b.tenant.ID, secondManager.ID, store.RoleManager),
			"Employee":      b.token(store.RoleEmployee),
			"OtherTenantHR": srv.Token(b.other.ID, otherPage.Rows[0].ID, store.RoleHR),
		}
		answers := map[string]httpAnswer{}
		for name, token := range principals {
			answers[name] = cachedGET(t, srv, token, cachedReport, cachedReportVars, "")
			requireCached(t, answers[name])
		}
		for name, token := range principals {
			for other, a := range answers {
				if other == name {
					continue
				}
				require.NotEqual(t, answers[name].etag(), a.etag(), "%s and %s", name, other)
				// Another principal's tag is never answered with a 304.
				got := cachedGET(t, srv, token, cachedReport, cachedReportVars, a.etag())
				require.Equal(t, http.StatusOK, got.status, "%s sent %s's tag", name, other)
				require.Equal(t, answers[name].etag(), got.etag())
			}
		}
		require.NotEqual(t, answers["Manager"].body, answers["SecondManager"].body, "different reach, different figures")
		require.NotEqual(t, answers["HR"].body, answers["OtherTenantHR"].body)
	})

	t.Run("LiveReadsAreNeverCached", func(t *testing.T) {
		requireUncached(t, cachedGET(t, srv, hr, live, nil, ""))
		requireUncached(t, cachedGET(t, srv, hr, withProfiles, map[string]any{"from": "2026-09-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, ""))
		// Who is in a department is read live.
		vars := map[string]any{"from": "2026-09-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}
		requireCached(t, cachedGET(t, srv, hr, byDepartment, vars, ""))
		vars["d"] = uuid.NewString()
		requireUncached(t, cachedGET(t, srv, hr, byDepartment, vars, ""))
	})

	t.Run("ProjectRowsAreRevalidatedEveryTime", func(t *testing.T) {
		before := cachedGET(t, srv, hr, projects, nil, "")
		requireCached(t, before)
		require.Equal(t, "private, no-cache", before.header.Get("Cache-Control"), "project rows are live: revalidate each use")
		require.Equal(t, http.StatusNotModified, cachedGET(t, srv, hr, projects, nil, before.etag()).status)
		list, err := srv.Store.ListProjects(ctx, b.scope, store.ListProjectsParams{}, store.PageParams{First: 1})
		require.NoError(t, err)
		admin := srv.MFAToken(b.tenant.ID, b.byRole[store.RoleAdmin].ID, store.RoleAdmin)
		r := srv.Do(admin, `mutation($id: ID!) { updateProject(id: $id, input: {name: "Renamed"}) { id } }`,
			map[string]any{"id": list.Rows[0].ID.String()})
		require.Empty(t, r.Errors)
		after := cachedGET(t, srv, hr, projects, nil, before.etag())
		requireCached(t, after)
		require.Contains(t, after.body, "Renamed")
	})

	t.Run("StaleSecondsGetsAWeakTag", func(t *testing.T) {
		a := cachedGET(t, srv, hr, stale, map[string]any{"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "")
		require.Equal(t, http.StatusOK, a.status)
		require.True(t, strings.HasPrefix(a.etag(), `W/"`), a.etag())
	})

	t.Run("POSTIsNeverCached", func(t *testing.T) {
		raw, err := json.Marshal(map[string]any{"documentId": "sha256:" + store.OperationID(cachedReport), "variables": cachedReportVars})
		require.NoError(t, err)
		full := cachedGET(t, srv, hr, cachedReport, cachedReportVars, "")
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", strings.NewReader(string(raw)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+hr)
		req.Header.Set("If-None-Match", full.etag())
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		require.Empty(t, resp.Header.Get("ETag"))
	})

	t.Run("TextGETIsNeverCached", func(t *testing.T) {
		raw, _ := json.Marshal(cachedReportVars)
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/query?"+url.Values{"query": {cachedReport}, "variables": {string(raw)}}.Encode(), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+hr)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	})

	t.Run("BIKeysStillRunOnlyRegisteredOperations", func(t *testing.T) {
		_, bi, err := srv.Store.CreateAPIKey(ctx, b.scope, store.APIKeyParams{Name: "Looker", Role: store.RoleBI})
		require.NoError(t, err)
		full := cachedGET(t, srv, bi, cachedReport, cachedReportVars, "")
		requireCached(t, full)
		require.Equal(t, http.StatusNotModified, cachedGET(t, srv, bi, cachedReport, cachedReportVars, full.etag()).status)
		// The same text sent as text, with the tag: refused before anything, not a 304.
		raw, _ := json.Marshal(cachedReportVars)
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/query?"+url.Values{"query": {cachedReport}, "variables": {string(raw)}}.Encode(), nil)
		require.NoError(t, err)
		req.Header.Set("If-None-Match", full.etag())
		requireCode(t, sendGraphQL(t, req, bi), http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
		// An id in the APQ cache (sent by someone who may send text) but not registered.
		apq := cachedReport + "\n"
		requireData(t, getGraphQL(t, srv, hr, map[string]any{"query": apq, "extensions": pq(store.OperationID(apq)), "variables": cachedReportVars}))
		req, err = http.NewRequest(http.MethodGet, srv.URL+"/query?"+url.Values{"extensions": {mustJSON(t, pq(store.OperationID(apq)))},
			"variables": {string(raw)}}.Encode(), nil)
		require.NoError(t, err)
		req.Header.Set("If-None-Match", full.etag())
		requireCode(t, sendGraphQL(t, req, bi), http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
	})

	t.Run("RolesWithoutReportsGetNo304", func(t *testing.T) {
		agent := srv.Token(b.tenant.ID, b.byRole[store.RoleEmployee].ID, "AGENT")
		a := cachedGET(t, srv, agent, cachedReport, cachedReportVars, "")
		require.Contains(t, a.body, "FORBIDDEN")
		requireUncached(t, a)
	})

	t.Run("ARevalidationIsCharged", func(t *testing.T) {
		full := cachedGET(t, srv, hr, cachedReport, cachedReportVars, "")
		var priced struct {
			Extensions struct {
				Cost struct{ RequestedQueryCost int }
			}
		}
		require.NoError(t, json.Unmarshal([]byte(full.body), &priced))
		price := priced.Extensions.Cost.RequestedQueryCost
		require.Positive(t, price)
		// A key whose budget pays the report once, and one revalidation a second.
		_, bi, err := srv.Store.CreateAPIKey(ctx, b.scope, store.APIKeyParams{Name: "Tight", Role: store.RoleBI,
			CostBudget: &store.CostBudget{Maximum: price + 1, RestorePerSecond: 1}})
		require.NoError(t, err)
		first := cachedGET(t, srv, bi, cachedReport, cachedReportVars, "")
		requireCached(t, first)
		limited := false
		for range 6 {
			a := cachedGET(t, srv, bi, cachedReport, cachedReportVars, first.etag())
			if a.status == http.StatusTooManyRequests {
				require.Contains(t, a.body, "RATE_LIMITED")
				require.NotEmpty(t, a.header.Get("Retry-After"))
				requireUncached(t, a)
				limited = true
				break
			}
			require.Equal(t, http.StatusNotModified, a.status, a.body)
		}
		require.True(t, limited, "each 304 costs a point")
	})
}

func contains(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}
