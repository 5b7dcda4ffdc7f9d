package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/ratelimit"
)

type answer struct {
	status int
	header http.Header
	body   map[string]json.RawMessage
}

func (a answer) code(t *testing.T) string {
	t.Helper()
	var errs []struct {
		Extensions struct{ Code string }
	}
	require.NoError(t, json.Unmarshal(a.body["errors"], &errs))
	require.NotEmpty(t, errs)
	return errs[0].Extensions.Code
}

func send(t *testing.T, srv *apitest.Server, method, accept, contentType, body, token string) answer {
	t.Helper()
	target := srv.URL + "/query"
	var reader io.Reader
	if method == http.MethodGet {
		target += "?" + body
	} else {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, reader)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.Unmarshal(raw, &a.body), string(raw))
	return a
}

// TestGraphQLOverHTTPStatuses: the status and shape of each kind of answer, for both media types
// of GraphQL over HTTP, decided once from the errors' codes.
func TestGraphQLOverHTTPStatuses(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	const legacy, graphqlResponse = "application/json", "application/graphql-response+json"
	post := func(accept, body string) answer {
		return send(t, srv, http.MethodPost, accept, "application/json", body, c.Token)
	}
	for _, tc := range []struct {
		name, body, code string
		legacyStatus     int
	}{
		{"ParseFailed", `{"query":"{ me { id "}`, "GRAPHQL_PARSE_FAILED", http.StatusOK},
		{"ValidationFailed", `{"query":"{ me { nope } }"}`, "GRAPHQL_VALIDATION_FAILED", http.StatusOK},
		{"VariablesDoNotCoerce", `{"query":"query($id: ID!) { employee(id: $id) { id } }","variables":{"id":{}}}`,
			"GRAPHQL_VALIDATION_FAILED", http.StatusOK},
		{"OverALimit", `{"query":"{ me { ` + strings.Repeat("manager { ", 13) + "id" + strings.Repeat(" }", 13) + ` } }"}`,
			"COMPLEXITY_LIMIT", http.StatusOK},
		{"NotJSON", `{"query":`, "BAD_REQUEST", http.StatusBadRequest},
		{"NoQuery", `{"variables":{}}`, "BAD_REQUEST", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(legacy, tc.body)
			require.Equal(t, tc.legacyStatus, a.status)
			require.Equal(t, tc.code, a.code(t))
			require.NotContains(t, a.body, "data", "refused before execution: no data entry")
			require.Equal(t, "application/json; charset=utf-8", a.header.Get("Content-Type"))

			a = post(graphqlResponse, tc.body)
			require.Equal(t, http.StatusBadRequest, a.status)
			require.Equal(t, tc.code, a.code(t))
			require.NotContains(t, a.body, "data")
			require.Equal(t, "application/graphql-response+json; charset=utf-8", a.header.Get("Content-Type"))
		})
	}
	t.Run("DataIs200", func(t *testing.T) {
		for _, accept := range []string{legacy, graphqlResponse, "", "*/*"} {
			a := post(accept, `{"query":"{ __typename }"}`)
			require.Equal(t, http.StatusOK, a.status, accept)
			require.Contains(t, a.body, "data")
		}
	})
	t.Run("MethodsAndMediaTypes", func(t *testing.T) {
		a := send(t, srv, http.MethodPost, legacy, "text/plain", `{"query":"{ __typename }"}`, c.Token)
		require.Equal(t, http.StatusUnsupportedMediaType, a.status)
		require.Equal(t, "BAD_REQUEST", a.code(t))
		a = send(t, srv, http.MethodPut, legacy, "application/json", `{"query":"{ __typename }"}`, c.Token)
		require.Equal(t, http.StatusMethodNotAllowed, a.status)
		a = send(t, srv, http.MethodGet, legacy, "", url.Values{"query": {`mutation { stopTimer { id } }`}}.Encode(), c.Token)
		require.Equal(t, http.StatusMethodNotAllowed, a.status)
		require.Equal(t, "POST", a.header.Get("Allow"))
		a = send(t, srv, http.MethodGet, legacy, "", url.Values{"query": {`{ me { id } }`}}.Encode(), c.Token)
		require.Equal(t, http.StatusOK, a.status)
		a = send(t, srv, http.MethodGet, legacy, "", url.Values{"query": {`{ me { id } }`}, "variables": {"[1]"}}.Encode(), c.Token)
		require.Equal(t, http.StatusBadRequest, a.status)
	})
	t.Run("RateLimitedIs429WithoutData", func(t *testing.T) {
		tiers := ratelimit.DefaultTiers()
		tiers.ByRole["ADMIN"] = ratelimit.Limit{Burst: 3, Rate: 1, Period: time.Hour}
		small := apitest.New(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: tiers}})
		admin := small.NewTenant("acme")
		// The budget of 3 pays for a few cheap queries, then refuses.
		var a answer
		for range 10 {
			a = send(t, small, http.MethodPost, graphqlResponse, "application/json", `{"query":"{ me { id } }"}`, admin.Token)
			if a.status != http.StatusOK {
				break
			}
		}
		require.Equal(t, http.StatusTooManyRequests, a.status)
		require.Equal(t, "RATE_LIMITED", a.code(t))
		require.NotEmpty(t, a.header.Get("Retry-After"))
		require.NotContains(t, a.body, "data")
		require.Contains(t, a.body, "extensions", "the cost report still comes back")
	})
	t.Run("NoRequestBodyInErrors", func(t *testing.T) {
		a := post(legacy, `{"query": 42, "secret": "hunter2"}`)
		require.Equal(t, http.StatusBadRequest, a.status)
		require.NotContains(t, string(a.body["errors"]), "hunter2")
	})
}
