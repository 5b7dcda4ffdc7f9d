package graph_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
)

// A refusal's security event names the schema's field, never the client's alias: aliases are
// the client's text, so each request would otherwise be a new aggregate (a flood past the
// window's bound with one token) and write what the client chose into the trail. Fragments
// on the root type resolve too.
func TestSecurityEventsNameFieldsNotAliases(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	employee := srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE")
	for i := range 20 {
		r := srv.Do(employee, fmt.Sprintf(`{ me { id } alias_%d: auditLogs { nodes { id } } }`, i), nil)
		require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	}
	r := srv.Do(employee, `query { ...Q } fragment Q on Query { hidden: auditLogs { nodes { id } } }`, nil)
	require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	srv.SecurityEvents.Flush(context.Background())
	trail := auditTrail(t, srv, c.Tenant.ID)
	require.Len(t, trail, 1, "one aggregate")
	require.Equal(t, "security.permission_denied", trail[0].Action)
	require.Equal(t, "auditLogs", *trail[0].Reason)
	require.Equal(t, 21, trail[0].Count)
}
