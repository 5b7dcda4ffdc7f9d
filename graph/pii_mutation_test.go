package graph_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/testdb"
)

// storedPII is what the database holds of an employee's personal data: ciphertexts and blind
// indexes, hex-encoded (empty when NULL), plus name and e-mail.
func storedPII(t *testing.T, srv *apitest.Server, tenant, id uuid.UUID) map[string]string {
	t.Helper()
	out := map[string]string{}
	cols := []string{"name", "email", "ssn_ciphertext", "ssn_blind_index", "tax_id_ciphertext", "tax_id_blind_index",
		"passport_ciphertext", "passport_blind_index", "bank_account_ciphertext", "bank_account_blind_index"}
	require.NoError(t, testdb.AsTenant(context.Background(), srv.Store.Pool(), tenant, func(tx pgx.Tx) error {
		vals := make([]*string, len(cols))
		dest := make([]any, len(cols))
		for i := range cols {
			dest[i] = &vals[i]
		}
		q := `SELECT name, email`
		for _, c := range cols[2:] {
			q += `, encode(` + c + `, 'hex')`
		}
		if err := tx.QueryRow(context.Background(), q+` FROM employees WHERE id = $1`, id).Scan(dest...); err != nil {
			return err
		}
		for i, c := range cols {
			if vals[i] != nil {
				out[c] = *vals[i]
			} else {
				out[c] = ""
			}
		}
		return nil
	}))
	return out
}

const (
	revealPII = `mutation($id: ID!, $f: [PIIField!]!, $why: String!) { revealEmployeePII(employeeId: $id, fields: $f, reason: $why) {
		employee { id } ssn taxId passportNumber bankAccount } }`
	erasePII  = `mutation($id: ID!) { eraseEmployeePII(employeeId: $id) { id name email ssn taxId passportNumber bankAccount } }`
	exportPII = `mutation($id: ID!) { exportEmployeeData(employeeId: $id) { employee { id } generatedAt data } }`
	searchPII = `query($f: PIIField!, $v: String!) { employeeByIdentifier(field: $f, value: $v) { id ssn } }`
)

// TestPIIOperationsAreRefusedWithoutMFAOrRole: set, reveal and erase need HR or ADMIN with a
// second factor (MFA_REQUIRED without one, FORBIDDEN for other roles); the search needs HR or
// ADMIN; export needs HR/ADMIN with MFA or the employee themself. A refusal writes nothing.
func TestPIIOperationsAreRefusedWithoutMFAOrRole(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newPIITenant(t, srv, "acme")
	target := c.report
	before := storedPII(t, srv, c.Tenant.ID, target.ID)
	vars := map[string]any{
		"set":    map[string]any{"id": target.ID, "in": map[string]any{"ssn": "234-56-7890", "bankAccount": nil}},
		"reveal": map[string]any{"id": target.ID, "f": []string{"SSN"}, "why": "payroll"},
		"erase":  map[string]any{"id": target.ID},
		"export": map[string]any{"id": target.ID},
		"search": map[string]any{"f": "SSN", "v": c.values[target.ID].SSN},
	}
	ops := map[string]string{"set": setPII, "reveal": revealPII, "erase": erasePII, "export": exportPII, "search": searchPII}
	for _, tc := range []struct {
		who   string
		token string
		want  map[string]string // op → code
	}{
		{"HR", srv.Token(c.Tenant.ID, c.hr.ID, "HR"), map[string]string{"set": "MFA_REQUIRED", "reveal": "MFA_REQUIRED",
			"erase": "MFA_REQUIRED", "export": "MFA_REQUIRED"}},
		{"ADMIN", srv.Token(c.Tenant.ID, c.Admin.ID, "ADMIN"), map[string]string{"set": "MFA_REQUIRED", "reveal": "MFA_REQUIRED",
			"erase": "MFA_REQUIRED", "export": "MFA_REQUIRED"}},
		{"MANAGER+MFA", srv.MFAToken(c.Tenant.ID, c.manager.ID, "MANAGER"), map[string]string{"set": "FORBIDDEN",
			"reveal": "FORBIDDEN", "erase": "FORBIDDEN", "export": "FORBIDDEN", "search": "FORBIDDEN"}},
		{"EMPLOYEE(self)+MFA", srv.MFAToken(c.Tenant.ID, target.ID, "EMPLOYEE"), map[string]string{"set": "FORBIDDEN",
			"reveal": "FORBIDDEN", "erase": "FORBIDDEN", "search": "FORBIDDEN"}},
		{"AUDITOR+MFA", srv.MFAToken(c.Tenant.ID, c.auditor.ID, "AUDITOR"), map[string]string{"set": "FORBIDDEN",
			"reveal": "FORBIDDEN", "erase": "FORBIDDEN", "export": "FORBIDDEN", "search": "FORBIDDEN"}},
		{"BI", c.bi, map[string]string{"set": "FORBIDDEN", "reveal": "FORBIDDEN", "erase": "FORBIDDEN", "export": "FORBIDDEN",
			"search": "FORBIDDEN"}},
		{"AGENT(of the employee)", c.agent, map[string]string{"set": "FORBIDDEN", "reveal": "FORBIDDEN", "erase": "FORBIDDEN",
			"export": "FORBIDDEN", "search": "FORBIDDEN"}},
		{"NoKnownRole+MFA", srv.MFAToken(c.Tenant.ID, target.ID, "INTERN"), map[string]string{"set": "FORBIDDEN",
			"reveal": "FORBIDDEN", "erase": "FORBIDDEN", "export": "FORBIDDEN", "search": "FORBIDDEN"}},
	} {
		for op, code := range tc.want {
			r := srv.Do(tc.token, ops[op], vars[op].(map[string]any))
			require.NotEmpty(t, r.Errors, "%s %s", tc.who, op)
			require.Equal(t, code, r.Errors[0].Code(), "%s %s: %s", tc.who, op, r.Errors[0].Message)
			require.NotContains(t, string(r.Data), "6789", "%s %s", tc.who, op)
		}
	}
	require.Equal(t, before, storedPII(t, srv, c.Tenant.ID, target.ID), "nothing was written")

	t.Run("TheEmployeeExportsThemselfWithoutMFA", func(t *testing.T) {
		r := srv.Do(srv.Token(c.Tenant.ID, target.ID, "EMPLOYEE"), exportPII, vars["export"].(map[string]any))
		require.Empty(t, r.Errors)
	})
}

