package graph_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
)

// TestAbusiveDocumentsOverHTTP sends the classic abusive documents to the real server: each is
// refused with its code, and none takes long (a generous bound: these take a millisecond or
// two; BenchmarkAbusiveDocuments has the figures).
func TestAbusiveDocumentsOverHTTP(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	var spreads strings.Builder
	spreads.WriteString("{ me { ...F0 } }")
	for i := range 40 {
		fmt.Fprintf(&spreads, "\nfragment F%d on Employee { ...F%d ...F%d }", i, i+1, i+1)
	}
	spreads.WriteString("\nfragment F40 on Employee { id }")
	cases := []struct{ name, query, code string }{
		{"1,000 aliases", "{ " + strings.Repeat("a: __typename ", 1000) + "}", "COMPLEXITY_LIMIT"},
		{"depth 50", "{ me { " + strings.Repeat("manager { ", 49) + "id" + strings.Repeat(" }", 49) + " } }", "COMPLEXITY_LIMIT"},
		{"10,000 tokens", "{ " + strings.Repeat("__typename ", 10_000) + "}", "COMPLEXITY_LIMIT"},
		{"circular fragments", "{ me { ...A } } fragment A on Employee { manager { ...B } } fragment B on Employee { ...A }",
			"GRAPHQL_VALIDATION_FAILED"},
		{"2^40 spreads of one fragment", spreads.String(), "COMPLEXITY_LIMIT"},
	}
	for _, tc := range cases {
		start := time.Now()
		r := srv.Do(c.Token, tc.query, nil)
		require.Less(t, time.Since(start), 2*time.Second, tc.name)
		require.NotEmpty(t, r.Errors, tc.name)
		require.Equal(t, tc.code, r.Errors[0].Code(), "%s: %s", tc.name, r.Errors[0].Message)
	}
}

// TestBatchedRequestsAreRefused: an array of operations in one POST would multiply every
// per-request limit; the API takes one operation per request.
func TestBatchedRequestsAreRefused(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	batch := "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ me { id } }"},`, 1000), ",") + "]"
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", strings.NewReader(batch))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	srv.Statements.Reset()
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	r := apitest.Decode(t, resp)
	require.Equal(t, "BAD_REQUEST", r.Errors[0].Code())
	require.Zero(t, srv.Statements.Count(), "nothing ran")
}
