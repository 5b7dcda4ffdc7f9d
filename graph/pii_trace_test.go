package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/telemetry"
)

// TestPIIPlaintextIsNotTraced: a client that writes personal data into the query text itself
// (literals, not variables) — setting it, searching by it, even sending it where the schema
// refuses it — leaves no trace of the value in any span: not in the operation span's query, nor
// in a field span's arguments, nor in an error recorded on a span (the provider's exporter drops
// the attributes that carry the document; this pins that the errors carry no value either).
func TestPIIPlaintextIsNotTraced(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := telemetry.NewProvider(telemetry.ProviderOpts{Exporter: spans, Synchronous: true})
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	srv := apitest.New(t, apitest.Opts{TracerProvider: tp, FieldSpans: true})
	c := newPIITenant(t, srv, "acme")
	const ssn, passport = "219-09-9999", "X1234567"
	id := c.report.ID.String()
	for _, q := range []string{
		fmt.Sprintf(`mutation { setEmployeePII(employeeId: %q, input: {ssn: %q, passportNumber: """%s"""}) { id ssn } }`, id, ssn, passport),
		fmt.Sprintf(`{ employeeByIdentifier(field: SSN, value: %q) { id } }`, ssn),
		// Refused by the policy (no MFA) and by a format check: errors are recorded on spans.
		fmt.Sprintf(`{ employeeByIdentifier(field: PASSPORT_NUMBER, value: "%s!") { id } }`, passport),
	} {
		srv.Do(c.hrMFA, q, nil)
		srv.Do(srv.Token(c.Tenant.ID, c.hr.ID, "HR"), q, nil)
	}
	require.NoError(t, tp.ForceFlush(t.Context()))
	got := spans.GetSpans()
	require.NotEmpty(t, got)
	for _, s := range got {
		var text []string
		text = append(text, s.Name, s.Status.Description)
		for _, a := range s.Attributes {
			text = append(text, string(a.Key)+"="+a.Value.Emit())
		}
		for _, e := range s.Events {
			text = append(text, e.Name)
			for _, a := range e.Attributes {
				text = append(text, a.Value.Emit())
			}
		}
		all := strings.Join(text, "\n")
		for _, v := range []string{ssn, strings.ReplaceAll(ssn, "-", ""), passport} {
			require.NotContains(t, all, v, "span %q holds a plaintext value", s.Name)
		}
	}
}
