package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// fakeBlobURLs signs a URL the test can recognise (resolvers.BlobURLs).
type fakeBlobURLs struct{}

func (fakeBlobURLs) SignURL(_ context.Context, key string) (string, error) {
	return "https://blobs.test/" + key + "?sig=ok", nil
}

// shotRow is a screenshot row as the upload and the processing job would leave it.
type shotRow struct {
	employee uuid.UUID
	entry    *uuid.UUID
	at       time.Time
	status   string
}

// insertScreenshots writes screenshot rows with plain SQL (uploads are another part's), a
// PROCESSED one with its keys, sizes and dimensions, a FAILED one with its reason. It returns
// their ids in order.
func insertScreenshots(t *testing.T, srv *apitest.Server, tenant uuid.UUID, rows ...shotRow) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, len(rows))
	require.NoError(t, testdb.AsTenant(context.Background(), srv.Store.Pool(), tenant, func(tx pgx.Tx) error {
		for i, r := range rows {
			ids[i] = uuid.New()
			var blob, thumb, failure *string
			var imageBytes, thumbBytes, width, height *int
			var processedAt *time.Time
			switch r.status {
			case store.ScreenshotProcessed:
				blob, thumb = apitest.Ptr("screenshots/"+ids[i].String()+".jpg"), apitest.Ptr("screenshots/"+ids[i].String()+"-thumb.jpg")
				imageBytes, thumbBytes, width, height = apitest.Ptr(2000), apitest.Ptr(300), apitest.Ptr(1920), apitest.Ptr(1080)
				processedAt = apitest.Ptr(r.at.Add(time.Minute))
			case store.ScreenshotFailed:
				failure = apitest.Ptr("image: unknown format")
				processedAt = apitest.Ptr(r.at.Add(time.Minute))
			}
			_, err := tx.Exec(context.Background(), `INSERT INTO screenshots (tenant_id, id, employee_id, time_entry_id,
					captured_at, status, original_key, original_bytes, original_format, blob_key, thumbnail_key, image_bytes,
					thumbnail_bytes, width, height, failure, processed_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, 5000, 'png', $8, $9, $10, $11, $12, $13, $14, $15)`,
				tenant, ids[i], r.employee, r.entry, r.at, r.status, "originals/"+ids[i].String(), blob, thumb,
				imageBytes, thumbBytes, width, height, failure, processedAt)
			if err != nil {
				return err
			}
		}
		return nil
	}))
	return ids
}

// shotOrg is a tenant where a manager has one report (worker) and another employee (other)
// reports to the admin; worker and other each have a time entry with screenshots, and another
// tenant has one screenshot of its own.
type shotOrg struct {
	srv                     *apitest.Server
	c                       apitest.Fixture
	manager, worker, other  *store.Employee
	workerEntry, otherEntry *store.TimeEntry
	// workerShots: PENDING, PROCESSING, PROCESSED, FAILED, newest first; then one on another
	// employee's entry (other's), one on an entry that no longer exists.
	workerShots []uuid.UUID
	// otherShots: PROCESSED, and one of other's taken during worker's entry (a row that points
	// across employees: the worker and their manager must not see it there).
	otherShots   []uuid.UUID
	managerShot  uuid.UUID
	foreign      apitest.Fixture
	foreignShot  uuid.UUID
	tokens       map[string]string
	base         time.Time
	projectID    uuid.UUID
	deletedEntry uuid.UUID
}

