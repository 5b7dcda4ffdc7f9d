package audit_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/audit"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/store"
)

type recorded struct {
	mu      sync.Mutex
	entries []store.AuditEntry
}

func (r *recorded) AppendAudit(_ context.Context, _ store.Scope, e store.AuditEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
	return nil
}

// A flood is bounded: occurrences of one key only count up; keys beyond MaxPending are dropped
// (counted), so a window writes at most MaxPending entries whatever arrives.
func TestSecurityEventsAreBounded(t *testing.T) {
	t.Parallel()
	rec := &recorded{}
	reg := prometheus.NewRegistry()
	ev := audit.NewSecurityEvents(rec, audit.SecurityEventsOpts{MaxPending: 3, Registerer: reg})
	tenant := uuid.New()
	as := func(id uuid.UUID) context.Context {
		return auth.WithPrincipal(context.Background(), &auth.Principal{TenantID: tenant, EmployeeID: id, Roles: []string{"EMPLOYEE"}})
	}
	flooder := uuid.New()
	for range 10_000 {
		ev.Record(as(flooder), audit.KindPermissionDenied, "auditLogs")
	}
	for range 10 {
		ev.Record(as(uuid.New()), audit.KindRateLimited, "employees")
	}
	ev.Record(context.Background(), audit.KindPermissionDenied, "x") // no principal: no tenant to write to
	ev.Flush(context.Background())
	require.Len(t, rec.entries, 3)
	counts := map[string]int{}
	for _, e := range rec.entries {
		counts[e.Action] += e.Count
	}
	require.Equal(t, 10_000, counts["security.permission_denied"])
	require.Equal(t, 2, counts["security.rate_limited"])
	require.InDelta(t, 8, testutil.ToFloat64(ev.DroppedCounter()), 0)

	rec.entries = nil
	ev.Flush(context.Background())
	require.Empty(t, rec.entries, "a new window starts empty")
}

func TestMutationEntryNamesFieldsNotValues(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	f := &ast.Field{Name: "updateEmployee", Arguments: ast.ArgumentList{
		{Name: "id", Value: &ast.Value{Kind: ast.Variable, Raw: "id"}},
		{Name: "input", Value: &ast.Value{Kind: ast.ObjectValue, Children: ast.ChildValueList{
			{Name: "name", Value: &ast.Value{Kind: ast.StringValue, Raw: "Secret Name"}},
			{Name: "hourlyRate", Value: &ast.Value{Kind: ast.NullValue}}}}}},
		Definition: &ast.FieldDefinition{Type: ast.NonNullNamedType("Employee", nil), Arguments: ast.ArgumentDefinitionList{
			{Name: "id", Type: ast.NonNullNamedType("ID", nil)}, {Name: "input", Type: ast.NonNullNamedType("UpdateEmployeeInput", nil)}}}}
	e := audit.MutationEntry(f, map[string]any{"id": id.String()})
	require.Equal(t, "updateEmployee", e.Action)
	require.Equal(t, "Employee", e.ResourceType)
	require.Equal(t, id, *e.ResourceID)
	require.Equal(t, []string{"hourlyRate", "name"}, e.ChangedFields)

	f = &ast.Field{Name: "addProjectMember", Arguments: ast.ArgumentList{
		{Name: "projectId", Value: &ast.Value{Kind: ast.StringValue, Raw: id.String()}},
		{Name: "employeeId", Value: &ast.Value{Kind: ast.StringValue, Raw: uuid.NewString()}}},
		Definition: &ast.FieldDefinition{Type: ast.NonNullNamedType("Project", nil), Arguments: ast.ArgumentDefinitionList{
			{Name: "projectId", Type: ast.NonNullNamedType("ID", nil)}, {Name: "employeeId", Type: ast.NonNullNamedType("ID", nil)}}}}
	e = audit.MutationEntry(f, nil)
	require.Equal(t, "Project", e.ResourceType)
	require.Equal(t, id, *e.ResourceID)
	require.Equal(t, []string{"employeeId"}, e.ChangedFields)
}

// One tenant's flood takes at most MaxPendingPerTenant aggregates of a window: another tenant's
// events are still recorded.
func TestSecurityEventsOfOneTenantCannotCrowdOutAnother(t *testing.T) {
	t.Parallel()
	rec := &recorded{}
	ev := audit.NewSecurityEvents(rec, audit.SecurityEventsOpts{MaxPending: 10, MaxPendingPerTenant: 4})
	as := func(tenant uuid.UUID) context.Context {
		return auth.WithPrincipal(context.Background(), &auth.Principal{TenantID: tenant, EmployeeID: uuid.New(), Roles: []string{"EMPLOYEE"}})
	}
	noisy, quiet := uuid.New(), uuid.New()
	for range 1000 {
		ev.Record(as(noisy), audit.KindPermissionDenied, "auditLogs") // a new actor each time
	}
	ev.Record(as(quiet), audit.KindPermissionDenied, "auditLogs")
	ev.Flush(context.Background())
	require.Len(t, rec.entries, 5, "4 of the noisy tenant's, and the quiet tenant's")
	require.InDelta(t, 996, testutil.ToFloat64(ev.DroppedCounter()), 0)
}
