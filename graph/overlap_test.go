package graph_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
)

const createEntryMutation = `mutation($in: CreateTimeEntryInput!) { createTimeEntry(input: $in) { id } }`

// entryCreator posts createTimeEntry for one employee on one project.
type entryCreator struct {
	srv            *apitest.Server
	token, project string
}

func (c entryCreator) create(start, end time.Time) apitest.Response {
	return c.srv.Do(c.token, createEntryMutation, map[string]any{"in": map[string]any{"projectId": c.project,
		"startTime": start.Format(time.RFC3339), "endTime": end.Format(time.RFC3339)}})
}

func (c entryCreator) mustCreate(t *testing.T, start, end time.Time) string {
	t.Helper()
	r := c.create(start, end)
	require.Empty(t, r.Errors, "create [%s, %s)", start, end)
	var got struct{ CreateTimeEntry struct{ ID string } }
	require.NoError(t, json.Unmarshal(r.Data, &got))
	return got.CreateTimeEntry.ID
}

// requireOverlap checks r failed with CONFLICT naming the entry it clashed with.
func requireOverlap(t *testing.T, r apitest.Response, clashing string) {
	t.Helper()
	require.Len(t, r.Errors, 1, "data: %s", r.Data)
	require.Equal(t, "CONFLICT", r.Errors[0].Code(), r.Errors[0].Message)
	require.Equal(t, clashing, r.Errors[0].Extensions["conflictingEntryId"])
	require.Contains(t, r.Errors[0].Message, clashing)
}

func TestOverlappingTimeEntries(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 4)
	// Each subtest has an employee of its own; newCompany's entries are 3 days old.
	day := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(24 * time.Hour)
	at := func(h float64) time.Time { return day.Add(time.Duration(h * float64(time.Hour))) }
	as := func(i int) entryCreator {
		return entryCreator{srv: srv, token: srv.Token(c.Tenant.ID, c.Employees[i].ID, "EMPLOYEE"), project: c.Projects[0].ID.String()}
	}

	t.Run("ErrOverlapOnCreate", func(t *testing.T) {
		e := as(0)
		first := e.mustCreate(t, at(9), at(10))
		before := countRows(t, srv, c)
		requireOverlap(t, e.create(at(9), at(10)), first)      // identical
		requireOverlap(t, e.create(at(9.5), at(11)), first)    // reaches in from after
		requireOverlap(t, e.create(at(8), at(9.25)), first)    // reaches in from before
		requireOverlap(t, e.create(at(8), at(12)), first)      // covers it
		requireOverlap(t, e.create(at(9.25), at(9.75)), first) // inside it
		require.Equal(t, before, countRows(t, srv, c), "nothing written")
		e.mustCreate(t, at(10), at(11)) // adjacent after: [9,10) and [10,11) do not overlap
		e.mustCreate(t, at(8), at(9))   // adjacent before
		// Another employee's time is not in the way.
		as(1).mustCreate(t, at(9), at(10))
	})

	t.Run("ErrOverlapOnUpdate", func(t *testing.T) {
		e := as(2)
		first := e.mustCreate(t, at(13), at(14))
		second := e.mustCreate(t, at(15), at(16))
		update := `mutation($id: ID!, $s: Time, $e: Time) { updateTimeEntry(id: $id, input: {startTime: $s, endTime: $e}) { id } }`
		r := srv.Do(e.token, update, map[string]any{"id": second, "s": at(13.5).Format(time.RFC3339), "e": at(14.5).Format(time.RFC3339)})
		requireOverlap(t, r, first)
		// Moving within its own old time, or next to the other, is fine.
		r = srv.Do(e.token, update, map[string]any{"id": second, "s": at(14).Format(time.RFC3339), "e": at(15.5).Format(time.RFC3339)})
		require.Empty(t, r.Errors)
		// An edit that leaves the times alone does not check them.
		r = srv.Do(e.token, `mutation($id: ID!) { updateTimeEntry(id: $id, input: {description: "x"}) { id } }`, map[string]any{"id": first})
		require.Empty(t, r.Errors)
	})

	t.Run("ErrOverlapAcrossMonthBoundary", func(t *testing.T) {
		e := as(3)
		now := time.Now().UTC()
		boundary := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
		// Partitions are monthly: each side of the boundary must see the other.
		early := e.mustCreate(t, boundary.Add(time.Hour), boundary.Add(2*time.Hour))
		requireOverlap(t, e.create(boundary.Add(-time.Hour), boundary.Add(90*time.Minute)), early)
		late := e.mustCreate(t, boundary.Add(-time.Hour), boundary.Add(time.Hour)) // adjacent to early
		requireOverlap(t, e.create(boundary.Add(30*time.Minute), boundary.Add(45*time.Minute)), late)
	})
}