func newShotOrg(t *testing.T, opts apitest.Opts) *shotOrg {
	t.Helper()
	ctx := context.Background()
	srv := apitest.New(t, opts)
	o := &shotOrg{srv: srv, c: srv.NewTenant("acme"), foreign: srv.NewTenant("globex")}
	project, err := srv.Store.CreateProject(ctx, o.c.Scope, store.ProjectParams{Name: ptr("Apollo")})
	require.NoError(t, err)
	o.projectID = project.ID
	person := func(name, role string, manager uuid.UUID) *store.Employee {
		e, err := srv.Store.CreateEmployee(ctx, o.c.Scope, store.EmployeeParams{Name: ptr(name),
			Email: ptr(name + "@acme.example"), Role: ptr(role), ManagerID: &manager})
		require.NoError(t, err)
		_, err = srv.Store.AddProjectMember(ctx, o.c.Scope, project.ID, e.ID)
		require.NoError(t, err)
		return e
	}
	o.manager = person("manager", store.RoleManager, o.c.Admin.ID)
	o.worker = person("worker", store.RoleEmployee, o.manager.ID)
	o.other = person("other", store.RoleEmployee, o.c.Admin.ID)
	o.base = time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	entry := func(e *store.Employee) *store.TimeEntry {
		end := o.base.Add(time.Hour)
		te, err := srv.Store.CreateTimeEntry(ctx, o.c.Scope, store.TimeEntryParams{EmployeeID: &e.ID,
			ProjectID: &project.ID, StartTime: &o.base, EndTime: &end})
		require.NoError(t, err)
		return te
	}
	o.workerEntry, o.otherEntry = entry(o.worker), entry(o.other)
	o.deletedEntry = uuid.New()
	at := func(m int) time.Time { return o.base.Add(time.Duration(m) * time.Minute) }
	o.workerShots = insertScreenshots(t, srv, o.c.Tenant.ID,
		shotRow{o.worker.ID, &o.workerEntry.ID, at(40), store.ScreenshotPending},
		shotRow{o.worker.ID, &o.workerEntry.ID, at(30), store.ScreenshotProcessing},
		shotRow{o.worker.ID, &o.workerEntry.ID, at(20), store.ScreenshotProcessed},
		shotRow{o.worker.ID, &o.workerEntry.ID, at(10), store.ScreenshotFailed},
		shotRow{o.worker.ID, &o.otherEntry.ID, at(5), store.ScreenshotProcessed},
		shotRow{o.worker.ID, &o.deletedEntry, at(4), store.ScreenshotProcessed})
	o.otherShots = insertScreenshots(t, srv, o.c.Tenant.ID,
		shotRow{o.other.ID, &o.otherEntry.ID, at(25), store.ScreenshotProcessed},
		shotRow{o.other.ID, &o.workerEntry.ID, at(35), store.ScreenshotProcessed})
	o.managerShot = insertScreenshots(t, srv, o.c.Tenant.ID, shotRow{o.manager.ID, nil, at(50), store.ScreenshotPending})[0]
	o.foreignShot = insertScreenshots(t, srv, o.foreign.Tenant.ID,
		shotRow{o.foreign.Admin.ID, nil, at(15), store.ScreenshotProcessed})[0]

	_, biKey, err := srv.Store.CreateAPIKey(ctx, o.c.Scope, store.APIKeyParams{Name: "BI", Role: store.RoleBI})
	require.NoError(t, err)
	_, agentKey, err := srv.Store.CreateAPIKey(ctx, o.c.Scope, store.APIKeyParams{Name: "Laptop", Role: store.RoleAgent,
		EmployeeID: &o.worker.ID})
	require.NoError(t, err)
	o.tokens = map[string]string{
		"ADMIN":    o.c.Token,
		"HR":       srv.Token(o.c.Tenant.ID, o.c.Admin.ID, store.RoleHR),
		"MANAGER":  srv.Token(o.c.Tenant.ID, o.manager.ID, store.RoleManager),
		"EMPLOYEE": srv.Token(o.c.Tenant.ID, o.worker.ID, store.RoleEmployee),
		"AUDITOR":  srv.Token(o.c.Tenant.ID, o.c.Admin.ID, store.RoleAuditor),
		"BI":       biKey,
		"AGENT":    agentKey,
		"FOREIGN":  o.foreign.Token,
		"INTERN":   srv.Token(o.c.Tenant.ID, o.worker.ID, "INTERN"),
	}
	return o
}

func shotIDs(list ...[]uuid.UUID) []string {
	var out []string
	for _, l := range list {
		for _, id := range l {
			out = append(out, id.String())
		}
	}
	sort.Strings(out)
	return out
}

