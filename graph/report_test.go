package graph_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/store"
)

// reportBundle is a server over seeded data (two months of entries before reportAnchor for the
// demo tenant, and a second tenant), with an employee of each role of the demo tenant.
type reportBundle struct {
	srv      *apitest.Server
	tenant   *store.Tenant
	other    *store.Tenant
	scope    store.Scope // the demo tenant, whole reach
	byRole   map[string]*store.Employee
	reports  []uuid.UUID // the MANAGER's reach: their reports and themselves
	everyone []uuid.UUID
}

var reportAnchor = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func setupReports(t *testing.T, opts apitest.Opts) *reportBundle {
	t.Helper()
	ctx := context.Background()
	srv := apitest.New(t, opts)
	_, ok, err := seed.Run(ctx, srv.Store.Pool(), seed.Scale{Name: "reports", Employees: 24, Projects: 5, Months: 2, EntriesPerDay: 2}, reportAnchor)
	require.NoError(t, err)
	require.True(t, ok)
	b := &reportBundle{srv: srv, byRole: map[string]*store.Employee{}}
	b.tenant, err = srv.Store.TenantBySlug(ctx, seed.DemoTenant)
	require.NoError(t, err)
	b.other, err = srv.Store.TenantBySlug(ctx, seed.OtherTenant)
	require.NoError(t, err)
	b.scope = store.Scope{TenantID: b.tenant.ID}
	page, err := srv.Store.ListEmployees(ctx, b.scope, store.ListEmployeesParams{}, store.PageParams{First: 100})
	require.NoError(t, err)
	for _, e := range page.Rows {
		b.everyone = append(b.everyone, e.ID)
		if b.byRole[e.Role] == nil {
			b.byRole[e.Role] = e
		}
	}
	manager := b.byRole[store.RoleManager]
	b.reports, err = srv.Store.ReportsOf(ctx, b.scope, manager.ID)
	require.NoError(t, err)
	require.NotEmpty(t, b.reports, "the seed gives managers reports")
	b.reports = append(b.reports, manager.ID)
	return b
}

func (b *reportBundle) token(role string) string {
	return b.srv.Token(b.tenant.ID, b.byRole[role].ID, role)
}

// allProductivity pages through the store's report.
func allProductivity(t *testing.T, s *store.Store, scope store.Scope, p store.ProductivityParams) []store.ProductivityRow {
	t.Helper()
	var out []store.ProductivityRow
	page := store.PageParams{First: 100}
	for {
		got, err := s.ProductivityReport(context.Background(), scope, p, page)
		require.NoError(t, err)
		for _, r := range got.Rows {
			out = append(out, *r)
		}
		if !got.HasNextPage {
			return out
		}
		page.After = store.ProductivityCursor(got.Rows[len(got.Rows)-1])
	}
}

type reportRange struct {
	groupBy  string
	from, to time.Time
}

var reportRanges = []reportRange{
	{store.GroupByDay, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), reportAnchor},
	{store.GroupByWeek, time.Date(2026, 8, 31, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)},
	{store.GroupByMonth, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), reportAnchor},
	// A part of the data: October only, by day.
	{store.GroupByDay, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), reportAnchor},
}

