package graph_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/store"
)

// auditTrail is the tenant's whole trail, oldest first.
func auditTrail(t *testing.T, srv *apitest.Server, tenant uuid.UUID) []*store.AuditLog {
	t.Helper()
	page, err := srv.Store.ListAuditLogs(context.Background(), store.Scope{TenantID: tenant}, store.ListAuditLogsParams{},
		store.PageParams{First: store.MaxPageSize})
	require.NoError(t, err)
	slices.Reverse(page.Rows)
	return page.Rows
}

// mutationCase is one call of a mutation that must commit: the entry it must leave.
type mutationCase struct {
	token string
	query string
	vars  map[string]any
	// upload sends the request as a multipart upload instead.
	upload *uploadRequest
	// action (default: the field's name), resource type and changed fields of its entry; the
	// resource id is the one the result (or resourceID) names.
	action       []string
	resourceType string
	resourceID   func(data json.RawMessage) string
	changed      []string
}

func resultID(field string) func(json.RawMessage) string {
	return func(data json.RawMessage) string {
		var m map[string]struct{ ID string }
		_ = json.Unmarshal(data, &m)
		return m[field].ID
	}
}

// TestEveryMutationIsAudited walks every field of Mutation: each has a call that commits, and
// each call leaves exactly one entry — its action, the resource it changed, the names (never
// the values) of the fields it was given, who, from where — in the same chain, which verifies.
// A new mutation without a case here fails the test.
func TestEveryMutationIsAudited(t *testing.T) {
	t.Parallel()
	srv := uploadServer(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	ctx := context.Background()
	admin := srv.MFAToken(c.Tenant.ID, c.Admin.ID, "ADMIN")
	worker := c.Employees[0]
	employee := srv.Token(c.Tenant.ID, worker.ID, "EMPLOYEE")
	key, _, err := srv.Store.CreateAPIKey(ctx, c.Scope, store.APIKeyParams{Name: "old", Role: store.RoleBI})
	require.NoError(t, err)
	entry, err := srv.Store.CreateTimeEntry(ctx, c.Scope, store.TimeEntryParams{EmployeeID: &worker.ID, ProjectID: &c.Projects[0].ID,
		StartTime: apitest.Ptr(time.Now().Add(-20 * time.Hour).UTC()), EndTime: apitest.Ptr(time.Now().Add(-19 * time.Hour).UTC())})
	require.NoError(t, err)
	doomed, err := srv.Store.CreateTimeEntry(ctx, c.Scope, store.TimeEntryParams{EmployeeID: &worker.ID, ProjectID: &c.Projects[0].ID,
		StartTime: apitest.Ptr(time.Now().Add(-18 * time.Hour).UTC()), EndTime: apitest.Ptr(time.Now().Add(-17 * time.Hour).UTC())})
	require.NoError(t, err)
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	fixed := func(id uuid.UUID) func(json.RawMessage) string {
		return func(json.RawMessage) string { return id.String() }
	}
	emp, proj, task := worker.ID.String(), c.Projects[0].ID.String(), c.Tasks[0].ID.String()

	cases := map[string]mutationCase{
		"createEmployee": {token: admin, query: `mutation { createEmployee(input: {name: "New Hire", email: "new@acme.example"}) { id } }`,
			resourceType: "Employee", resourceID: resultID("createEmployee"), changed: []string{"email", "name"}},
		"updateEmployee": {token: admin, query: `mutation($id: ID!) { updateEmployee(id: $id, input: {name: "Renamed", hourlyRate: null}) { id } }`,
			vars: map[string]any{"id": emp}, resourceType: "Employee", resourceID: fixed(worker.ID), changed: []string{"hourlyRate", "name"}},
		"createProject": {token: admin, query: `mutation { createProject(input: {name: "Apollo", budgetHours: 10}) { id } }`,
			resourceType: "Project", resourceID: resultID("createProject"), changed: []string{"budgetHours", "name"}},
		"updateProject": {token: admin, query: `mutation($id: ID!) { updateProject(id: $id, input: {name: "Renamed"}) { id } }`,
			vars: map[string]any{"id": proj}, resourceType: "Project", resourceID: fixed(c.Projects[0].ID), changed: []string{"name"}},
		"addProjectMember": {token: admin, query: `mutation($p: ID!, $e: ID!) { addProjectMember(projectId: $p, employeeId: $e) { id } }`,
			vars: map[string]any{"p": c.Projects[2].ID, "e": emp}, resourceType: "Project", resourceID: fixed(c.Projects[2].ID),
			changed: []string{"employeeId"}},
		"removeProjectMember": {token: admin, query: `mutation($p: ID!, $e: ID!) { removeProjectMember(projectId: $p, employeeId: $e) { id } }`,
			vars: map[string]any{"p": c.Projects[1].ID, "e": c.Employees[1].ID}, resourceType: "Project",
			resourceID: fixed(c.Projects[1].ID), changed: []string{"employeeId"}},
		"createTask": {token: admin, query: `mutation($p: ID!) { createTask(input: {projectId: $p, title: "Write"}) { id } }`,
			vars: map[string]any{"p": proj}, resourceType: "Task", resourceID: resultID("createTask"), changed: []string{"projectId", "title"}},
		"updateTask": {token: admin, query: `mutation($id: ID!) { updateTask(id: $id, input: {title: "Rewrite"}) { id } }`,
			vars: map[string]any{"id": task}, resourceType: "Task", resourceID: fixed(c.Tasks[0].ID), changed: []string{"title"}},
		"startTimer": {token: employee, query: `mutation($p: ID!) { startTimer(input: {projectId: $p, description: "secret plans"}) { id } }`,
			vars: map[string]any{"p": proj}, resourceType: "TimeEntry", resourceID: resultID("startTimer"),
			changed: []string{"description", "projectId"}},
		"stopTimer": {token: employee, query: `mutation { stopTimer { id } }`, resourceType: "TimeEntry", resourceID: resultID("stopTimer"),
			changed: []string{}},
		"createTimeEntry": {token: employee, query: `mutation($p: ID!, $s: Time!, $e: Time!) {
			createTimeEntry(input: {projectId: $p, startTime: $s, endTime: $e}) { id } }`,
			vars: map[string]any{"p": proj, "s": at(-30 * time.Hour), "e": at(-29 * time.Hour)}, resourceType: "TimeEntry",
			resourceID: resultID("createTimeEntry"), changed: []string{"endTime", "projectId", "startTime"}},
		"updateTimeEntry": {token: employee, query: `mutation($id: ID!) { updateTimeEntry(id: $id, input: {billable: false}) { id } }`,
			vars: map[string]any{"id": entry.ID}, resourceType: "TimeEntry", resourceID: fixed(entry.ID), changed: []string{"billable"}},
		"deleteTimeEntry": {token: employee, query: `mutation($id: ID!) { deleteTimeEntry(id: $id) }`,
			vars: map[string]any{"id": doomed.ID}, resourceType: "TimeEntry", resourceID: fixed(doomed.ID), changed: []string{}},
		"createApiKey": {token: admin, query: `mutation { createApiKey(input: {name: "Looker", role: BI}) { key { id } } }`,
			resourceType: "ApiKey", changed: []string{"name", "role"}, resourceID: func(data json.RawMessage) string {
				var m struct {
					CreateApiKey struct{ Key struct{ ID string } }
				}
				_ = json.Unmarshal(data, &m)
				return m.CreateApiKey.Key.ID
			}},
		"revokeApiKey": {token: admin, query: `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, vars: map[string]any{"id": key.ID},
			resourceType: "ApiKey", resourceID: fixed(key.ID), changed: []string{}},
		"setScreenshotBlur": {token: admin, query: `mutation { setScreenshotBlur(enabled: true) { blur } }`, changed: []string{"enabled"}},
		"uploadScreenshot": {token: employee, upload: &uploadRequest{token: employee, capturedAt: time.Now().Add(-time.Minute),
			file: screenPNG(t, 64, 48), filename: "screen.png"}, resourceType: "Screenshot", resourceID: resultID("uploadScreenshot"),
			changed: []string{"capturedAt", "file"}},
		"registerOperations": {token: admin, query: `mutation($ops: [PersistedOperationInput!]!) { registerOperations(operations: $ops) { id } }`,
			vars: map[string]any{"ops": []any{operationInput("Me", "QUERY", `query Me { me { id } }`)}}},
		"setEmployeePII": {token: admin, query: `mutation($id: ID!) { setEmployeePII(employeeId: $id, input: {ssn: "123-45-6789"}) { id } }`,
			vars: map[string]any{"id": emp}, resourceType: "Employee", resourceID: fixed(worker.ID), changed: []string{"ssn"}},
		"revealEmployeePII": {token: admin, query: `mutation($id: ID!) { revealEmployeePII(employeeId: $id, fields: [SSN], reason: "payroll") { ssn } }`,
			vars: map[string]any{"id": emp}, action: []string{"pii.reveal"}, resourceType: "Employee", resourceID: fixed(worker.ID)},
		"exportEmployeeData": {token: admin, query: `mutation($id: ID!) { exportEmployeeData(employeeId: $id) { generatedAt } }`,
			vars: map[string]any{"id": emp}, action: []string{"pii.export"}, resourceType: "Employee", resourceID: fixed(worker.ID)},
		"eraseEmployeePII": {token: admin, query: `mutation($id: ID!) { eraseEmployeePII(employeeId: $id) { id } }`,
			vars: map[string]any{"id": c.Employees[1].ID}, action: []string{"eraseEmployeePII", "pii.erase"}, resourceType: "Employee",
			resourceID: fixed(c.Employees[1].ID)},
	}
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var order []string
	for _, f := range schema.Mutation.Fields {
		if !strings.HasPrefix(f.Name, "__") {
			order = append(order, f.Name)
		}
	}
	for name := range cases {
		require.Contains(t, order, name, "a case for a mutation the schema no longer has")
	}
	// In the schema's order, which puts the timer's start before its stop.
	for _, name := range order {
		tc, ok := cases[name]
		if !ok {
			t.Errorf("mutation %s has no case here: add one, so that its audit entry is checked", name)
			continue
		}
		before := auditTrail(t, srv, c.Tenant.ID)
		var r apitest.Response
		if tc.upload != nil {
			r = tc.upload.send(t, srv)
		} else {
			r = srv.Do(tc.token, tc.query, tc.vars)
		}
		after := auditTrail(t, srv, c.Tenant.ID)
		require.Empty(t, r.Errors, name)
		require.Len(t, after, len(before)+1, "%s committed one entry", name)
		got := after[len(after)-1]
		actions := tc.action
		if actions == nil {
			actions = []string{name}
		}
		require.Contains(t, actions, got.Action, name)
		if tc.resourceType != "" {
			require.Equal(t, tc.resourceType, *got.ResourceType, name)
			require.Equal(t, tc.resourceID(r.Data), got.ResourceID.String(), name)
		}
		if tc.changed != nil {
			require.Equal(t, tc.changed, got.ChangedFields, name)
		}
		require.Equal(t, store.AuditActorEmployee, got.ActorType)
		require.NotNil(t, got.RequestID, name)
		require.Equal(t, "127.0.0.1", *got.ClientIP, name)
		require.Contains(t, *got.UserAgent, "Go-http-client", name)
		if tc.token == employee {
			require.Equal(t, worker.ID, *got.ActorID, name)
		} else {
			require.Equal(t, c.Admin.ID, *got.ActorID, name)
		}
		for _, v := range []string{"secret plans", "New Hire", "Renamed", "123-45-6789"} {
			raw, _ := json.Marshal(got)
			require.NotContains(t, string(raw), v, "values are never recorded")
		}
	}
	v, err := srv.Store.VerifyAudit(ctx, c.Tenant.ID)
	require.NoError(t, err)
	require.Nil(t, v.Break)
}

// A mutation that fails records nothing; one refused by a directive records only a security
// event — a reveal without MFA among them.
func TestRefusedMutationsRecordOnlySecurityEvents(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	worker := c.Employees[0]
	employee := srv.Token(c.Tenant.ID, worker.ID, "EMPLOYEE")

	r := srv.Do(c.Token, `mutation($id: ID!) { revealEmployeePII(employeeId: $id, fields: [SSN], reason: "curious") { ssn } }`,
		map[string]any{"id": worker.ID})
	require.Equal(t, "MFA_REQUIRED", r.Errors[0].Code())
	r = srv.Do(c.Token, `mutation { createEmployee(input: {name: "Dup", email: "E0@ACME.example"}) { id } }`, nil)
	require.Equal(t, "CONFLICT", r.Errors[0].Code())
	for range 3 {
		r = srv.Do(employee, `{ auditLogs { nodes { id } } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	}
	require.Empty(t, auditTrail(t, srv, c.Tenant.ID), "refusals are aggregated, not written one by one")

	srv.SecurityEvents.Flush(context.Background())
	trail := auditTrail(t, srv, c.Tenant.ID)
	require.Len(t, trail, 2, "one entry per actor, kind and field, whatever the count")
	byAction := map[string]*store.AuditLog{}
	for _, l := range trail {
		byAction[l.Action] = l
	}
	mfa := byAction["security.mfa_required"]
	require.NotNil(t, mfa)
	require.Equal(t, c.Admin.ID, *mfa.ActorID)
	require.Equal(t, "revealEmployeePII", *mfa.Reason)
	require.Equal(t, 1, mfa.Count)
	denied := byAction["security.permission_denied"]
	require.NotNil(t, denied)
	require.Equal(t, worker.ID, *denied.ActorID)
	require.Equal(t, "auditLogs", *denied.Reason)
	require.Equal(t, 3, denied.Count)
	require.Equal(t, "127.0.0.1", *denied.ClientIP)

	srv.SecurityEvents.Flush(context.Background())
	require.Len(t, auditTrail(t, srv, c.Tenant.ID), 2, "a flush with nothing held writes nothing")
}

// Rate-limit refusals and inactive accounts are security events of their tenant; a bad token
// has no trustworthy tenant and is recorded in none (logs and metrics only).
func TestSecurityEventsOfLimitsAndAccounts(t *testing.T) {
	t.Parallel()
	tiers := ratelimit.DefaultTiers()
	tiers.ByRole["EMPLOYEE"] = ratelimit.PerSecond(15, 1)
	srv := apitest.New(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: tiers}, AccountTTL: -1})
	c := newCompany(t, srv, "acme", 2)
	employee := srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE")
	limited := 0
	for range 3 {
		if r := srv.Do(employee, `{ employees(first: 10) { nodes { id } } }`, nil); len(r.Errors) > 0 && r.Errors[0].Code() == "RATE_LIMITED" {
			limited++
		}
	}
	require.Positive(t, limited)
	leaver := c.Employees[1]
	_, err := srv.Store.UpdateEmployee(context.Background(), c.Scope, leaver.ID, store.EmployeeParams{Status: apitest.Ptr(store.EmployeeTerminated)})
	require.NoError(t, err)
	r := srv.Do(srv.Token(c.Tenant.ID, leaver.ID, "EMPLOYEE"), `{ me { id } }`, nil)
	require.Equal(t, 401, r.Status)
	r = srv.Do("not-a-token", `{ me { id } }`, nil)
	require.Equal(t, 401, r.Status)

	srv.SecurityEvents.Flush(context.Background())
	trail := auditTrail(t, srv, c.Tenant.ID)
	require.Len(t, trail, 2, "%v", trail)
	actions := map[string]*store.AuditLog{}
	for _, l := range trail {
		actions[l.Action] = l
	}
	require.Equal(t, limited, actions["security.rate_limited"].Count)
	require.Equal(t, "employees", *actions["security.rate_limited"].Reason)
	failed := actions["security.authentication_failed"]
	require.Equal(t, leaver.ID, *failed.ActorID)
	require.Equal(t, "inactive_account", *failed.Reason)
}

// auditLogs: ADMIN and AUDITOR only; never another tenant's entries; newest first with Relay
// cursors; filters by actor, action, resource and time; hashes in hex, chained.
func TestAuditLogsQuery(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	other := newCompany(t, srv, "globex", 1)
	ctx := context.Background()
	admin := srv.MFAToken(c.Tenant.ID, c.Admin.ID, "ADMIN")
	for i := range 3 {
		srv.MustData(admin, `mutation($id: ID!, $n: String!) { updateEmployee(id: $id, input: {name: $n}) { id } }`,
			map[string]any{"id": c.Employees[i%2].ID, "n": fmt.Sprintf("Name %d", i)}, &struct{}{})
	}
	srv.MustData(admin, `mutation { createProject(input: {name: "Zeus"}) { id } }`, nil, &struct{}{})
	otherAdmin := srv.MFAToken(other.Tenant.ID, other.Admin.ID, "ADMIN")
	srv.MustData(otherAdmin, `mutation { createProject(input: {name: "Globex secret"}) { id } }`, nil, &struct{}{})

	type page struct {
		AuditLogs struct {
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
			Nodes []struct {
				ID, Action, ActorType, ActorID, ResourceType, ResourceID, Hash, PreviousHash string
				ChangedFields                                                                []string
				Count                                                                        int
				OccurredAt                                                                   time.Time
			}
		}
	}
	list := `query($f: AuditLogFilter, $first: Int, $after: String) { auditLogs(filter: $f, first: $first, after: $after) {
		pageInfo { hasNextPage endCursor } nodes { id action actorType actorId resourceType resourceId hash previousHash changedFields count occurredAt } } }`

	t.Run("Roles", func(t *testing.T) {
		_, biKey, err := srv.Store.CreateAPIKey(ctx, c.Scope, store.APIKeyParams{Name: "BI", Role: store.RoleBI})
		require.NoError(t, err)
		_, agentKey, err := srv.Store.CreateAPIKey(ctx, c.Scope, store.APIKeyParams{Name: "Laptop", Role: store.RoleAgent,
			EmployeeID: &c.Employees[0].ID})
		require.NoError(t, err)
		for role, tok := range map[string]string{"ADMIN": admin, "AUDITOR": srv.Token(c.Tenant.ID, c.Employees[1].ID, "AUDITOR")} {
			var p page
			srv.MustData(tok, list, nil, &p)
			require.Len(t, p.AuditLogs.Nodes, 4, role)
		}
		for role, tok := range map[string]string{"HR": srv.Token(c.Tenant.ID, c.Admin.ID, "HR"),
			"MANAGER": srv.Token(c.Tenant.ID, c.Admin.ID, "MANAGER"), "EMPLOYEE": srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE"),
			"BI": biKey, "AGENT": agentKey, "none": srv.Token(c.Tenant.ID, c.Admin.ID)} {
			r := srv.Do(tok, list, nil)
			require.Len(t, r.Errors, 1, role)
			require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), role)
			require.JSONEq(t, "null", string(r.Data), role)
		}
	})
	t.Run("Tenants", func(t *testing.T) {
		var p page
		srv.MustData(otherAdmin, list, nil, &p)
		require.Len(t, p.AuditLogs.Nodes, 1)
		require.Equal(t, "createProject", p.AuditLogs.Nodes[0].Action)
		require.Equal(t, other.Admin.ID.String(), p.AuditLogs.Nodes[0].ActorID)
		srv.MustData(otherAdmin, list, map[string]any{"f": map[string]any{"actorId": c.Admin.ID}}, &p)
		require.Empty(t, p.AuditLogs.Nodes, "another tenant's actor finds nothing")
	})
	t.Run("Pagination", func(t *testing.T) {
		var all []string
		after := any(nil)
		var prevHash string
		for {
			var p page
			srv.MustData(admin, list, map[string]any{"first": 3, "after": after}, &p)
			for _, n := range p.AuditLogs.Nodes {
				all = append(all, n.Action)
				require.Len(t, n.Hash, 64)
				_, err := hex.DecodeString(n.Hash)
				require.NoError(t, err)
				if prevHash != "" {
					require.Equal(t, n.Hash, prevHash, "newest first: each entry is the previous hash of the one after")
				}
				prevHash = n.PreviousHash
			}
			if !p.AuditLogs.PageInfo.HasNextPage {
				break
			}
			after = p.AuditLogs.PageInfo.EndCursor
		}
		require.Equal(t, []string{"createProject", "updateEmployee", "updateEmployee", "updateEmployee"}, all)
		require.Equal(t, strings.Repeat("0", 64), prevHash, "the first entry chains from the genesis hash")
		r := srv.Do(admin, list, map[string]any{"after": "bm90LWEtY3Vyc29y"})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		r = srv.Do(admin, list, map[string]any{"first": 101})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
	})
	t.Run("Filters", func(t *testing.T) {
		var p page
		srv.MustData(admin, list, map[string]any{"f": map[string]any{"action": "updateEmployee"}}, &p)
		require.Len(t, p.AuditLogs.Nodes, 3)
		srv.MustData(admin, list, map[string]any{"f": map[string]any{"resourceType": "Employee", "resourceId": c.Employees[0].ID}}, &p)
		require.Len(t, p.AuditLogs.Nodes, 2)
		require.Equal(t, []string{"name"}, p.AuditLogs.Nodes[0].ChangedFields)
		srv.MustData(admin, list, map[string]any{"f": map[string]any{"actorId": c.Admin.ID}}, &p)
		require.Len(t, p.AuditLogs.Nodes, 4)
		srv.MustData(admin, list, map[string]any{"f": map[string]any{"actorId": c.Employees[0].ID}}, &p)
		require.Empty(t, p.AuditLogs.Nodes)
		now := time.Now().UTC()
		srv.MustData(admin, list, map[string]any{"f": map[string]any{"from": now.Add(-time.Hour), "to": now.Add(time.Hour)}}, &p)
		require.Len(t, p.AuditLogs.Nodes, 4)
		srv.MustData(admin, list, map[string]any{"f": map[string]any{"to": now.Add(-time.Hour)}}, &p)
		require.Empty(t, p.AuditLogs.Nodes)
		r := srv.Do(admin, list, map[string]any{"f": map[string]any{"from": now, "to": now.Add(-time.Hour)}})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		r = srv.Do(admin, list, map[string]any{"f": map[string]any{"actorId": "42"}})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
	})
}
