package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
)

func TestHTTPSecurity(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{AllowedOrigins: []string{"https://app.example"}})
	c := srv.NewTenant("acme")
	send := func(method, path, contentType, body string, headers map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	bearer := map[string]string{"Authorization": "Bearer " + c.Token}

	t.Run("HeadersOnEveryResponse", func(t *testing.T) {
		for _, path := range []string{"/query", "/healthz", "/readyz"} {
			resp := send(http.MethodPost, path, "application/json", `{"query":"{ me { id } }"}`, bearer)
			if path != "/query" {
				resp = send(http.MethodGet, path, "", "", nil)
			}
			h := resp.Header
			require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
			require.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
			require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), path)
			require.Contains(t, h.Get("Strict-Transport-Security"), "max-age=", path)
			require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'", path)
		}
		unauthenticated := send(http.MethodPost, "/query", "application/json", `{"query":"{ me { id } }"}`, nil)
		require.Equal(t, http.StatusUnauthorized, unauthenticated.StatusCode)
		require.Equal(t, "nosniff", unauthenticated.Header.Get("X-Content-Type-Options"), "refusals too")
	})
	t.Run("ResponsesCarryTheirLength", func(t *testing.T) {
		// Larger than net/http's buffers, which it would otherwise send in chunks.
		body, err := json.Marshal(map[string]string{"query": "{ __schema { types { name description fields { name description } } } }"})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Greater(t, len(got), 8192, string(got))
		require.Empty(t, resp.TransferEncoding)
		require.Equal(t, int64(len(got)), resp.ContentLength)
		require.True(t, json.Valid(got))
	})
	t.Run("CORSAllowsOnlyListedOrigins", func(t *testing.T) {
		preflight := func(origin string) *http.Response {
			return send(http.MethodOptions, "/query", "", "", map[string]string{"Origin": origin,
				"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"})
		}
		allowed := preflight("https://app.example")
		require.Equal(t, "https://app.example", allowed.Header.Get("Access-Control-Allow-Origin"))
		require.Empty(t, allowed.Header.Get("Access-Control-Allow-Credentials"), "tokens, not cookies")
		require.Empty(t, preflight("https://evil.example").Header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("NonJSONPostsAreRefused", func(t *testing.T) {
		// A form or text/plain POST is what a cross-site page can send without a preflight.
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
			resp := send(http.MethodPost, "/query", ct, `{"query":"mutation { stopTimer { id } }"}`, bearer)
			require.GreaterOrEqual(t, resp.StatusCode, 400, ct)
		}
	})
	t.Run("NoMutationsOverGET", func(t *testing.T) {
		// A GET can be sent by a link or an image tag from any page.
		q := url.Values{"query": {`mutation { createProject(input: {name: "Via GET"}) { id } }`}}
		resp := send(http.MethodGet, "/query?"+q.Encode(), "", "", bearer)
		require.GreaterOrEqual(t, resp.StatusCode, 400)
		var list struct{ Projects struct{ TotalCount int } }
		srv.MustData(c.Token, `{ projects(filter: {search: "Via GET"}) { totalCount } }`, nil, &list)
		require.Zero(t, list.Projects.TotalCount)
	})
	t.Run("NoSuggestionsOutsideDevelopment", func(t *testing.T) {
		r := srv.Do(c.Token, `{ employes { totalCount } }`, nil)
		require.NotEmpty(t, r.Errors)
		require.NotContains(t, r.Errors[0].Message, "Did you mean")
	})
}