func sortedStrings(s []string) []string {
	s = append([]string{}, s...)
	sort.Strings(s)
	return s
}

// Row-level rules are those of time entries: own for EMPLOYEE, AGENT and AUDITOR, reports for a
// MANAGER, the tenant for HR, ADMIN and BI, nothing of another tenant — by list, by id,
// through _entities and nested under time entries.
func TestScreenshotRowLevelReach(t *testing.T) {
	t.Parallel()
	o := newShotOrg(t, apitest.Opts{})
	worker := o.workerShots
	all := shotIDs(worker, o.otherShots, []uuid.UUID{o.managerShot})
	reach := map[string][]string{
		"ADMIN": all, "HR": all, "BI": all,
		"MANAGER":  shotIDs(worker, []uuid.UUID{o.managerShot}),
		"EMPLOYEE": shotIDs(worker), "AGENT": shotIDs(worker),
		"AUDITOR": {}, // acting as the admin, who took none
		"FOREIGN": shotIDs([]uuid.UUID{o.foreignShot}),
	}
	everyShot := append(append([]string{}, all...), o.foreignShot.String())
	for role, want := range reach {
		t.Run(role, func(t *testing.T) {
			var got struct {
				Screenshots struct {
					TotalCount int
					Nodes      []struct {
						ID       string
						Employee struct{ ID string }
					}
				}
			}
			o.srv.MustData(o.tokens[role], `{ screenshots(first: 100) { totalCount nodes { id employee { id } } } }`, nil, &got)
			var seen []string
			for _, n := range got.Screenshots.Nodes {
				seen = append(seen, n.ID)
				require.NotEmpty(t, n.Employee.ID, "a screenshot's employee is always in reach")
			}
			require.Equal(t, want, sortedStrings(seen))
			require.Equal(t, len(want), got.Screenshots.TotalCount)

			// By id and through _entities: in reach reads the row, out of reach reads null.
			reps := make([]any, len(everyShot))
			for i, id := range everyShot {
				reps[i] = map[string]any{"__typename": "Screenshot", "id": id}
			}
			var byID struct {
				Entities []*struct{ ID string } `json:"_entities"`
			}
			o.srv.MustData(o.tokens[role], `query($r: [_Any!]!) { _entities(representations: $r) { ... on Screenshot { id } } }`,
				map[string]any{"r": reps}, &byID)
			var entities []string
			for _, e := range byID.Entities {
				if e != nil {
					entities = append(entities, e.ID)
				}
			}
			require.Equal(t, want, sortedStrings(entities), "_entities")
			for _, id := range []string{worker[2].String(), o.otherShots[0].String(), o.foreignShot.String()} {
				var one struct{ Screenshot *struct{ ID string } }
				o.srv.MustData(o.tokens[role], `query($id: ID!) { screenshot(id: $id) { id } }`, map[string]any{"id": id}, &one)
				require.Equal(t, slices.Contains(want, id), one.Screenshot != nil, "screenshot(id: %s)", id)
			}
		})
	}
	t.Run("NoRoleForbidden", func(t *testing.T) {
		for _, query := range []string{`{ screenshots { totalCount } }`, fmt.Sprintf(`{ screenshot(id: %q) { id } }`, worker[0]),
			`{ screenshotSettings { blur } }`,
			fmt.Sprintf(`{ _entities(representations: [{__typename: "Screenshot", id: %q}]) { ... on Screenshot { id } } }`, worker[0])} {
			r := o.srv.Do(o.tokens["INTERN"], query, nil)
			require.NotEmpty(t, r.Errors, query)
			require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), query)
		}
	})
	// The worker's entry holds four of the worker's screenshots and one of other's: only those
	// in reach are listed under it, for every path to the entry.
	t.Run("NestedUnderTimeEntries", func(t *testing.T) {
		for role, want := range map[string][]string{
			"EMPLOYEE": shotIDs(worker[:4]), "MANAGER": shotIDs(worker[:4]), "HR": shotIDs(worker[:4], o.otherShots[1:]),
		} {
			var got struct {
				TimeEntries struct {
					Nodes []struct {
						ID          string
						Screenshots []struct{ ID string }
					}
				}
			}
			o.srv.MustData(o.tokens[role], `query($e: ID!) { timeEntries(filter: {employeeId: $e}) { nodes { id screenshots { id } } } }`,
				map[string]any{"e": o.worker.ID}, &got)
			var viaEntity struct {
				Entities []struct{ Screenshots []struct{ ID string } } `json:"_entities"`
			}
			o.srv.MustData(o.tokens[role], `query($e: ID!) { _entities(representations: [{__typename: "TimeEntry", id: $e}]) {
				... on TimeEntry { screenshots { id } } } }`, map[string]any{"e": o.workerEntry.ID}, &viaEntity)
			require.Len(t, got.TimeEntries.Nodes, 1, role)
			var listed, entity []string
			for _, s := range got.TimeEntries.Nodes[0].Screenshots {
				listed = append(listed, s.ID)
			}
			for _, s := range viaEntity.Entities[0].Screenshots {
				entity = append(entity, s.ID)
			}
			require.Equal(t, want, sortedStrings(listed), role)
			require.Equal(t, want, sortedStrings(entity), role)
		}
		// Another tenant's entry is nobody's here.
		var got struct {
			Entities []*struct{ Screenshots []struct{ ID string } } `json:"_entities"`
		}
		o.srv.MustData(o.tokens["FOREIGN"], `query($e: ID!) { _entities(representations: [{__typename: "TimeEntry", id: $e}]) {
			... on TimeEntry { screenshots { id } } } }`, map[string]any{"e": o.workerEntry.ID}, &got)
		require.Nil(t, got.Entities[0])
	})
	// A screenshot in reach whose entry is not (another employee's) or is gone reads its entry
	// as null.
	t.Run("TimeEntryOutOfReachOrDeletedIsNull", func(t *testing.T) {
		type entryOf struct {
			Screenshot struct{ TimeEntry *struct{ ID string } }
		}
		for _, tc := range []struct {
			role string
			shot uuid.UUID
			want *uuid.UUID
		}{
			{"EMPLOYEE", worker[0], &o.workerEntry.ID},
			{"EMPLOYEE", worker[4], nil}, // other's entry
			{"HR", worker[4], &o.otherEntry.ID},
			{"HR", worker[5], nil}, // deleted
			{"MANAGER", o.managerShot, nil},
		} {
			var got entryOf
			o.srv.MustData(o.tokens[tc.role], `query($id: ID!) { screenshot(id: $id) { timeEntry { id } } }`,
				map[string]any{"id": tc.shot}, &got)
			if tc.want == nil {
				require.Nil(t, got.Screenshot.TimeEntry, "%s %s", tc.role, tc.shot)
			} else {
				require.NotNil(t, got.Screenshot.TimeEntry, "%s %s", tc.role, tc.shot)
				require.Equal(t, tc.want.String(), got.Screenshot.TimeEntry.ID)
			}
		}
	})
}

