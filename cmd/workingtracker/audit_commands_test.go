package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/store"
)

// commandTrail is the actions of tenant slug's audit trail, oldest first, each with its actor
// type and reason.
func commandTrail(t *testing.T, s *store.Store, slug string) []string {
	t.Helper()
	ctx := context.Background()
	tenant, err := s.TenantBySlug(ctx, slug)
	require.NoError(t, err)
	page, err := s.ListAuditLogs(ctx, store.Scope{TenantID: tenant.ID}, store.ListAuditLogsParams{}, store.PageParams{First: store.MaxPageSize})
	require.NoError(t, err)
	var out []string
	for i := len(page.Rows) - 1; i >= 0; i-- {
		l := page.Rows[i]
		reason := ""
		if l.Reason != nil {
			reason = *l.Reason
		}
		out = append(out, l.Action+" "+l.ActorType+" "+reason)
	}
	v, err := s.VerifyAudit(ctx, tenant.ID)
	require.NoError(t, err)
	require.Nil(t, v.Break, "the chain verifies")
	return out
}
