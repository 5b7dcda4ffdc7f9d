package graph_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/store"
)

// The write-reach matrix: every role against every mutation of projects, tasks and employees,
// on rows the caller reaches and rows it does not. Each cell is "ok" or the error code; a
// refused write leaves every row as it was (updated_at included).
//
// The rules (package policy): an ADMIN changes every project; a MANAGER the projects with a
// member in their reach ("ours": their report is a member; "theirs": only someone else's),
// assigning and unassigning only people in reach; HR and ADMIN edit employees, but nobody their
// own hourlyRate, and an ADMIN's name, email, status and role only an ADMIN with MFA.
func TestWriteReachMatrix(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	ctx := context.Background()
	person := func(name, role string, manager uuid.UUID) *store.Employee {
		t.Helper()
		e, err := srv.Store.CreateEmployee(ctx, c.Scope, store.EmployeeParams{Name: ptr(name),
			Email: ptr(name + "@acme.example"), Role: ptr(role), ManagerID: &manager})
		require.NoError(t, err)
		return e
	}
	hr := person("hr", store.RoleHR, c.Admin.ID)
	manager := person("manager", store.RoleManager, c.Admin.ID)
	report := person("report", store.RoleEmployee, manager.ID)
	newcomer := person("newcomer", store.RoleEmployee, manager.ID) // a report on no project yet
	other := person("other", store.RoleEmployee, c.Admin.ID)       // out of the manager's reach
	auditor := person("auditor", store.RoleAuditor, c.Admin.ID)
	people := []uuid.UUID{c.Admin.ID, hr.ID, manager.ID, report.ID, newcomer.ID, other.ID, auditor.ID}

	mfa, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: c.Tenant.ID, EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"}, MFA: true, TTL: time.Hour})
	require.NoError(t, err)
	actors := []struct {
		name  string
		id    uuid.UUID
		token string
	}{
		{"ADMIN", c.Admin.ID, srv.Token(c.Tenant.ID, c.Admin.ID, "ADMIN")},
		{"ADMIN+MFA", c.Admin.ID, mfa},
		{"HR", hr.ID, srv.Token(c.Tenant.ID, hr.ID, "HR")},
		{"MANAGER", manager.ID, srv.Token(c.Tenant.ID, manager.ID, "MANAGER")},
		{"EMPLOYEE", report.ID, srv.Token(c.Tenant.ID, report.ID, "EMPLOYEE")},
		{"AUDITOR", auditor.ID, srv.Token(c.Tenant.ID, auditor.ID, "AUDITOR")},
		{"NoRole", report.ID, srv.Token(c.Tenant.ID, report.ID, "INTERN")},
	}

	// Each cell gets rows of its own, so one cell's write cannot change another's outcome.
	type rows struct {
		ours, theirs                 *store.Project
		oursTask, theirsTask, shared *store.Task // shared: on ours, assigned to other
		actor                        uuid.UUID
	}
	var projectIDs []uuid.UUID
	newRows := func(actor uuid.UUID) rows {
		t.Helper()
		project := func(name string, members ...uuid.UUID) *store.Project {
			p, err := srv.Store.CreateProject(ctx, c.Scope, store.ProjectParams{Name: ptr(name)})
			require.NoError(t, err)
			projectIDs = append(projectIDs, p.ID)
			for _, m := range members {
				_, err := srv.Store.AddProjectMember(ctx, c.Scope, p.ID, m)
				require.NoError(t, err)
			}
			return p
		}
		task := func(p *store.Project, assignee uuid.UUID) *store.Task {
			tk, err := srv.Store.CreateTask(ctx, c.Scope, store.TaskParams{ProjectID: &p.ID, Title: ptr("task"), AssigneeID: &assignee})
			require.NoError(t, err)
			return tk
		}
		r := rows{ours: project("ours", report.ID, other.ID), theirs: project("theirs", other.ID), actor: actor}
		r.oursTask, r.theirsTask, r.shared = task(r.ours, report.ID), task(r.theirs, other.ID), task(r.ours, other.ID)
		return r
	}
	// Everything a mutation here could write, as the tenant-wide scope reads it.
	snapshot := func() string {
		t.Helper()
		projects, err := srv.Store.ProjectsByIDs(ctx, c.Scope, projectIDs)
		require.NoError(t, err)
		slices.SortFunc(projects, func(a, b *store.Project) int { return strings.Compare(a.ID.String(), b.ID.String()) })
		members, err := srv.Store.MembersByProjectIDs(ctx, c.Scope, projectIDs, 100)
		require.NoError(t, err)
		tasks, err := srv.Store.TasksByProjectIDs(ctx, c.Scope, projectIDs, 100)
		require.NoError(t, err)
		employees, err := srv.Store.EmployeesByIDs(ctx, c.Scope, people)
		require.NoError(t, err)
		slices.SortFunc(employees, func(a, b *store.Employee) int { return strings.Compare(a.ID.String(), b.ID.String()) })
		count, err := srv.Store.CountProjects(ctx, c.Scope, store.ListProjectsParams{})
		require.NoError(t, err)
		out, err := json.Marshal([]any{projects, members, tasks, employees, count})
		require.NoError(t, err)
		return string(out)
	}

	updateEmployee := `mutation($id: ID!, $in: UpdateEmployeeInput!) { updateEmployee(id: $id, input: $in) { id } }`
	updateTask := `mutation($id: ID!, $in: UpdateTaskInput!) { updateTask(id: $id, input: $in) { id } }`
	addMember := `mutation($p: ID!, $e: ID!) { addProjectMember(projectId: $p, employeeId: $e) { id } }`
	removeMember := `mutation($p: ID!, $e: ID!) { removeProjectMember(projectId: $p, employeeId: $e) { id } }`
	admins := map[string]string{"ADMIN": "ok", "ADMIN+MFA": "ok"}
	projectWriters := map[string]string{"ADMIN": "ok", "ADMIN+MFA": "ok", "MANAGER": "ok"}
	employeeEditors := map[string]string{"ADMIN": "ok", "ADMIN+MFA": "ok", "HR": "ok"}
	type writeCase struct {
		name  string
		query string
		vars  func(rows) map[string]any
		want  map[string]string // roles left out: FORBIDDEN
	}
	cases := []writeCase{
		{"CreateProject", `mutation { createProject(input: {name: "New"}) { id } }`,
			func(rows) map[string]any { return nil }, projectWriters},
		{"UpdateProject/Ours", `mutation($id: ID!) { updateProject(id: $id, input: {name: "Renamed"}) { id } }`,
			func(r rows) map[string]any { return map[string]any{"id": r.ours.ID} }, projectWriters},
		{"UpdateProject/Theirs", `mutation($id: ID!) { updateProject(id: $id, input: {name: "Renamed"}) { id } }`,
			func(r rows) map[string]any { return map[string]any{"id": r.theirs.ID} }, admins},
		{"AddProjectMember/Ours", addMember,
			func(r rows) map[string]any { return map[string]any{"p": r.ours.ID, "e": newcomer.ID} }, projectWriters},
		{"AddProjectMember/Theirs", addMember,
			func(r rows) map[string]any { return map[string]any{"p": r.theirs.ID, "e": newcomer.ID} }, admins},
		{"RemoveProjectMember/Ours", removeMember,
			func(r rows) map[string]any { return map[string]any{"p": r.ours.ID, "e": report.ID} }, projectWriters},
		{"RemoveProjectMember/Theirs", removeMember,
			func(r rows) map[string]any { return map[string]any{"p": r.theirs.ID, "e": other.ID} }, admins},
		{"CreateTask/Ours", `mutation($p: ID!, $a: ID!) { createTask(input: {projectId: $p, title: "x", assigneeId: $a}) { id } }`,
			func(r rows) map[string]any { return map[string]any{"p": r.ours.ID, "a": report.ID} }, projectWriters},
		{"CreateTask/Theirs", `mutation($p: ID!) { createTask(input: {projectId: $p, title: "x"}) { id } }`,
			func(r rows) map[string]any { return map[string]any{"p": r.theirs.ID} }, admins},
		{"UpdateTask/Ours", updateTask,
			func(r rows) map[string]any {
				return map[string]any{"id": r.oursTask.ID, "in": map[string]any{"title": "y"}}
			}, projectWriters},
		{"UpdateTask/Theirs", updateTask,
			func(r rows) map[string]any {
				return map[string]any{"id": r.theirsTask.ID, "in": map[string]any{"title": "y"}}
			}, admins},
		{"UpdateTask/Ours/UnassignReport", updateTask,
			func(r rows) map[string]any {
				return map[string]any{"id": r.oursTask.ID, "in": map[string]any{"assigneeId": nil}}
			}, projectWriters},
		{"UpdateTask/Theirs/Unassign", updateTask,
			func(r rows) map[string]any {
				return map[string]any{"id": r.theirsTask.ID, "in": map[string]any{"assigneeId": nil}}
			}, admins},
		{"UpdateTask/Ours/UnassignOutOfReach", updateTask,
			func(r rows) map[string]any {
				return map[string]any{"id": r.shared.ID, "in": map[string]any{"assigneeId": nil}}
			}, admins},
		{"UpdateTask/Ours/ReassignOutOfReach", updateTask,
			func(r rows) map[string]any {
				return map[string]any{"id": r.shared.ID, "in": map[string]any{"assigneeId": report.ID}}
			}, admins},
		{"UpdateEmployee/Name", updateEmployee,
			func(rows) map[string]any {
				return map[string]any{"id": report.ID, "in": map[string]any{"name": "report"}}
			}, employeeEditors},
		{"UpdateEmployee/HourlyRate", updateEmployee,
			func(rows) map[string]any {
				return map[string]any{"id": report.ID, "in": map[string]any{"hourlyRate": 42.0}}
			}, employeeEditors},
		{"UpdateEmployee/OwnHourlyRate", updateEmployee,
			func(r rows) map[string]any {
				return map[string]any{"id": r.actor, "in": map[string]any{"hourlyRate": 99.0}}
			}, nil},
		{"UpdateEmployee/OwnName", updateEmployee, // allowed roles editing themselves; the ADMIN is an ADMIN
			func(r rows) map[string]any { return map[string]any{"id": r.actor, "in": map[string]any{"name": "me"}} },
			map[string]string{"ADMIN": "MFA_REQUIRED", "ADMIN+MFA": "ok", "HR": "ok"}},
		{"UpdateEmployee/AdminHourlyRate", updateEmployee, // HR may; the ADMIN would be setting their own
			func(rows) map[string]any {
				return map[string]any{"id": c.Admin.ID, "in": map[string]any{"hourlyRate": 50.0}}
			},
			map[string]string{"HR": "ok"}},
	}
	for _, field := range []struct{ name, value string }{{"name", "Admin of acme"}, {"email", "admin@acme.example"}, {"status", "ACTIVE"}} {
		cases = append(cases, writeCase{"UpdateEmployee/AdminIdentity/" + field.name, updateEmployee,
			func(rows) map[string]any {
				return map[string]any{"id": c.Admin.ID, "in": map[string]any{field.name: field.value}}
			},
			map[string]string{"ADMIN": "MFA_REQUIRED", "ADMIN+MFA": "ok"}})
	}
	for _, tc := range cases {
		for _, a := range actors {
			want := tc.want[a.name]
			if want == "" {
				want = "FORBIDDEN"
			}
			t.Run(tc.name+"/"+a.name+"/"+want, func(t *testing.T) {
				vars := tc.vars(newRows(a.id))
				before := snapshot()
				r := srv.Do(a.token, tc.query, vars)
				if want == "ok" {
					require.Empty(t, r.Errors, "%+v", r.Errors)
					return
				}
				require.Len(t, r.Errors, 1)
				require.Equal(t, want, r.Errors[0].Code(), r.Errors[0].Message)
				require.Equal(t, before, snapshot(), "a refused write changes nothing")
			})
		}
	}

	// A project a MANAGER creates is theirs to manage: they are its first member.
	t.Run("ManagerManagesTheProjectTheyCreate", func(t *testing.T) {
		asManager := actors[3].token
		var made struct{ CreateProject struct{ ID string } }
		srv.MustData(asManager, `mutation { createProject(input: {name: "Mine"}) { id } }`, nil, &made)
		var got struct {
			UpdateProject struct{ Members []struct{ ID string } }
		}
		srv.MustData(asManager, `mutation($id: ID!) { updateProject(id: $id, input: {budgetHours: 10}) { members { id } } }`,
			map[string]any{"id": made.CreateProject.ID}, &got)
		require.Equal(t, []struct{ ID string }{{manager.ID.String()}}, got.UpdateProject.Members)
	})
}