// TestReportsEqualLiveFigures: after the refresh the seed makes, every report read from the
// views equals the same report computed from time_entries, for every groupBy, for the whole
// tenant and within a manager's reach; and through GraphQL too.
func TestReportsEqualLiveFigures(t *testing.T) {
	t.Parallel()
	b := setupReports(t, apitest.Opts{})
	s := b.srv.Store
	managerScope := b.scope
	managerScope.Visible = b.reports
	for _, rr := range reportRanges {
		for name, scope := range map[string]store.Scope{"Tenant": b.scope, "Manager": managerScope} {
			t.Run(fmt.Sprintf("%s/%s/%s", rr.groupBy, rr.from.Format(time.DateOnly), name), func(t *testing.T) {
				t.Parallel()
				p := store.ProductivityParams{From: rr.from, To: rr.to, GroupBy: rr.groupBy}
				view := allProductivity(t, s, scope, p)
				p.Live = true
				live := allProductivity(t, s, scope, p)
				require.NotEmpty(t, live)
				require.Equal(t, live, view)
				for _, r := range view {
					require.False(t, r.PeriodStart.Before(rr.from), "a row before the range")
					require.True(t, r.PeriodStart.Before(rr.to), "a row after the range")
					if scope.Visible != nil {
						require.Contains(t, scope.Visible, r.EmployeeID)
					}
				}
			})
		}
	}

	t.Run("ProjectHours", func(t *testing.T) {
		t.Parallel()
		oct, nov := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), reportAnchor
		for _, scope := range []store.Scope{b.scope, managerScope} {
			for _, p := range []store.ProjectHoursParams{{}, {From: oct}, {From: oct, To: nov}, {Status: apitest.Ptr(store.ProjectActive)}} {
				view, err := s.ProjectHoursReport(context.Background(), scope, p, store.PageParams{First: 100})
				require.NoError(t, err)
				p.Live = true
				live, err := s.ProjectHoursReport(context.Background(), scope, p, store.PageParams{First: 100})
				require.NoError(t, err)
				require.NotEmpty(t, live.Rows)
				require.Equal(t, live, view, "%+v", p)
			}
		}
	})

	t.Run("GraphQL", func(t *testing.T) {
		t.Parallel()
		for _, rr := range reportRanges[:3] {
			live := allProductivity(t, s, b.scope, store.ProductivityParams{From: rr.from, To: rr.to, GroupBy: rr.groupBy, Live: true})
			got := graphqlProductivity(t, b.srv, b.token(store.RoleAdmin), rr)
			require.Len(t, got, len(live))
			for i, r := range live {
				require.Equal(t, r.EmployeeID.String(), got[i].EmployeeID)
				require.True(t, r.PeriodStart.Equal(got[i].PeriodStart))
				require.True(t, r.PeriodEnd.Equal(got[i].PeriodEnd))
				require.Equal(t, r.TotalSeconds, got[i].TotalSeconds)
				require.Equal(t, r.BillableSeconds, got[i].BillableSeconds)
				require.Equal(t, r.EntryCount, got[i].EntryCount)
				require.Equal(t, r.DistinctProjects, got[i].DistinctProjects)
				require.InDelta(t, r.TotalHours(), got[i].TotalHours, 1e-9)
			}
		}
	})
}

type gqlProductivityRow struct {
	EmployeeID       string `json:"employeeId"`
	Employee         *struct{ ID string }
	PeriodStart      time.Time `json:"periodStart"`
	PeriodEnd        time.Time `json:"periodEnd"`
	TotalSeconds     int       `json:"totalSeconds"`
	BillableSeconds  int       `json:"billableSeconds"`
	TotalHours       float64   `json:"totalHours"`
	EntryCount       int       `json:"entryCount"`
	DistinctProjects int       `json:"distinctProjects"`
}

const productivityQuery = `query($f: ProductivityReportFilter!, $after: String) {
  productivityReport(filter: $f, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    freshness { refreshedAt staleSeconds nextRefreshAt }
    nodes { employeeId employee { id } periodStart periodEnd totalSeconds billableSeconds totalHours entryCount distinctProjects }
  }
}`

// graphqlProductivity pages through productivityReport as token.
func graphqlProductivity(t *testing.T, srv *apitest.Server, token string, rr reportRange, filter ...map[string]any) []gqlProductivityRow {
	t.Helper()
	f := map[string]any{"from": rr.from, "to": rr.to, "groupBy": rr.groupBy}
	for _, extra := range filter {
		for k, v := range extra {
			f[k] = v
		}
	}
	var out []gqlProductivityRow
	var after any
	for {
		var data struct {
			ProductivityReport struct {
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
				Freshness struct {
					RefreshedAt  time.Time
					StaleSeconds int
				}
				Nodes []gqlProductivityRow
			}
		}
		srv.MustData(token, productivityQuery, map[string]any{"f": f, "after": after}, &data)
		require.False(t, data.ProductivityReport.Freshness.RefreshedAt.IsZero())
		out = append(out, data.ProductivityReport.Nodes...)
		if !data.ProductivityReport.PageInfo.HasNextPage {
			return out
		}
		after = data.ProductivityReport.PageInfo.EndCursor
	}
}