func TestOverlapWithRunningTimer(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	e := entryCreator{srv: srv, token: srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE"), project: c.Projects[0].ID.String()}
	// A finished entry up to now, then a timer from now: adjacent, allowed.
	now := time.Now().UTC().Truncate(time.Second)
	e.mustCreate(t, now.Add(-2*time.Hour), now.Add(-time.Hour))
	var started struct{ StartTimer struct{ ID string } }
	srv.MustData(e.token, `mutation($p: ID!) { startTimer(input: {projectId: $p}) { id } }`, map[string]any{"p": e.project}, &started)
	running := started.StartTimer.ID

	t.Run("ErrSecondTimer", func(t *testing.T) {
		r := srv.Do(e.token, `mutation($p: ID!) { startTimer(input: {projectId: $p}) { id } }`, map[string]any{"p": e.project})
		requireOverlap(t, r, running)
	})
	t.Run("ErrManualEntryAfterTimerStarted", func(t *testing.T) {
		requireOverlap(t, e.create(now.Add(-30*time.Minute), now.Add(2*time.Minute)), running)
	})
	t.Run("ManualEntryBeforeTimerStarted", func(t *testing.T) {
		e.mustCreate(t, now.Add(-50*time.Minute), now.Add(-10*time.Minute))
	})
	t.Run("ErrTimerMovedOntoAnEntry", func(t *testing.T) {
		r := srv.Do(e.token, `mutation($id: ID!, $s: Time!) { updateTimeEntry(id: $id, input: {startTime: $s}) { id } }`,
			map[string]any{"id": running, "s": now.Add(-90 * time.Minute).Format(time.RFC3339)})
		require.Len(t, r.Errors, 1)
		require.Equal(t, "CONFLICT", r.Errors[0].Code())
	})
}

func TestOverlapAllowedByTenantSetting(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	require.NoError(t, srv.Store.SetAllowOverlappingTimeEntries(context.Background(), c.Tenant.ID, true))
	e := entryCreator{srv: srv, token: srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE"), project: c.Projects[0].ID.String()}
	day := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(24 * time.Hour)
	e.mustCreate(t, day.Add(9*time.Hour), day.Add(10*time.Hour))
	e.mustCreate(t, day.Add(9*time.Hour), day.Add(10*time.Hour))
	e.mustCreate(t, day.Add(9*time.Hour+30*time.Minute), day.Add(11*time.Hour))

	t.Run("OtherTenantsStillRefuse", func(t *testing.T) {
		other := newCompany(t, srv, "globex", 1)
		o := entryCreator{srv: srv, token: srv.Token(other.Tenant.ID, other.Employees[0].ID, "EMPLOYEE"), project: other.Projects[0].ID.String()}
		first := o.mustCreate(t, day.Add(9*time.Hour), day.Add(10*time.Hour))
		requireOverlap(t, o.create(day.Add(9*time.Hour), day.Add(10*time.Hour)), first)
	})
}

func TestConcurrentOverlappingEntriesAllowOne(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	e := entryCreator{srv: srv, token: srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE"), project: c.Projects[0].ID.String()}
	day := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(24 * time.Hour)
	const attempts = 8
	tally := raceOutcomes(attempts, func(i int) apitest.Response {
		// Each overlaps every other (all contain 12:00..12:30), none is identical.
		start := day.Add(11*time.Hour + time.Duration(i)*time.Minute)
		return e.create(start, start.Add(90*time.Minute))
	})
	require.Equal(t, map[string]int{"OK": 1, "CONFLICT": attempts - 1}, tally)
}
