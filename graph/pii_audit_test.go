package graph_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
)

// TestPIIAccessIsInTheAuditTrail: every look at personal data — a reveal, a search by
// identifier (found or not), an export — is an entry of the tenant's trail that an AUDITOR reads
// through auditLogs, with the fields' names and the reason, never a value; a reveal refused for
// want of a second factor leaves nothing but its security event.
func TestPIIAccessIsInTheAuditTrail(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newPIITenant(t, srv, "acme")
	target := c.other
	values := c.values[target.ID]
	auditor := srv.Token(c.Tenant.ID, c.auditor.ID, "AUDITOR")
	const trail = `query($a: String) { auditLogs(filter: {action: $a}, first: 10) { nodes {
		action actorType actorId resourceType resourceId changedFields reason count } } }`
	entries := func(action string) []map[string]any {
		t.Helper()
		var got struct {
			AuditLogs struct{ Nodes []map[string]any }
		}
		srv.MustData(auditor, trail, map[string]any{"a": action}, &got)
		return got.AuditLogs.Nodes
	}

	srv.MustData(c.hrMFA, revealPII, map[string]any{"id": target.ID, "f": []string{"SSN", "BANK_ACCOUNT"}, "why": "payroll check"}, &struct{}{})
	reveals := entries("pii.reveal")
	require.Len(t, reveals, 1)
	require.Equal(t, "EMPLOYEE", reveals[0]["actorType"])
	require.Equal(t, c.hr.ID.String(), reveals[0]["actorId"])
	require.Equal(t, target.ID.String(), reveals[0]["resourceId"])
	require.Equal(t, []any{"SSN", "BANK_ACCOUNT"}, reveals[0]["changedFields"])
	require.Equal(t, "payroll check", reveals[0]["reason"])

	srv.MustData(c.hrMFA, searchPII, map[string]any{"f": "SSN", "v": values.SSN}, &struct{}{})
	srv.MustData(c.hrMFA, searchPII, map[string]any{"f": "TAX_ID", "v": "98-7654321"}, &struct{}{})
	searches := entries("pii.search")
	require.Len(t, searches, 2, "a search is recorded whether or not it finds someone")
	require.Equal(t, []any{"TAX_ID"}, searches[0]["changedFields"], "newest first")
	require.Equal(t, []any{"SSN"}, searches[1]["changedFields"])

	srv.MustData(c.hrMFA, exportPII, map[string]any{"id": target.ID}, &struct{}{})
	require.Len(t, entries("pii.export"), 1)

	// Without a second factor: refused, and the only trace is the aggregated security event.
	before := len(auditTrail(t, srv, c.Tenant.ID))
	r := srv.Do(srv.Token(c.Tenant.ID, c.hr.ID, "HR"), revealPII, map[string]any{"id": target.ID, "f": []string{"SSN"}, "why": "x"})
	require.Equal(t, "MFA_REQUIRED", r.Errors[0].Extensions["code"])
	require.Len(t, entries("pii.reveal"), 1, "no reveal recorded")
	srv.SecurityEvents.Flush(context.Background())
	after := auditTrail(t, srv, c.Tenant.ID)
	require.Len(t, after, before+1)
	require.Equal(t, "security.mfa_required", after[len(after)-1].Action)

	for _, e := range auditTrail(t, srv, c.Tenant.ID) {
		for _, v := range []string{values.SSN, values.IBAN, values.TaxID} {
			require.NotContains(t, e.ChangedFields, v)
			if e.Reason != nil {
				require.NotContains(t, *e.Reason, v)
			}
		}
	}
}
