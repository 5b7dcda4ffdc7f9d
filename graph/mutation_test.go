package graph_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
)

func TestMutationErrorsAreCodedAndWriteNothing(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	outsider, err := srv.Store.CreateEmployee(context.Background(), c.Scope, storeEmployee("Out Sider", "out@acme.example"))
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	member, project, task := c.Employees[0].ID, c.Projects[0].ID, c.Tasks[0].ID

	createEntry := `mutation($in: CreateTimeEntryInput!) { createTimeEntry(input: $in) { id } }`
	cases := []struct {
		name, query string
		vars        map[string]any
		code, field string
	}{
		{"ErrEndBeforeStart", createEntry, map[string]any{"in": map[string]any{"employeeId": member, "projectId": project,
			"startTime": at(-time.Hour), "endTime": at(-2 * time.Hour)}}, "BAD_USER_INPUT", "endTime"},
		{"ErrLongerThanADay", createEntry, map[string]any{"in": map[string]any{"employeeId": member, "projectId": project,
			"startTime": at(-30 * time.Hour), "endTime": at(-time.Hour)}}, "BAD_USER_INPUT", "endTime"},
		{"ErrInTheFuture", createEntry, map[string]any{"in": map[string]any{"employeeId": member, "projectId": project,
			"startTime": at(time.Hour), "endTime": at(2 * time.Hour)}}, "BAD_USER_INPUT", "startTime"},
		{"ErrNotAMember", createEntry, map[string]any{"in": map[string]any{"employeeId": outsider.ID, "projectId": project,
			"startTime": at(-2 * time.Hour), "endTime": at(-time.Hour)}}, "BAD_USER_INPUT", "projectId"},
		{"ErrTaskOfAnotherProject", createEntry, map[string]any{"in": map[string]any{"employeeId": member,
			"projectId": c.Projects[1].ID, "taskId": task, "startTime": at(-2 * time.Hour), "endTime": at(-time.Hour)}},
			"BAD_USER_INPUT", "taskId"},
		{"ErrUnknownProject", createEntry, map[string]any{"in": map[string]any{"employeeId": member,
			"projectId": "00000000-0000-4000-8000-000000000000", "startTime": at(-2 * time.Hour), "endTime": at(-time.Hour)}},
			"NOT_FOUND", "projectId"},
		{"ErrMalformedID", createEntry, map[string]any{"in": map[string]any{"employeeId": member, "projectId": "42",
			"startTime": at(-2 * time.Hour), "endTime": at(-time.Hour)}}, "BAD_USER_INPUT", "projectId"},
		{"ErrMalformedTime", createEntry, map[string]any{"in": map[string]any{"employeeId": member, "projectId": project,
			"startTime": "yesterday", "endTime": at(-time.Hour)}}, "BAD_USER_INPUT", ""},
		{"ErrDuplicateEmail", `mutation { createEmployee(input: {name: "Copy", email: "E0@ACME.example"}) { id } }`,
			nil, "CONFLICT", ""},
		{"ErrInvalidEmail", `mutation { createEmployee(input: {name: "X", email: "not an address"}) { id } }`,
			nil, "BAD_USER_INPUT", "email"},
		{"ErrManagementCycle", `mutation($id: ID!, $m: ID!) { updateEmployee(id: $id, input: {managerId: $m}) { id } }`,
			map[string]any{"id": c.Admin.ID, "m": member}, "BAD_USER_INPUT", "managerId"},
		{"ErrSelfDependency", `mutation($p: ID!) { createTask(input: {projectId: $p, title: "t", dependsOn: ["00000000-0000-4000-8000-000000000001"]}) { id } }`,
			map[string]any{"p": project}, "BAD_USER_INPUT", "dependsOn"},
		{"ErrPageTooLarge", `{ employees(first: 1000) { totalCount } }`, nil, "BAD_USER_INPUT", "first"},
		{"ErrForgedCursor", `{ employees(after: "bm90LWEtY3Vyc29y") { totalCount } }`, nil, "BAD_USER_INPUT", "after"},
		{"ErrStopWithoutTimer", `mutation { stopTimer { id } }`, nil, "NOT_FOUND", ""},
		{"ErrUnknownField", `{ employees { nope } }`, nil, "GRAPHQL_VALIDATION_FAILED", ""},
		{"ErrSyntax", `{ employees {`, nil, "GRAPHQL_PARSE_FAILED", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countRows(t, srv, c)
			r := srv.Do(c.Token, tc.query, tc.vars)
			require.Len(t, r.Errors, 1, "data: %s", r.Data)
			require.Equal(t, tc.code, r.Errors[0].Code(), r.Errors[0].Message)
			require.NotContains(t, r.Errors[0].Message, "internal")
			if tc.field != "" {
				require.Equal(t, tc.field, r.Errors[0].Extensions["field"], r.Errors[0].Message)
			}
			require.Equal(t, before, countRows(t, srv, c), "nothing written")
		})
	}
}

