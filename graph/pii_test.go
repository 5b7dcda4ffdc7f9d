package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/telemetry"
	"github.com/workingtracker/api/store"
)

// piiValues are one person's personal data, as typed and as canonically stored.
type piiValues struct {
	SSN, TaxID, Passport, IBAN string
}

func (v piiValues) input() map[string]any {
	return map[string]any{"ssn": v.SSN, "taxId": v.TaxID, "passportNumber": v.Passport, "bankAccount": v.IBAN}
}

// plain are the values by PIIField as the API reveals them (canonical forms).
func (v piiValues) plain() map[string]string {
	return map[string]string{pii.SSN: v.SSN, pii.TaxID: v.TaxID, pii.PassportNumber: v.Passport, pii.BankAccount: v.IBAN}
}

// testIBAN makes a German IBAN with valid check digits from an 18-digit account part.
func testIBAN(bban string) string {
	n, _ := new(big.Int).SetString(bban+"131400", 10) // D=13 E=14, then "00"
	check := 98 - new(big.Int).Mod(n, big.NewInt(97)).Int64()
	return fmt.Sprintf("DE%02d%s", check, bban)
}

// personPII is person i's distinct, valid personal data.
func personPII(i int) piiValues {
	return piiValues{
		SSN:      fmt.Sprintf("%03d-%02d-%04d", 101+i, 11+i, 4301+i),
		TaxID:    fmt.Sprintf("%02d-%07d", 20+i, 3456701+i),
		Passport: fmt.Sprintf("P%07d", 5550101+i),
		IBAN:     testIBAN(fmt.Sprintf("37040044%010d", 532013001+i)),
	}
}

// piiTenant is a tenant with the people whose views the tests check: an ADMIN, HR, a MANAGER
// with a report, someone outside the manager's line, an AUDITOR, and someone with only an SSN.
type piiTenant struct {
	apitest.Fixture
	hr, manager, report, other, auditor, partial *store.Employee
	project                                      *store.Project
	values                                       map[uuid.UUID]piiValues
	hrMFA, adminMFA                              string
	bi, agent                                    string // API key secrets
}

const setPII = `mutation($id: ID!, $in: EmployeePIIInput!) { setEmployeePII(employeeId: $id, input: $in) { id ssn taxId passportNumber bankAccount } }`

func newPIITenant(t *testing.T, srv *apitest.Server, slug string) *piiTenant {
	t.Helper()
	ctx := context.Background()
	c := &piiTenant{Fixture: srv.NewTenant(slug), values: map[uuid.UUID]piiValues{}}
	person := func(name, role string, manager uuid.UUID) *store.Employee {
		t.Helper()
		e, err := srv.Store.CreateEmployee(ctx, c.Scope, store.EmployeeParams{Name: ptr(name),
			Email: ptr(name + "@" + slug + ".example"), Role: ptr(role), ManagerID: &manager})
		require.NoError(t, err)
		return e
	}
	c.hr = person("hr", store.RoleHR, c.Admin.ID)
	c.manager = person("manager", store.RoleManager, c.Admin.ID)
	c.report = person("report", store.RoleEmployee, c.manager.ID)
	c.other = person("other", store.RoleEmployee, c.Admin.ID)
	c.auditor = person("auditor", store.RoleAuditor, c.Admin.ID)
	c.partial = person("partial", store.RoleEmployee, c.manager.ID)
	c.hrMFA = srv.MFAToken(c.Tenant.ID, c.hr.ID, "HR")
	c.adminMFA = srv.MFAToken(c.Tenant.ID, c.Admin.ID, "ADMIN")

	p, err := srv.Store.CreateProject(ctx, c.Scope, store.ProjectParams{Name: ptr("everyone")})
	require.NoError(t, err)
	c.project = p
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	end := start.Add(time.Hour)
	for i, e := range []*store.Employee{c.Admin, c.hr, c.manager, c.report, c.other, c.auditor, c.partial} {
		_, err := srv.Store.AddProjectMember(ctx, c.Scope, p.ID, e.ID)
		require.NoError(t, err)
		_, err = srv.Store.CreateTimeEntry(ctx, c.Scope, store.TimeEntryParams{EmployeeID: &e.ID, ProjectID: &p.ID,
			StartTime: &start, EndTime: &end})
		require.NoError(t, err)
		v := personPII(i + len(slug)*10)
		if e == c.partial {
			v = piiValues{SSN: v.SSN}
			srv.MustData(c.hrMFA, setPII, map[string]any{"id": e.ID, "in": map[string]any{"ssn": v.SSN}}, &struct{}{})
		} else {
			srv.MustData(c.hrMFA, setPII, map[string]any{"id": e.ID, "in": v.input()}, &struct{}{})
		}
		c.values[e.ID] = v
	}

	create := `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret } }`
	var key struct{ CreateApiKey struct{ Secret string } }
	srv.MustData(c.adminMFA, create, map[string]any{"in": map[string]any{"name": "Looker", "role": "BI"}}, &key)
	c.bi = key.CreateApiKey.Secret
	srv.MustData(c.adminMFA, create, map[string]any{"in": map[string]any{"name": "Laptop", "role": "AGENT",
		"employeeId": c.report.ID}}, &key)
	c.agent = key.CreateApiKey.Secret
	return c
}

