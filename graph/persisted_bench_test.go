package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/store"
)

// benchOperation is a dashboard's query as clients write them: named, with variables and a
// fragment, 1 KB of text.
const benchOperation = `query TeamDashboard($first: Int!, $after: String) {
  employees(first: $first, after: $after, filter: {status: ACTIVE}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { ...EmployeeCard }
  }
  rateLimit { currentlyAvailable maximumAvailable restoreRate maximumQueryCost }
}
fragment EmployeeCard on Employee {
  id
  name
  email
  role
  status
  department { id name }
  manager { id name email }
  projects(first: 5) { id name status billable }
  timeEntries(first: 3) { id startTime endTime durationSeconds project { id name } task { id title } }
}`

// BenchmarkPersistedGET: one request through the real handler over loopback HTTP, for the same
// operation sent as text in a POST, by APQ hash in a GET, and by a registered operation's
// documentId in a GET. The server's document cache holds the parsed text in every case, so the
// difference is what the text costs to send, read and look up against what the id costs.
func BenchmarkPersistedGET(b *testing.B) {
	srv := apitest.New(b, apitest.Opts{})
	f := srv.NewTenant("acme")
	id := store.OperationID(benchOperation)
	vars := map[string]any{"first": 10}
	_, err := srv.Store.RegisterPersistedOperations(context.Background(), store.Scope{TenantID: f.Tenant.ID},
		[]store.PersistedOperationParams{{ID: id, Name: "TeamDashboard", Type: store.OperationQuery, Body: benchOperation}})
	require.NoError(b, err)
	// The APQ cache of this tenant also gets the text (keyed apart from the registry).
	apqText := benchOperation + "\n"
	apqID := store.OperationID(apqText)

	post := func(body map[string]any) *http.Request {
		raw, err := json.Marshal(body)
		require.NoError(b, err)
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", bytes.NewReader(raw))
		require.NoError(b, err)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	get := func(params url.Values) *http.Request {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/query?"+params.Encode(), nil)
		require.NoError(b, err)
		return req
	}
	varsJSON, _ := json.Marshal(vars)
	pqJSON := func(h string) string {
		raw, _ := json.Marshal(pq(h))
		return string(raw)
	}
	do := func(b *testing.B, req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+f.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"errors"`)) {
			b.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	do(b, post(map[string]any{"query": apqText, "variables": vars, "extensions": pq(apqID)})) // registers the APQ
	for _, c := range []struct {
		name string
		req  func() *http.Request
	}{
		{"POSTText", func() *http.Request { return post(map[string]any{"query": benchOperation, "variables": vars}) }},
		{"GETAPQHash", func() *http.Request {
			return get(url.Values{"extensions": {pqJSON(apqID)}, "variables": {string(varsJSON)}})
		}},
		{"GETRegisteredDocumentID", func() *http.Request {
			return get(url.Values{"documentId": {"sha256:" + id}, "variables": {string(varsJSON)}})
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			do(b, c.req())
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				do(b, c.req())
			}
		})
	}
}