// countRows summarises what the tenant holds, to prove a failed mutation wrote nothing.
func countRows(t *testing.T, srv *apitest.Server, c company) string {
	t.Helper()
	var got struct {
		Employees   struct{ TotalCount int }
		Projects    struct{ TotalCount int }
		TimeEntries struct{ TotalCount int }
	}
	srv.MustData(c.Token, `{ employees { totalCount } projects { totalCount } timeEntries { totalCount } }`, nil, &got)
	var tasks struct {
		Projects struct {
			Nodes []struct{ Tasks []struct{ ID string } }
		}
	}
	srv.MustData(c.Token, `{ projects(first: 100) { nodes { tasks { id } } } }`, nil, &tasks)
	n := 0
	for _, p := range tasks.Projects.Nodes {
		n += len(p.Tasks)
	}
	return fmt.Sprintf("employees=%d projects=%d entries=%d tasks=%d", got.Employees.TotalCount,
		got.Projects.TotalCount, got.TimeEntries.TotalCount, n)
}

func TestMutationsRoundTrip(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	me := c.Employees[0]
	token := srv.Token(c.Tenant.ID, me.ID, "EMPLOYEE")

	t.Run("TimerStartsAndStops", func(t *testing.T) {
		var started struct {
			StartTimer struct {
				ID      string
				Running bool
				Source  string
			}
		}
		srv.MustData(token, `mutation($p: ID!) { startTimer(input: {projectId: $p, description: "focus"}) { id running source } }`,
			map[string]any{"p": c.Projects[0].ID}, &started)
		require.True(t, started.StartTimer.Running)
		require.Equal(t, "TIMER", started.StartTimer.Source)
		var stopped struct {
			StopTimer struct {
				ID              string
				Running         bool
				DurationSeconds *int
			}
		}
		srv.MustData(token, `mutation { stopTimer { id running durationSeconds } }`, nil, &stopped)
		require.Equal(t, started.StartTimer.ID, stopped.StopTimer.ID)
		require.False(t, stopped.StopTimer.Running)
		require.NotNil(t, stopped.StopTimer.DurationSeconds)
	})
	t.Run("EntryInAMonthWithoutPartitionIsWritten", func(t *testing.T) {
		// Four years back is outside the partitions the migration creates.
		start := time.Now().UTC().AddDate(-4, 0, 0).Truncate(time.Hour)
		var created struct {
			CreateTimeEntry struct {
				ID        string
				StartTime time.Time
			}
		}
		srv.MustData(token, `mutation($in: CreateTimeEntryInput!) { createTimeEntry(input: $in) { id startTime } }`,
			map[string]any{"in": map[string]any{"projectId": c.Projects[0].ID, "startTime": start.Format(time.RFC3339),
				"endTime": start.Add(90 * time.Minute).Format(time.RFC3339)}}, &created)
		require.True(t, start.Equal(created.CreateTimeEntry.StartTime))

		var moved struct {
			UpdateTimeEntry struct {
				StartTime       time.Time
				DurationSeconds int
				Task            *struct{ ID string }
			}
		}
		newStart := start.AddDate(0, -1, 0)
		srv.MustData(token, `mutation($id: ID!, $s: Time!, $e: Time!, $t: ID) { updateTimeEntry(id: $id, input: {startTime: $s, endTime: $e, taskId: $t}) { startTime durationSeconds task { id } } }`,
			map[string]any{"id": created.CreateTimeEntry.ID, "s": newStart.Format(time.RFC3339),
				"e": newStart.Add(time.Hour).Format(time.RFC3339), "t": c.Tasks[0].ID}, &moved)
		require.True(t, newStart.Equal(moved.UpdateTimeEntry.StartTime), "moved across partitions")
		require.Equal(t, 3600, moved.UpdateTimeEntry.DurationSeconds)
		require.NotNil(t, moved.UpdateTimeEntry.Task)

		var detached struct {
			UpdateTimeEntry struct{ Task *struct{ ID string } }
		}
		srv.MustData(token, `mutation($id: ID!) { updateTimeEntry(id: $id, input: {taskId: null}) { task { id } } }`,
			map[string]any{"id": created.CreateTimeEntry.ID}, &detached)
		require.Nil(t, detached.UpdateTimeEntry.Task, "explicit null detaches the task")

		var deleted struct{ DeleteTimeEntry string }
		srv.MustData(token, `mutation($id: ID!) { deleteTimeEntry(id: $id) }`, map[string]any{"id": created.CreateTimeEntry.ID}, &deleted)
		require.Equal(t, created.CreateTimeEntry.ID, deleted.DeleteTimeEntry)
	})
	t.Run("ProjectsTasksAndMembers", func(t *testing.T) {
		var p struct {
			CreateProject struct {
				ID, Status string
				Billable   bool
			}
		}
		srv.MustData(c.Token, `mutation { createProject(input: {name: "Launch", budgetHours: 120}) { id status billable } }`, nil, &p)
		require.Equal(t, "ACTIVE", p.CreateProject.Status)
		var added struct {
			AddProjectMember struct{ Members []struct{ ID string } }
		}
		srv.MustData(c.Token, `mutation($p: ID!, $e: ID!) { addProjectMember(projectId: $p, employeeId: $e) { members { id } } }`,
			map[string]any{"p": p.CreateProject.ID, "e": me.ID}, &added)
		require.Len(t, added.AddProjectMember.Members, 1)
		var first struct{ CreateTask struct{ ID string } }
		srv.MustData(c.Token, `mutation($p: ID!, $a: ID!) { createTask(input: {projectId: $p, title: "Plan", assigneeId: $a}) { id } }`,
			map[string]any{"p": p.CreateProject.ID, "a": me.ID}, &first)
		var second struct {
			CreateTask struct {
				Dependencies []struct{ ID string }
				Assignee     *struct{ ID string }
			}
		}
		srv.MustData(c.Token, `mutation($p: ID!, $d: ID!) { createTask(input: {projectId: $p, title: "Build", dependsOn: [$d]}) { dependencies { id } assignee { id } } }`,
			map[string]any{"p": p.CreateProject.ID, "d": first.CreateTask.ID}, &second)
		require.Equal(t, first.CreateTask.ID, second.CreateTask.Dependencies[0].ID)
		require.Nil(t, second.CreateTask.Assignee)
		r := srv.Do(c.Token, `mutation($id: ID!, $d: ID!) { updateTask(id: $id, input: {dependsOn: [$d]}) { id } }`,
			map[string]any{"id": first.CreateTask.ID, "d": first.CreateTask.ID})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		var removed struct {
			RemoveProjectMember struct{ Members []struct{ ID string } }
		}
		srv.MustData(c.Token, `mutation($p: ID!, $e: ID!) { removeProjectMember(projectId: $p, employeeId: $e) { members { id } } }`,
			map[string]any{"p": p.CreateProject.ID, "e": me.ID}, &removed)
		require.Empty(t, removed.RemoveProjectMember.Members)
	})
	t.Run("EmployeeUpdateClearsManagerOnExplicitNull", func(t *testing.T) {
		var got struct {
			UpdateEmployee struct {
				Manager *struct{ ID string }
				Name    string
			}
		}
		srv.MustData(c.Token, `mutation($id: ID!) { updateEmployee(id: $id, input: {managerId: null, name: "Renamed"}) { name manager { id } } }`,
			map[string]any{"id": me.ID}, &got)
		require.Nil(t, got.UpdateEmployee.Manager)
		require.Equal(t, "Renamed", got.UpdateEmployee.Name)
	})
}

