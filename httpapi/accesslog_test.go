package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/store"
)

// syncBuffer collects log lines written from the server's goroutines.
type syncBuffer struct{ apitest.LogBuffer }

// accessLines are the access log's lines, by request id.
func (b *syncBuffer) accessLines(t *testing.T) map[string]map[string]any {
	t.Helper()
	lines := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "log lines are JSON: %s", sc.Text())
		if line["msg"] == "http request" {
			id, _ := line["request_id"].(string)
			require.NotContains(t, lines, id, "one access line per request")
			lines[id] = line
		}
	}
	return lines
}

type logBundle struct {
	srv    *apitest.Server
	logs   *syncBuffer
	admin  string // an MFA admin's token
	email  string // an employee's
	tenant uuid.UUID
}

func setupLogs(t *testing.T) logBundle {
	t.Helper()
	logs := &syncBuffer{}
	srv := apitest.New(t, apitest.Opts{Log: logs})
	f := srv.NewTenant("acme")
	admin, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: f.Tenant.ID, EmployeeID: f.Admin.ID, Roles: []string{store.RoleAdmin}, MFA: true, TTL: time.Hour})
	require.NoError(t, err)
	b := logBundle{srv: srv, logs: logs, admin: admin, email: "grace.hopper@navy.example", tenant: f.Tenant.ID}
	_, err = srv.Store.CreateEmployee(t.Context(), f.Scope, store.EmployeeParams{Name: apitest.Ptr("Grace Hopper"),
		Email: apitest.Ptr(b.email)})
	require.NoError(t, err)
	return b
}

// post sends a GraphQL request with credentials and headers, and returns the response and the
// request id it was answered under.
func (b logBundle) post(t *testing.T, credentials, query string, vars map[string]any, headers map[string]string) (apitest.Response, string) {
	t.Helper()
	return b.send(t, credentials, map[string]any{"query": query, "variables": vars}, headers)
}

// send posts request (a GraphQL request's JSON) as post does.
func (b logBundle) send(t *testing.T, credentials string, request map[string]any, headers map[string]string) (apitest.Response, string) {
	t.Helper()
	body, err := json.Marshal(request)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/query", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+credentials)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return apitest.Decode(t, resp), resp.Header.Get("X-Request-Id")
}

// TestAccessLogSaysWhatHappenedAndNothingSecret: handling an employee's PII-like data with a
// token and with an API key, every request gets one info line saying what ran, for whom, at what
// cost and with which error codes — and the token, the key's secret and the e-mail address appear
// nowhere in the logs.
func TestAccessLogSaysWhatHappenedAndNothingSecret(t *testing.T) {
	t.Parallel()
	b := setupLogs(t)
	var key struct{ CreateApiKey struct{ Secret string } }
	b.srv.MustData(b.admin, `mutation NewKey($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret } }`,
		map[string]any{"in": map[string]any{"name": "Looker", "role": "BI"}}, &key)
	secret := key.CreateApiKey.Secret
	require.NotEmpty(t, secret)

	const search = `query Find($search: String) { employees(filter: {search: $search}) { nodes { id name email } } }`
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r, byToken := b.post(t, b.admin, search, map[string]any{"search": "grace.hop"}, map[string]string{
		"X-Request-Id": "gw:7f3a.1-b", "Traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
	require.Empty(t, r.Errors)
	require.Contains(t, string(r.Data), b.email)
	require.Equal(t, "gw:7f3a.1-b", byToken, "the gateway's request id is kept and returned")

	// A BI key runs registered operations only, by id; the document (and its literals) is
	// logged no more than a query's text.
	byKeyQuery := `{ employees(filter: {search: "grace.hopper@navy.example"}) { nodes { email } } }`
	_, err := b.srv.Store.RegisterPersistedOperations(t.Context(), store.Scope{TenantID: b.tenant}, []store.PersistedOperationParams{{
		ID: store.OperationID(byKeyQuery), Name: "Search", Type: store.OperationQuery, Body: byKeyQuery}})
	require.NoError(t, err)
	r, byKey := b.send(t, secret, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{
		"version": 1, "sha256Hash": store.OperationID(byKeyQuery)}}}, map[string]string{"X-Request-Id": "forged level=ERROR \"x\""})
	require.Empty(t, r.Errors)
	require.Contains(t, string(r.Data), b.email)
	require.NotContains(t, byKey, "forged", "a malformed request id is replaced")

	r, refused := b.post(t, b.admin+"x", search, map[string]any{"search": "grace.hop"}, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	r, failed := b.post(t, b.admin, `query Bad($search: String) { employees(filter: {search: $search}, first: 1000) { nodes { email } } }`,
		map[string]any{"search": b.email}, nil)
	require.NotEmpty(t, r.Errors)

	out := b.logs.String()
	for _, leak := range []string{b.admin, secret, b.email, "grace.hop"} {
		require.NotContains(t, out, leak)
	}

	lines := b.logs.accessLines(t)
	line := lines[byToken]
	require.NotNil(t, line, "access line of %s in %s", byToken, out)
	require.Equal(t, "INFO", line["level"])
	for k, want := range map[string]any{"method": "POST", "path": "/query", "status": float64(200), "operation": "Find",
		"operation_type": "query", "trace_id": traceID} {
		require.Equal(t, want, line[k], k)
	}
	require.Positive(t, line["cost"])
	require.Positive(t, line["duration"])
	require.NotEmpty(t, line["tenant_id"])
	require.NotEmpty(t, line["principal_id"])
	require.NotContains(t, line, "codes")

	line = lines[byKey]
	require.NotNil(t, line)
	require.Equal(t, "query", line["operation_type"])
	require.NotContains(t, line, "operation", "an anonymous operation")
	require.True(t, strings.HasPrefix(line["principal_id"].(string), "key:"), "the API key's id, %v", line["principal_id"])

	line = lines[refused]
	require.NotNil(t, line)
	require.Equal(t, float64(401), line["status"])
	require.Equal(t, []any{"UNAUTHENTICATED"}, line["codes"])
	require.NotContains(t, line, "tenant_id")

	line = lines[failed]
	require.NotNil(t, line)
	require.Equal(t, "Bad", line["operation"])
	require.Equal(t, []any{"BAD_USER_INPUT"}, line["codes"])
}