// view names what a principal gets of a person's personal data.
type view string

const (
	lastFour view = "lastFour" // "***-**-6789"
	masked   view = "masked"   // "***-**-****"
	hidden   view = "hidden"   // the row, with null personal data
	absent   view = "absent"   // no row: out of reach
)

// expected is the field values principal should see of person under v (null when unset).
func (c *piiTenant) expected(person uuid.UUID, v view) map[string]any {
	out := map[string]any{"ssn": nil, "taxId": nil, "passportNumber": nil, "bankAccount": nil}
	for field, value := range c.values[person].plain() {
		if value == "" {
			continue
		}
		switch v {
		case lastFour:
			out[pii.InputName(field)] = pii.LastFour(field, mustNormalise(field, value))
		case masked:
			out[pii.InputName(field)] = pii.Mask(field)
		}
	}
	return out
}

func mustNormalise(field, value string) string {
	c, err := pii.Normalise(field, value, "x")
	if err != nil {
		panic(err)
	}
	return c
}

const piiSelection = `id ssn taxId passportNumber bankAccount`

// TestPIIMaskingByRole: every role and service principal, through root fields, federation's
// _entities and nested fields (Employee.manager, Project.members, TimeEntry.employee), sees
// exactly: the last four for HR, ADMIN and the employee themself; the full mask for the other
// roles that see the row; null for AUDITOR, BI and AGENT; null for what is unset.
//
// Both ways a @pii field runs: the fast path tools/rewritelists writes (the directive compiled
// in), and, with field middleware installed (field spans), gqlgen's ResolveField with the
// directive chain, whose spans show it ran.
func TestPIIMaskingByRole(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := telemetry.NewProvider(telemetry.ProviderOpts{Exporter: spans, Synchronous: true})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	t.Run("Rewritten", func(t *testing.T) {
		t.Parallel()
		piiMaskingByRole(t, apitest.Opts{})
	})
	t.Run("FieldMiddleware", func(t *testing.T) {
		t.Parallel()
		piiMaskingByRole(t, apitest.Opts{TracerProvider: tp, FieldSpans: true})
		traced := false
		for _, s := range spans.GetSpans() {
			traced = traced || strings.Contains(s.Name, "ssn")
		}
		require.True(t, traced, "no span of Employee.ssn: the fields did not run through field middleware")
	})
}