// TestReportReach: reports sum what each principal may see, as time entries do: an EMPLOYEE
// their own rows, a MANAGER their reports' and their own, ADMIN, HR, BI and AUDITOR the tenant's
// (an AUDITOR without the profiles); AGENT keys and unknown roles nothing; and never another
// tenant's rows, whatever ids are asked for.
func TestReportReach(t *testing.T) {
	t.Parallel()
	b := setupReports(t, apitest.Opts{})
	ctx := context.Background()
	month := reportRanges[2]
	_, biKey, err := b.srv.Store.CreateAPIKey(ctx, store.Scope{TenantID: b.tenant.ID, ActorID: b.byRole[store.RoleAdmin].ID},
		store.APIKeyParams{Name: "BI", Role: store.RoleBI})
	require.NoError(t, err)
	employee := b.byRole[store.RoleEmployee].ID
	employeesOf := func(rows []gqlProductivityRow) []uuid.UUID {
		var ids []uuid.UUID
		for _, r := range rows {
			id := uuid.MustParse(r.EmployeeID)
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		return ids
	}
	sorted := func(ids []uuid.UUID) []uuid.UUID {
		// Employees with time only (the seed gives everyone time).
		out := slices.Clone(ids)
		slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		return out
	}

	for _, tc := range []struct {
		name, token string
		want        []uuid.UUID
		profiles    bool
	}{
		{"Admin", b.token(store.RoleAdmin), b.everyone, true},
		{"HR", b.token(store.RoleHR), b.everyone, true},
		{"BI", biKey, b.everyone, true},
		{"Auditor", b.token(store.RoleAuditor), b.everyone, false},
		{"Manager", b.token(store.RoleManager), b.reports, true},
		{"Employee", b.token(store.RoleEmployee), []uuid.UUID{employee}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows := graphqlProductivity(t, b.srv, tc.token, month)
			require.Equal(t, sorted(tc.want), employeesOf(rows))
			for _, r := range rows {
				if tc.profiles {
					require.NotNil(t, r.Employee, "a profile in reach")
				} else if r.Employee != nil {
					require.Equal(t, b.byRole[store.RoleAuditor].ID.String(), r.Employee.ID, "an AUDITOR's profile reach is their own")
				}
			}
			// Asking for someone out of reach, or another tenant's employee, reads as nothing.
			var foreign []string
			page, err := b.srv.Store.ListEmployees(ctx, store.Scope{TenantID: b.other.ID}, store.ListEmployeesParams{}, store.PageParams{First: 5})
			require.NoError(t, err)
			for _, e := range page.Rows {
				foreign = append(foreign, e.ID.String())
			}
			require.Empty(t, graphqlProductivity(t, b.srv, tc.token, month, map[string]any{"employeeIds": foreign}))
			// Projects: hours within reach only.
			var data struct {
				ProjectHoursReport struct {
					Nodes []struct{ TotalSeconds, TeamSize int }
				}
			}
			b.srv.MustData(tc.token, `{ projectHoursReport(first: 100) { nodes { totalSeconds teamSize } } }`, nil, &data)
			team := 0
			for _, n := range data.ProjectHoursReport.Nodes {
				team = max(team, n.TeamSize)
			}
			require.LessOrEqual(t, team, len(tc.want))
		})
	}

	t.Run("OtherTenant", func(t *testing.T) {
		t.Parallel()
		page, err := b.srv.Store.ListEmployees(ctx, store.Scope{TenantID: b.other.ID}, store.ListEmployeesParams{}, store.PageParams{First: 1})
		require.NoError(t, err)
		rows := graphqlProductivity(t, b.srv, b.srv.Token(b.other.ID, page.Rows[0].ID, store.RoleAdmin), month)
		require.NotEmpty(t, rows)
		for _, id := range employeesOf(rows) {
			require.NotContains(t, b.everyone, id, "another tenant's rows")
		}
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		_, agentKey, err := b.srv.Store.CreateAPIKey(ctx, store.Scope{TenantID: b.tenant.ID, ActorID: b.byRole[store.RoleAdmin].ID},
			store.APIKeyParams{Name: "Laptop", Role: store.RoleAgent, EmployeeID: &employee})
		require.NoError(t, err)
		for _, token := range []string{agentKey, b.srv.Token(b.tenant.ID, employee, "INTERN")} {
			r := b.srv.Do(token, `{ projectHoursReport { nodes { totalHours } } }`, nil)
			require.NotEmpty(t, r.Errors)
			require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		for field, f := range map[string]map[string]any{
			"from":    {"from": "2026-09-01T12:00:00Z", "to": "2026-10-01T00:00:00Z", "groupBy": "DAY"},
			"to":      {"from": "2026-09-01T00:00:00Z", "to": "2026-10-15T00:00:00Z", "groupBy": "MONTH"},
			"to ":     {"from": "2026-09-01T00:00:00Z", "to": "2020-01-01T00:00:00Z", "groupBy": "DAY"},
			"from  ":  {"from": "2026-09-01T00:00:00Z", "to": "2026-10-05T00:00:00Z", "groupBy": "WEEK"},
			"to   ":   {"from": "2016-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "groupBy": "MONTH"},
			"after":   {"from": "2026-09-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"},
			"first":   {"from": "2026-09-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"},
			"groupBy": {"from": "2026-09-01T00:00:00Z", "to": "2026-10-01T00:00:00Z", "groupBy": "YEAR"},
		} {
			vars := map[string]any{"f": f}
			switch field {
			case "after":
				vars["after"] = "not-a-cursor"
			case "first":
				vars["first"] = 1000
			}
			r := b.srv.Do(b.token(store.RoleAdmin), `query($f: ProductivityReportFilter!, $first: Int = 20, $after: String) {
				productivityReport(filter: $f, first: $first, after: $after) { nodes { totalSeconds } } }`, vars)
			require.NotEmpty(t, r.Errors, field)
			if field == "groupBy" { // an enum the schema does not know: a validation error
				continue
			}
			require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), "%s: %s", field, r.Errors[0].Message)
		}
	})
}