func TestPagination(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 7)
	seen := map[string]bool{}
	after := ""
	for page := 0; ; page++ {
		require.Less(t, page, 10, "pagination must end")
		var got struct {
			Employees struct {
				Edges []struct {
					Cursor string
					Node   struct{ ID string }
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
		vars := map[string]any{}
		if after != "" {
			vars["after"] = after
		}
		srv.MustData(c.Token, `query($after: String) { employees(first: 3, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, vars, &got)
		for _, e := range got.Employees.Edges {
			require.False(t, seen[e.Node.ID], "no employee twice")
			seen[e.Node.ID] = true
		}
		if !got.Employees.PageInfo.HasNextPage {
			break
		}
		after = *got.Employees.PageInfo.EndCursor
	}
	require.Len(t, seen, 8)

	var entries struct {
		TimeEntries struct {
			TotalCount int
			Nodes      []struct{ StartTime time.Time }
			PageInfo   struct{ HasNextPage bool }
		}
	}
	srv.MustData(c.Token, `query($e: ID!) { timeEntries(filter: {employeeId: $e}, first: 2) { totalCount nodes { startTime } pageInfo { hasNextPage } } }`,
		map[string]any{"e": c.Employees[0].ID}, &entries)
	require.Equal(t, 3, entries.TimeEntries.TotalCount)
	require.True(t, entries.TimeEntries.PageInfo.HasNextPage)
	require.True(t, entries.TimeEntries.Nodes[0].StartTime.After(entries.TimeEntries.Nodes[1].StartTime), "newest first")
}

func TestRunningTimerEdits(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	me := c.Employees[0]
	token := srv.Token(c.Tenant.ID, me.ID, "EMPLOYEE")

	t.Run("StartTimeCorrectedThenStopped", func(t *testing.T) {
		var started struct{ StartTimer struct{ ID string } }
		srv.MustData(token, `mutation($p: ID!) { startTimer(input: {projectId: $p}) { id } }`,
			map[string]any{"p": c.Projects[0].ID}, &started)
		earlier := time.Now().UTC().Add(-90 * time.Minute).Truncate(time.Second)
		var edited struct{ UpdateTimeEntry struct{ Running bool } }
		srv.MustData(token, `mutation($id: ID!, $s: Time!) { updateTimeEntry(id: $id, input: {startTime: $s}) { running } }`,
			map[string]any{"id": started.StartTimer.ID, "s": earlier.Format(time.RFC3339)}, &edited)
		require.True(t, edited.UpdateTimeEntry.Running)
		var stopped struct {
			StopTimer struct {
				ID              string
				DurationSeconds int
			}
		}
		srv.MustData(token, `mutation { stopTimer { id durationSeconds } }`, nil, &stopped)
		require.Equal(t, started.StartTimer.ID, stopped.StopTimer.ID)
		require.GreaterOrEqual(t, stopped.StopTimer.DurationSeconds, 90*60-5)
		var again struct{ StartTimer struct{ ID string } }
		srv.MustData(token, `mutation($p: ID!) { startTimer(input: {projectId: $p}) { id } }`,
			map[string]any{"p": c.Projects[0].ID}, &again)
		srv.MustData(token, `mutation { stopTimer { id } }`, nil, &stopped)
	})
	t.Run("DescriptionEditableAfterLeavingTheProject", func(t *testing.T) {
		var entries struct {
			TimeEntries struct {
				Nodes []struct {
					ID      string
					Project struct{ ID string }
				}
			}
		}
		srv.MustData(token, `query($e: ID!, $p: ID!) { timeEntries(filter: {employeeId: $e, projectId: $p}) { nodes { id project { id } } } }`,
			map[string]any{"e": me.ID, "p": c.Projects[0].ID}, &entries)
		require.NotEmpty(t, entries.TimeEntries.Nodes)
		_, err := srv.Store.RemoveProjectMember(context.Background(), c.Scope, c.Projects[0].ID, me.ID)
		require.NoError(t, err)
		var edited struct{ UpdateTimeEntry struct{ Description string } }
		srv.MustData(token, `mutation($id: ID!) { updateTimeEntry(id: $id, input: {description: "code review"}) { description } }`,
			map[string]any{"id": entries.TimeEntries.Nodes[0].ID}, &edited)
		require.Equal(t, "code review", edited.UpdateTimeEntry.Description)
		r := srv.Do(token, `mutation($id: ID!, $p: ID!) { updateTimeEntry(id: $id, input: {projectId: $p}) { id } }`,
			map[string]any{"id": entries.TimeEntries.Nodes[0].ID, "p": c.Projects[2].ID})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), "moving to a project still needs membership")
	})
}