func piiMaskingByRole(t *testing.T, opts apitest.Opts) {
	srv := apitest.New(t, opts)
	c := newPIITenant(t, srv, "acme")
	people := []*store.Employee{c.Admin, c.hr, c.manager, c.report, c.other, c.auditor, c.partial}

	type principal struct {
		name  string
		token string
		// view of each person; people not listed are out of reach (absent).
		views map[uuid.UUID]view
	}
	all := func(v view) map[uuid.UUID]view {
		m := map[uuid.UUID]view{}
		for _, p := range people {
			m[p.ID] = v
		}
		return m
	}
	principals := []principal{
		{"ADMIN", srv.Token(c.Tenant.ID, c.Admin.ID, "ADMIN"), all(lastFour)},
		{"HR", srv.Token(c.Tenant.ID, c.hr.ID, "HR"), all(lastFour)},
		{"MANAGER", srv.Token(c.Tenant.ID, c.manager.ID, "MANAGER"),
			map[uuid.UUID]view{c.manager.ID: lastFour, c.report.ID: masked, c.partial.ID: masked}},
		{"EMPLOYEE", srv.Token(c.Tenant.ID, c.report.ID, "EMPLOYEE"), map[uuid.UUID]view{c.report.ID: lastFour}},
		{"AUDITOR", srv.Token(c.Tenant.ID, c.auditor.ID, "AUDITOR"), map[uuid.UUID]view{c.auditor.ID: hidden}},
		{"BI", c.bi, all(hidden)},
		{"AGENT", c.agent, map[uuid.UUID]view{c.report.ID: hidden}},
		{"MANAGER+HR", srv.Token(c.Tenant.ID, c.manager.ID, "MANAGER", "HR"), all(lastFour)},
		{"EMPLOYEE+AUDITOR", srv.Token(c.Tenant.ID, c.report.ID, "EMPLOYEE", "AUDITOR"), map[uuid.UUID]view{c.report.ID: lastFour}},
	}
	for _, p := range principals {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			viewOf := func(id uuid.UUID) view {
				if v, ok := p.views[id]; ok {
					return v
				}
				return absent
			}
			check := func(path string, row map[string]any) {
				t.Helper()
				id := uuid.MustParse(row["id"].(string))
				v := viewOf(id)
				require.NotEqual(t, absent, v, "%s: %s is out of reach but was returned", path, id)
				want := c.expected(id, v)
				for k, w := range want {
					require.Equal(t, w, row[k], "%s: %s of %s", path, k, id)
				}
			}
			for _, person := range people {
				// Query.employee
				var one struct{ Employee map[string]any }
				srv.MustData(p.token, `query($id: ID!) { employee(id: $id) { `+piiSelection+` } }`,
					map[string]any{"id": person.ID}, &one)
				if viewOf(person.ID) == absent {
					require.Nil(t, one.Employee, "employee %s", person.Name)
				} else {
					check("employee", one.Employee)
				}
				// Federation: _entities
				var ents struct {
					Entities []map[string]any `json:"_entities"`
				}
				srv.MustData(p.token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Employee { `+piiSelection+` } } }`,
					map[string]any{"r": []any{map[string]any{"__typename": "Employee", "id": person.ID}}}, &ents)
				require.Len(t, ents.Entities, 1)
				if viewOf(person.ID) == absent {
					require.Nil(t, ents.Entities[0])
				} else {
					check("_entities", ents.Entities[0])
				}
			}
			// Query.employees: HR's and ADMIN's rows read with every ciphertext, a MANAGER's or an
			// EMPLOYEE's with their own row's only.
			var list struct {
				Employees struct{ Nodes []map[string]any }
			}
			srv.MustData(p.token, `{ employees(first: 100) { nodes { `+piiSelection+` } } }`, nil, &list)
			for _, n := range list.Employees.Nodes {
				check("employees", n)
			}
			// Nested: Employee.manager, Project.members, TimeEntry.employee.
			var nested struct {
				Employees struct {
					Nodes []struct {
						ID      string
						Manager map[string]any
					}
				}
				Project     *struct{ Members []map[string]any }
				TimeEntries struct {
					Nodes []struct{ Employee map[string]any }
				}
			}
			srv.MustData(p.token, `query($p: ID!) {
				employees(first: 100) { nodes { id manager { `+piiSelection+` } } }
				project(id: $p) { members(first: 100) { `+piiSelection+` } }
				timeEntries(first: 100) { nodes { employee { `+piiSelection+` } } }
			}`, map[string]any{"p": c.project.ID}, &nested)
			seen := 0
			for _, n := range nested.Employees.Nodes {
				if n.Manager != nil {
					check("Employee.manager", n.Manager)
					seen++
				}
			}
			if nested.Project != nil {
				for _, m := range nested.Project.Members {
					check("Project.members", m)
					seen++
				}
			}
			for _, n := range nested.TimeEntries.Nodes {
				check("TimeEntry.employee", n.Employee)
				seen++
			}
			if p.name != "AUDITOR" && p.name != "AGENT" {
				require.NotZero(t, seen, "the nested paths were exercised")
			}
		})
	}
	t.Run("NoKnownRole", func(t *testing.T) {
		t.Parallel()
		tok := srv.Token(c.Tenant.ID, c.report.ID, "INTERN")
		r := srv.Do(tok, `query($id: ID!) { employee(id: $id) { `+piiSelection+` } }`, map[string]any{"id": c.report.ID})
		require.NotEmpty(t, r.Errors)
		require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
		require.NotContains(t, string(r.Data), "*")
	})
}

// sortedKeys is for stable failure messages.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var _ = json.Marshal
var _ = strings.Contains
var _ = sortedKeys