// TestReportRolesMatchSchema: /export/ admits the roles the schema's @hasRole admits on the
// report fields.
func TestReportRolesMatchSchema(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, name := range []string{"productivityReport", "projectHoursReport"} {
		f := schema.Types["Query"].Fields.ForName(name)
		require.NotNil(t, f)
		var roles []string
		for _, v := range f.Directives.ForName("hasRole").Arguments.ForName("any").Value.Children {
			roles = append(roles, v.Value.Raw)
		}
		require.ElementsMatch(t, policy.ReportRoles, roles, name)
	}
}

// TestRefreshDoesNotBlockReaders: a refresh held open (its transaction not committed) leaves
// readers running at full speed on the previous figures; they see the new ones once it commits.
func TestRefreshDoesNotBlockReaders(t *testing.T) {
	t.Parallel()
	b := setupReports(t, apitest.Opts{})
	ctx := context.Background()
	s := b.srv.Store
	employee := b.byRole[store.RoleEmployee]
	day := reportRange{store.GroupByDay, time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), reportAnchor}
	p := store.ProductivityParams{From: day.from, To: day.to, GroupBy: day.groupBy, EmployeeIDs: []uuid.UUID{employee.ID}}
	before := allProductivity(t, s, b.scope, p)

	// A Saturday entry (the seed tracks weekdays only) the refresh will count.
	projects, err := s.ProjectsByEmployeeIDs(ctx, b.scope, []uuid.UUID{employee.ID}, 1)
	require.NoError(t, err)
	start := time.Date(2026, 10, 31, 9, 0, 0, 0, time.UTC)
	_, err = s.CreateTimeEntry(ctx, b.scope, store.TimeEntryParams{EmployeeID: &employee.ID, ProjectID: &projects[0].Project.ID,
		StartTime: &start, EndTime: apitest.Ptr(start.Add(time.Hour))})
	require.NoError(t, err)

	tx, err := s.Pool().Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	var views int
	require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM refresh_report_views(NULL)`).Scan(&views))
	require.Equal(t, 5, views)

	// The refresh holds its locks until it commits: readers finish meanwhile, with the old figures.
	readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	during, err := s.ProductivityReport(readCtx, b.scope, p, store.PageParams{First: 100})
	require.NoError(t, err, "a reader during the refresh")
	require.Len(t, during.Rows, len(before))
	r := b.srv.Do(b.token(store.RoleAdmin), `{ projectHoursReport(first: 5) { nodes { totalHours } } }`, nil)
	require.Empty(t, r.Errors)

	require.NoError(t, tx.Commit(ctx))
	after := allProductivity(t, s, b.scope, p)
	require.Len(t, after, len(before)+1)
	require.Equal(t, 3600, after[len(after)-1].TotalSeconds)
}

// TestTotalHoursFromViews: Project.totalHours reads the views (as of the last refresh) under
// the same reach rule as the live sum, which live: true keeps.
func TestTotalHoursFromViews(t *testing.T) {
	t.Parallel()
	b := setupReports(t, apitest.Opts{})
	ctx := context.Background()
	employee := b.byRole[store.RoleEmployee]
	projects, err := b.srv.Store.ProjectsByEmployeeIDs(ctx, b.scope, []uuid.UUID{employee.ID}, 1)
	require.NoError(t, err)
	project := projects[0].Project
	query := fmt.Sprintf(`{ project(id: %q) { view: totalHours live: totalHours(live: true) } }`, project.ID)
	hours := func(token string) (view, live float64) {
		var data struct {
			Project struct{ View, Live float64 }
		}
		b.srv.MustData(token, query, nil, &data)
		return data.Project.View, data.Project.Live
	}
	roles := []string{store.RoleAdmin, store.RoleManager, store.RoleEmployee, store.RoleAuditor}
	for _, role := range roles {
		view, live := hours(b.token(role))
		require.InDelta(t, live, view, 1e-9, role)
	}
	view, _ := hours(b.token(store.RoleAdmin))
	require.Positive(t, view)

	// An hour more: live at once, the view after the next refresh.
	start := time.Date(2026, 10, 31, 9, 0, 0, 0, time.UTC)
	_, err = b.srv.Store.CreateTimeEntry(ctx, b.scope, store.TimeEntryParams{EmployeeID: &employee.ID, ProjectID: &project.ID,
		StartTime: &start, EndTime: apitest.Ptr(start.Add(time.Hour))})
	require.NoError(t, err)
	stale, live := hours(b.token(store.RoleAdmin))
	require.InDelta(t, view, stale, 1e-9)
	require.InDelta(t, view+1, live, 1e-9)
	_, err = b.srv.Store.RefreshReports(ctx, time.Minute)
	require.NoError(t, err)
	for _, role := range roles {
		view, live := hours(b.token(role))
		require.InDelta(t, live, view, 1e-9, role)
	}
	f, err := b.srv.Store.ReportFreshness(ctx)
	require.NoError(t, err)
	require.NotNil(t, f.NextRefreshAt)
	require.WithinDuration(t, f.RefreshedAt.Add(time.Minute), *f.NextRefreshAt, time.Second)
}