func TestScreenshotFiltersAndPages(t *testing.T) {
	t.Parallel()
	o := newShotOrg(t, apitest.Opts{})
	hr := o.tokens["HR"]
	type page struct {
		Screenshots struct {
			TotalCount int
			Nodes      []struct {
				ID         string
				CapturedAt time.Time
				Status     string
			}
			Edges    []struct{ Cursor string }
			PageInfo struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
	listAs := func(token string, filter map[string]any, first int, after *string) page {
		t.Helper()
		var got page
		o.srv.MustData(token, `query($f: ScreenshotFilter, $first: Int, $after: String) {
			screenshots(filter: $f, first: $first, after: $after) {
				totalCount nodes { id capturedAt status } edges { cursor } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"f": filter, "first": first, "after": after}, &got)
		return got
	}
	list := func(filter map[string]any, first int, after *string) page { return listAs(hr, filter, first, after) }
	nodeIDs := func(p page) []string {
		var out []string
		for _, n := range p.Screenshots.Nodes {
			out = append(out, n.ID)
		}
		return out
	}
	// HR reads the tenant's in one index order; a manager reads each person in reach (the
	// manager and the worker) through their own, merged; the worker alone their own.
	for role, want := range map[string][]string{
		"HR":       shotIDs(o.workerShots, o.otherShots, []uuid.UUID{o.managerShot}),
		"MANAGER":  shotIDs(o.workerShots, []uuid.UUID{o.managerShot}),
		"EMPLOYEE": shotIDs(o.workerShots),
	} {
		t.Run("NewestFirstAcrossPages/"+role, func(t *testing.T) {
			var all []string
			var last time.Time
			var after *string
			for pages := 0; ; pages++ {
				require.Less(t, pages, 10)
				p := listAs(o.tokens[role], nil, 2, after)
				require.Equal(t, len(want), p.Screenshots.TotalCount)
				for i, n := range p.Screenshots.Nodes {
					if !last.IsZero() {
						require.True(t, n.CapturedAt.Before(last), "newest capture first")
					}
					last = n.CapturedAt
					require.NotEmpty(t, p.Screenshots.Edges[i].Cursor)
					all = append(all, n.ID)
				}
				if !p.Screenshots.PageInfo.HasNextPage {
					break
				}
				after = p.Screenshots.PageInfo.EndCursor
			}
			require.Equal(t, want, sortedStrings(all), "every screenshot once")
		})
	}
	t.Run("ByEmployee", func(t *testing.T) {
		p := list(map[string]any{"employeeId": o.other.ID}, 20, nil)
		require.Equal(t, shotIDs(o.otherShots), sortedStrings(nodeIDs(p)))
		require.Equal(t, 2, p.Screenshots.TotalCount)
	})
	t.Run("ByEmployeeOutOfReachIsEmpty", func(t *testing.T) {
		var got struct{ Screenshots struct{ TotalCount int } }
		o.srv.MustData(o.tokens["MANAGER"], `query($e: ID!) { screenshots(filter: {employeeId: $e}) { totalCount } }`,
			map[string]any{"e": o.other.ID}, &got)
		require.Zero(t, got.Screenshots.TotalCount)
	})
	t.Run("ByStatus", func(t *testing.T) {
		p := list(map[string]any{"status": "PENDING"}, 20, nil)
		require.Equal(t, shotIDs([]uuid.UUID{o.workerShots[0], o.managerShot}), sortedStrings(nodeIDs(p)))
		for _, n := range p.Screenshots.Nodes {
			require.Equal(t, "PENDING", n.Status)
		}
		p = list(map[string]any{"status": "PROCESSED", "employeeId": o.worker.ID}, 20, nil)
		require.Equal(t, shotIDs([]uuid.UUID{o.workerShots[2], o.workerShots[4], o.workerShots[5]}), sortedStrings(nodeIDs(p)))
	})
	t.Run("HalfOpenRange", func(t *testing.T) {
		// [base+20m, base+40m): 20, 25, 30, 35 — not 40.
		p := list(map[string]any{"from": o.base.Add(20 * time.Minute), "to": o.base.Add(40 * time.Minute)}, 20, nil)
		require.Equal(t, shotIDs(o.workerShots[1:3], o.otherShots), sortedStrings(nodeIDs(p)))
		require.Equal(t, 4, p.Screenshots.TotalCount)
		p = list(map[string]any{"from": o.base.Add(40 * time.Minute)}, 20, nil)
		require.Equal(t, shotIDs([]uuid.UUID{o.workerShots[0], o.managerShot}), sortedStrings(nodeIDs(p)))
		p = list(map[string]any{"to": o.base.Add(5 * time.Minute)}, 20, nil)
		require.Equal(t, shotIDs(o.workerShots[5:]), sortedStrings(nodeIDs(p)))
	})
	for name, tc := range map[string]struct {
		query string
		vars  map[string]any
		code  string
		field string
	}{
		"ErrToBeforeFrom": {`query($f: Time!, $t: Time!) { screenshots(filter: {from: $f, to: $t}) { totalCount } }`,
			map[string]any{"f": o.base, "t": o.base}, "BAD_USER_INPUT", "to"},
		"ErrBadEmployeeID": {`{ screenshots(filter: {employeeId: "nope"}) { totalCount } }`, nil, "BAD_USER_INPUT", "employeeId"},
		"ErrBadCursor":     {`{ screenshots(after: "bm9wZQ") { totalCount } }`, nil, "BAD_USER_INPUT", "after"},
		"ErrFirstOver100":  {`{ screenshots(first: 101) { totalCount } }`, nil, "BAD_USER_INPUT", "first"},
		"ErrUnknownStatus": {`query($s: ScreenshotStatus) { screenshots(filter: {status: $s}) { totalCount } }`,
			map[string]any{"s": "DELETED"}, "GRAPHQL_VALIDATION_FAILED", ""},
		"ErrEntryScreenshotsOver100": {`{ timeEntries { nodes { screenshots(first: 101) { id } } } }`, nil, "BAD_USER_INPUT", "first"},
		"ErrEntryScreenshotsNegative": {`{ timeEntries { nodes { screenshots(first: -1) { id } } } }`, nil,
			"BAD_USER_INPUT", "first"},
	} {
		t.Run(name, func(t *testing.T) {
			r := o.srv.Do(hr, tc.query, tc.vars)
			require.NotEmpty(t, r.Errors)
			require.Equal(t, tc.code, r.Errors[0].Code(), r.Errors[0].Message)
			if tc.field != "" {
				require.Equal(t, tc.field, r.Errors[0].Extensions["field"])
			}
		})
	}
}

// A screenshot's fields as the processing job leaves them: URLs are signed only once it is
// PROCESSED (and only when the server signs blob URLs at all).
func TestScreenshotFieldsAndURLs(t *testing.T) {
	t.Parallel()
	o := newShotOrg(t, apitest.Opts{BlobURLs: fakeBlobURLs{}})
	type shot struct {
		ID            string
		Status        string
		FailureReason *string
		Width, Height *int
		Sizes         struct {
			Original         int
			Image, Thumbnail *int
		}
		Blurred      bool
		URL          *string
		ThumbnailURL *string
		ProcessedAt  *time.Time
		Employee     struct{ Name string }
	}
	const query = `query($e: ID!) { screenshots(filter: {employeeId: $e}) { nodes { id status failureReason width height
		sizes { original image thumbnail } blurred url thumbnailUrl processedAt employee { name } } } }`
	read := func(srv *apitest.Server, token string) map[string]shot {
		var got struct{ Screenshots struct{ Nodes []shot } }
		srv.MustData(token, query, map[string]any{"e": o.worker.ID}, &got)
		out := map[string]shot{}
		for _, s := range got.Screenshots.Nodes {
			out[s.ID] = s
		}
		return out
	}
	got := read(o.srv, o.tokens["EMPLOYEE"])
	require.Len(t, got, 6)
	for i, status := range []string{store.ScreenshotPending, store.ScreenshotProcessing, store.ScreenshotProcessed, store.ScreenshotFailed} {
		s := got[o.workerShots[i].String()]
		require.Equal(t, status, s.Status)
		require.Equal(t, "worker", s.Employee.Name)
		require.Equal(t, 5000, s.Sizes.Original)
		require.False(t, s.Blurred)
		if status != store.ScreenshotProcessed {
			require.Nil(t, s.URL, status)
			require.Nil(t, s.ThumbnailURL, status)
			require.Nil(t, s.Width, status)
			require.Nil(t, s.Sizes.Image, status)
			continue
		}
		want := "https://blobs.test/screenshots/" + s.ID
		require.NotNil(t, s.URL)
		require.Equal(t, want+".jpg?sig=ok", *s.URL)
		require.Equal(t, want+"-thumb.jpg?sig=ok", *s.ThumbnailURL)
		require.Equal(t, 1920, *s.Width)
		require.Equal(t, 1080, *s.Height)
		require.Equal(t, 2000, *s.Sizes.Image)
		require.Equal(t, 300, *s.Sizes.Thumbnail)
		require.NotNil(t, s.ProcessedAt)
	}
	failed := got[o.workerShots[3].String()]
	require.NotNil(t, failed.FailureReason)
	require.Equal(t, "image: unknown format", *failed.FailureReason)
	require.Nil(t, got[o.workerShots[0].String()].FailureReason)

	// Without a signer the URLs read as null, not as an error.
	unsigned := apitest.New(t, apitest.Opts{DatabaseURL: o.srv.DatabaseURL, Signer: o.srv.Signer})
	s := read(unsigned, o.tokens["EMPLOYEE"])[o.workerShots[2].String()]
	require.Equal(t, store.ScreenshotProcessed, s.Status)
	require.Nil(t, s.URL)
	require.Nil(t, s.ThumbnailURL)
}

func TestScreenshotSettings(t *testing.T) {
	t.Parallel()
	o := newShotOrg(t, apitest.Opts{})
	const set = `mutation($on: Boolean!) { setScreenshotBlur(enabled: $on) { blur } }`
	const get = `{ screenshotSettings { blur } }`
	t.Run("OnlyAdminSetsBlur", func(t *testing.T) {
		for _, role := range []string{"HR", "MANAGER", "EMPLOYEE", "AUDITOR", "BI", "AGENT", "INTERN"} {
			r := o.srv.Do(o.tokens[role], set, map[string]any{"on": true})
			require.NotEmpty(t, r.Errors, role)
			require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), role)
		}
		settings, err := o.srv.Store.ScreenshotSettings(context.Background(), o.c.Scope)
		require.NoError(t, err)
		require.False(t, settings.Blur, "refused writes changed nothing")
	})
	t.Run("AdminSetsBlurAndItPersists", func(t *testing.T) {
		var got struct{ SetScreenshotBlur struct{ Blur bool } }
		o.srv.MustData(o.tokens["ADMIN"], set, map[string]any{"on": true}, &got)
		require.True(t, got.SetScreenshotBlur.Blur)
		for _, role := range []string{"ADMIN", "HR"} {
			var read struct{ ScreenshotSettings struct{ Blur bool } }
			o.srv.MustData(o.tokens[role], get, nil, &read)
			require.True(t, read.ScreenshotSettings.Blur, role)
		}
		settings, err := o.srv.Store.ScreenshotSettings(context.Background(), o.c.Scope)
		require.NoError(t, err)
		require.True(t, settings.Blur)
		// Another tenant's setting is its own.
		var foreign struct{ ScreenshotSettings struct{ Blur bool } }
		o.srv.MustData(o.tokens["FOREIGN"], get, nil, &foreign)
		require.False(t, foreign.ScreenshotSettings.Blur)

		o.srv.MustData(o.tokens["ADMIN"], set, map[string]any{"on": false}, &got)
		require.False(t, got.SetScreenshotBlur.Blur)
		settings, err = o.srv.Store.ScreenshotSettings(context.Background(), o.c.Scope)
		require.NoError(t, err)
		require.False(t, settings.Blur)
	})
	t.Run("SettingsAreForAdminAndHR", func(t *testing.T) {
		for _, role := range []string{"MANAGER", "EMPLOYEE", "AUDITOR", "BI", "AGENT"} {
			r := o.srv.Do(o.tokens[role], get, nil)
			require.NotEmpty(t, r.Errors, role)
			require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), role)
		}
	})
}

// TimeEntry.screenshots is one statement per level, however many entries a page holds, and is
// priced by its first.
func TestEntryScreenshotsStatementsDoNotGrow(t *testing.T) {
	t.Parallel()
	const entries = `{
  timeEntries(first: 50) {
    nodes { id screenshots(first: 3) { id status employee { name } timeEntry { id } } }
  }
  employees(first: 50) { nodes { timeEntries(first: 50) { startTime screenshots(first: 2) { id } } } }
}`
	counts := map[int]int64{}
	for _, n := range []int{1, 50} {
		srv := apitest.New(t, apitest.Opts{})
		c := srv.NewTenant("acme")
		ctx := context.Background()
		project, err := srv.Store.CreateProject(ctx, c.Scope, store.ProjectParams{Name: ptr("Apollo")})
		require.NoError(t, err)
		_, err = srv.Store.AddProjectMember(ctx, c.Scope, project.ID, c.Admin.ID)
		require.NoError(t, err)
		base := time.Now().UTC().Add(-time.Duration(n+1) * time.Hour).Truncate(time.Hour)
		var rows []shotRow
		for i := 0; i < n; i++ {
			start := base.Add(time.Duration(i) * time.Hour)
			end := start.Add(30 * time.Minute)
			e, err := srv.Store.CreateTimeEntry(ctx, c.Scope, store.TimeEntryParams{EmployeeID: &c.Admin.ID,
				ProjectID: &project.ID, StartTime: &start, EndTime: &end})
			require.NoError(t, err)
			for k := 0; k < 4; k++ {
				rows = append(rows, shotRow{c.Admin.ID, &e.ID, start.Add(time.Duration(k) * time.Minute), store.ScreenshotProcessed})
			}
		}
		insertScreenshots(t, srv, c.Tenant.ID, rows...)

		srv.Statements.Reset()
		var got struct {
			TimeEntries struct {
				Nodes []struct {
					ID          string
					Screenshots []struct {
						ID        string
						Employee  struct{ Name string }
						TimeEntry struct{ ID string }
					}
				}
			}
			Employees struct {
				Nodes []struct {
					TimeEntries []struct{ Screenshots []struct{ ID string } }
				}
			}
		}
		srv.MustData(c.Token, entries, nil, &got)
		counts[n] = srv.Statements.Count()
		require.Len(t, got.TimeEntries.Nodes, n)
		for _, e := range got.TimeEntries.Nodes {
			require.Len(t, e.Screenshots, 3, "4 screenshots, first 3")
			for _, s := range e.Screenshots {
				require.Equal(t, e.ID, s.TimeEntry.ID)
				require.Equal(t, "Admin of acme", s.Employee.Name)
			}
		}
		require.Len(t, got.Employees.Nodes, 1)
		require.Len(t, got.Employees.Nodes[0].TimeEntries, n)
		for _, e := range got.Employees.Nodes[0].TimeEntries {
			require.Len(t, e.Screenshots, 2)
		}
	}
	require.Equal(t, counts[1], counts[50], "statements for 1 vs 50 entries: %v", counts)
	// entries, their screenshots (the employees and entries of those are cache hits or one
	// batch each); employees, their entries, their screenshots.
	require.LessOrEqual(t, counts[50], int64(8), "statements per request: %v", counts)
	t.Logf("statements per request: %v", counts)
}

func TestScreenshotCostIsFirst(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	cost := func(query string) int {
		t.Helper()
		r := srv.Do(c.Token, query, nil)
		require.Empty(t, r.Errors)
		var ext struct {
			Cost struct {
				RequestedQueryCost int `json:"requestedQueryCost"`
			} `json:"cost"`
		}
		raw, err := json.Marshal(r.Extensions)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &ext))
		return ext.Cost.RequestedQueryCost
	}
	first7 := cost(`{ timeEntries(first: 2) { nodes { screenshots(first: 7) { id } } } }`)
	first1 := cost(`{ timeEntries(first: 2) { nodes { screenshots(first: 1) { id } } } }`)
	def := cost(`{ timeEntries(first: 2) { nodes { screenshots { id } } } }`)
	require.Equal(t, 2*6, first7-first1, "two entries, six screenshots more each")
	require.Equal(t, 2*13, def-first7, "the default first is 20")
	require.Less(t, cost(`{ screenshots(first: 5) { nodes { id } } }`), cost(`{ screenshots(first: 50) { nodes { id } } }`))
}
