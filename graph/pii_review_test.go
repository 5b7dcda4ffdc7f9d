package graph_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/store"
)

// TestEraseOfAnADMINNeedsAnADMIN: erasure replaces a person's name and e-mail, which for an ADMIN
// only an ADMIN with a second factor changes (as updateEmployee refuses HR). HR with MFA is
// refused and the ADMIN's record stays whole; another ADMIN with MFA may erase it.
func TestEraseOfAnADMINNeedsAnADMIN(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newPIITenant(t, srv, "acme")
	r := srv.Do(c.hrMFA, erasePII, map[string]any{"id": c.Admin.ID})
	require.Len(t, r.Errors, 1, "%s", r.Data)
	require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	require.Equal(t, "null", string(r.Data))
	var got struct{ Employee struct{ Name, Email string } }
	srv.MustData(c.adminMFA, `query($id: ID!) { employee(id: $id) { name email ssn } }`, map[string]any{"id": c.Admin.ID}, &got)
	require.Equal(t, c.Admin.Name, got.Employee.Name, "nothing was erased")
	require.Equal(t, c.Admin.Email, got.Employee.Email)
	var revealed struct{ RevealEmployeePII struct{ Ssn *string } }
	srv.MustData(c.adminMFA, revealPII, map[string]any{"id": c.Admin.ID, "f": []string{"SSN"}, "why": "check"}, &revealed)
	require.NotNil(t, revealed.RevealEmployeePII.Ssn, "the ADMIN's personal data is still there")

	second, err := srv.Store.CreateEmployee(context.Background(), c.Scope, store.EmployeeParams{Name: ptr("second admin"),
		Email: ptr("admin2@acme.example"), Role: ptr(store.RoleAdmin)})
	require.NoError(t, err)
	var erased struct{ EraseEmployeePII struct{ Name string } }
	srv.MustData(c.adminMFA, erasePII, map[string]any{"id": second.ID}, &erased)
	require.Equal(t, store.ErasedName(second.ID), erased.EraseEmployeePII.Name)
}