// TestPIISetRevealSearchExportErase: the operations through the real handler, as HR with MFA.
func TestPIISetRevealSearchExportErase(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newPIITenant(t, srv, "acme")
	other := newPIITenant(t, srv, "globex")
	hr := c.hrMFA
	target := c.other
	values := c.values[target.ID]

	reveal := func(t *testing.T, id uuid.UUID, fields ...string) map[string]any {
		t.Helper()
		var got struct{ RevealEmployeePII map[string]any }
		srv.MustData(hr, revealPII, map[string]any{"id": id, "f": fields, "why": "payroll check"}, &got)
		return got.RevealEmployeePII
	}

	t.Run("RevealReturnsOnlyTheFieldsAskedFor", func(t *testing.T) {
		got := reveal(t, target.ID, "SSN", "BANK_ACCOUNT")
		require.Equal(t, values.SSN, got["ssn"])
		require.Equal(t, values.IBAN, got["bankAccount"])
		require.Nil(t, got["taxId"])
		require.Nil(t, got["passportNumber"])
	})
	t.Run("RevealNeedsAReasonAndFields", func(t *testing.T) {
		r := srv.Do(hr, revealPII, map[string]any{"id": target.ID, "f": []string{"SSN"}, "why": "  "})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		require.Equal(t, "reason", r.Errors[0].Extensions["field"])
		r = srv.Do(hr, revealPII, map[string]any{"id": target.ID, "f": []string{}, "why": "x"})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
	})
	t.Run("InvalidValuesAreRefusedAndNothingIsWritten", func(t *testing.T) {
		before := storedPII(t, srv, c.Tenant.ID, target.ID)
		for field, bad := range map[string]string{"ssn": "666-12-3456", "taxId": "00-1234567", "passportNumber": "AB12",
			"bankAccount": "DE00370400440532013000"} {
			// A valid value beside the bad one is not written either.
			in := map[string]any{field: bad}
			if field != "ssn" {
				in["ssn"] = "234-56-7890"
			}
			r := srv.Do(hr, setPII, map[string]any{"id": target.ID, "in": in})
			require.Len(t, r.Errors, 1, field)
			require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), field)
			require.Equal(t, field, r.Errors[0].Extensions["field"])
			require.NotContains(t, r.Errors[0].Message, bad, "the message never echoes the value")
		}
		require.Equal(t, before, storedPII(t, srv, c.Tenant.ID, target.ID))
	})
	t.Run("PartialInputLeavesOtherFieldsAndNullClears", func(t *testing.T) {
		id := c.partial.ID
		var set struct{ SetEmployeePII map[string]any }
		srv.MustData(hr, setPII, map[string]any{"id": id, "in": map[string]any{"passportNumber": "x9876543"}}, &set)
		require.Equal(t, "*****6543", set.SetEmployeePII["passportNumber"])
		require.NotNil(t, set.SetEmployeePII["ssn"], "the SSN set before is kept")
		got := reveal(t, id, "SSN", "PASSPORT_NUMBER")
		require.Equal(t, c.values[id].SSN, got["ssn"])
		require.Equal(t, "X9876543", got["passportNumber"], "stored uppercased")

		srv.MustData(hr, setPII, map[string]any{"id": id, "in": map[string]any{"ssn": nil}}, &set)
		require.Nil(t, set.SetEmployeePII["ssn"])
		require.Equal(t, "*****6543", set.SetEmployeePII["passportNumber"])
		stored := storedPII(t, srv, c.Tenant.ID, id)
		require.Empty(t, stored["ssn_ciphertext"])
		require.Empty(t, stored["ssn_blind_index"], "clearing a field clears its index")
		require.NotEmpty(t, stored["passport_blind_index"])
		var found struct{ EmployeeByIdentifier *struct{ ID string } }
		srv.MustData(hr, searchPII, map[string]any{"f": "SSN", "v": c.values[id].SSN}, &found)
		require.Nil(t, found.EmployeeByIdentifier)
	})
	t.Run("SearchFindsThroughTheBlindIndexWhateverTheFormatting", func(t *testing.T) {
		for field, v := range map[string]string{"SSN": "  " + values.SSN[:3] + " " + values.SSN[4:6] + " " + values.SSN[7:],
			"TAX_ID": values.TaxID[:2] + values.TaxID[3:], "PASSPORT_NUMBER": " p" + values.Passport[1:],
			"BANK_ACCOUNT": "de" + values.IBAN[2:6] + " " + values.IBAN[6:]} {
			var found struct{ EmployeeByIdentifier *struct{ ID, Ssn string } }
			srv.MustData(hr, searchPII, map[string]any{"f": field, "v": v}, &found)
			require.NotNil(t, found.EmployeeByIdentifier, field)
			require.Equal(t, target.ID.String(), found.EmployeeByIdentifier.ID, field)
			require.Equal(t, pii.LastFour(pii.SSN, values.SSN), found.EmployeeByIdentifier.Ssn)
		}
		var none struct{ EmployeeByIdentifier *struct{ ID string } }
		srv.MustData(hr, searchPII, map[string]any{"f": "SSN", "v": "234-56-7891"}, &none)
		require.Nil(t, none.EmployeeByIdentifier)
		// Another tenant's employee, by their exact SSN: not found (its own keys, its own rows).
		theirs := other.values[other.report.ID].SSN
		srv.MustData(hr, searchPII, map[string]any{"f": "SSN", "v": theirs}, &none)
		require.Nil(t, none.EmployeeByIdentifier)
		r := srv.Do(hr, searchPII, map[string]any{"f": "SSN", "v": "not-an-ssn"})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		require.Equal(t, "value", r.Errors[0].Extensions["field"])
	})
	t.Run("AnotherTenantsEmployeeIsNotFound", func(t *testing.T) {
		theirs := other.report.ID
		before := storedPII(t, srv, other.Tenant.ID, theirs)
		for op, q := range map[string]string{"reveal": revealPII, "set": setPII, "erase": erasePII, "export": exportPII} {
			r := srv.Do(hr, q, map[string]any{"id": theirs, "f": []string{"SSN"}, "why": "x",
				"in": map[string]any{"ssn": "234-56-7890"}})
			require.NotEmpty(t, r.Errors, op)
			require.Equal(t, "NOT_FOUND", r.Errors[0].Code(), op)
		}
		require.Equal(t, before, storedPII(t, srv, other.Tenant.ID, theirs))
	})
	t.Run("ExportHoldsEverything", func(t *testing.T) {
		for _, tok := range []string{hr, srv.Token(c.Tenant.ID, c.report.ID, "EMPLOYEE")} {
			var got struct {
				ExportEmployeeData struct {
					Employee struct{ ID string }
					Data     map[string]json.RawMessage
				}
			}
			srv.MustData(tok, exportPII, map[string]any{"id": c.report.ID}, &got)
			d := got.ExportEmployeeData.Data
			require.Equal(t, c.report.ID.String(), got.ExportEmployeeData.Employee.ID)
			var personal map[string]*string
			require.NoError(t, json.Unmarshal(d["personalData"], &personal))
			v := c.values[c.report.ID]
			require.Equal(t, v.SSN, *personal["ssn"])
			require.Equal(t, v.TaxID, *personal["taxId"])
			require.Equal(t, v.Passport, *personal["passportNumber"])
			require.Equal(t, v.IBAN, *personal["bankAccount"])
			var profile map[string]any
			require.NoError(t, json.Unmarshal(d["employee"], &profile))
			require.Equal(t, "report", profile["name"])
			require.Equal(t, c.manager.ID.String(), profile["managerId"])
			var entries, keys []map[string]any
			require.NoError(t, json.Unmarshal(d["timeEntries"], &entries))
			require.Len(t, entries, 1)
			require.NoError(t, json.Unmarshal(d["apiKeys"], &keys))
			require.Len(t, keys, 1, "the AGENT key bound to them")
			require.NotContains(t, string(d["apiKeys"]), "secret")
			var projects []string
			require.NoError(t, json.Unmarshal(d["projectIds"], &projects))
			require.Equal(t, []string{c.project.ID.String()}, projects)
			require.Contains(t, d, "screenshots")
			// The trail about them: HR set their data (names of fields only, and not HR's own
			// address or user agent, which are HR's personal data).
			var logs []map[string]any
			require.NoError(t, json.Unmarshal(d["auditLogs"], &logs))
			var set map[string]any
			for _, l := range logs {
				if l["action"] == "setEmployeePII" {
					set = l
				}
			}
			require.NotNil(t, set, "the export lists the change of their personal data")
			require.Equal(t, c.hr.ID.String(), set["actorId"])
			require.NotContains(t, set, "clientIp")
			require.NotContains(t, string(d["auditLogs"]), v.SSN)
		}
		var again struct {
			ExportEmployeeData struct{ Data map[string]json.RawMessage }
		}
		srv.MustData(hr, exportPII, map[string]any{"id": c.report.ID}, &again)
		require.Contains(t, string(again.ExportEmployeeData.Data["auditLogs"]), `"pii.export"`,
			"an earlier export is itself in the trail")
	})
	t.Run("EraseOverwritesAndKeepsTimeRecords", func(t *testing.T) {
		id := c.report.ID
		var erased struct{ EraseEmployeePII map[string]any }
		srv.MustData(hr, erasePII, map[string]any{"id": id}, &erased)
		require.Equal(t, "Erased employee "+id.String()[:8], erased.EraseEmployeePII["name"])
		require.Equal(t, "erased-"+id.String()+"@erased.invalid", erased.EraseEmployeePII["email"])
		for _, f := range []string{"ssn", "taxId", "passportNumber", "bankAccount"} {
			require.Nil(t, erased.EraseEmployeePII[f], f)
		}
		stored := storedPII(t, srv, c.Tenant.ID, id)
		for col, v := range stored {
			if col != "name" && col != "email" {
				require.Empty(t, v, col)
			}
		}
		got := reveal(t, id, "SSN", "TAX_ID", "PASSPORT_NUMBER", "BANK_ACCOUNT")
		for _, f := range []string{"ssn", "taxId", "passportNumber", "bankAccount"} {
			require.Nil(t, got[f], f)
		}
		var entries struct {
			TimeEntries struct {
				Nodes []struct{ Employee struct{ ID, Name string } }
			}
		}
		srv.MustData(hr, `{ timeEntries(first: 100) { nodes { employee { id name } } } }`, nil, &entries)
		kept := 0
		for _, n := range entries.TimeEntries.Nodes {
			if n.Employee.ID == id.String() {
				kept++
				require.Equal(t, "Erased employee "+id.String()[:8], n.Employee.Name)
			}
		}
		require.Equal(t, 1, kept, "the time records stay under the pseudonym")
		// Erasing twice is harmless; the pseudonym's e-mail is unique within the tenant.
		srv.MustData(hr, erasePII, map[string]any{"id": id}, &erased)
		srv.MustData(hr, erasePII, map[string]any{"id": c.partial.ID}, &erased)
	})
}
