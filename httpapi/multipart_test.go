package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
)

// TestMultipartRequestsAreChecked: malformed GraphQL multipart requests are refused as bad
// requests, in the API's error shape, before any resolver runs.
func TestMultipartRequestsAreChecked(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	const ops = `{"query":"mutation($f: Upload!, $at: Time!) { uploadScreenshot(file: $f, capturedAt: $at) { id } }","variables":{"f":null,"at":"2026-01-01T00:00:00Z"}}`
	type part struct{ name, body string }
	send := func(t *testing.T, parts []part) answer {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, p := range parts {
			if strings.HasPrefix(p.name, "file:") {
				fw, err := mw.CreateFormFile(strings.TrimPrefix(p.name, "file:"), "shot.png")
				require.NoError(t, err)
				_, err = fw.Write([]byte(p.body))
				require.NoError(t, err)
				continue
			}
			require.NoError(t, mw.WriteField(p.name, p.body))
		}
		require.NoError(t, mw.Close())
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", &buf)
		require.NoError(t, err)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+c.Token)
		req.Header.Set("GraphQL-Preflight", "1")
		return do(t, req)
	}
	manyFiles := map[string][]string{}
	for i := range 11 {
		manyFiles[fmt.Sprint(i)] = []string{"variables.f"}
	}
	for name, tc := range map[string]struct {
		parts  []part
		status int
		code   string
	}{
		"ErrNoParts":           {nil, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrMapFirst":          {[]part{{"map", `{}`}, {"operations", ops}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrNoMap":             {[]part{{"operations", ops}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrOperationsNotJSON": {[]part{{"operations", `{"query":`}, {"map", `{}`}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrBatch":             {[]part{{"operations", "[" + ops + "]"}, {"map", `{}`}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrMapNotJSON":        {[]part{{"operations", ops}, {"map", `["0"]`}, {"file:0", "x"}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrFileNotInMap":      {[]part{{"operations", ops}, {"map", `{"0":["variables.f"]}`}, {"file:1", "x"}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrFileMissing":       {[]part{{"operations", ops}, {"map", `{"0":["variables.f"]}`}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrPathNotAVariable":  {[]part{{"operations", ops}, {"map", `{"0":["variables.nope.deeper"]}`}, {"file:0", "x"}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrFileTwice": {[]part{{"operations", ops}, {"map", `{"0":["variables.f"]}`}, {"file:0", "x"}, {"file:0", "y"}},
			http.StatusBadRequest, "BAD_REQUEST"},
		"ErrTooManyFiles": {[]part{{"operations", ops}, {"map", mustJSON(t, manyFiles)}}, http.StatusBadRequest, "BAD_REQUEST"},
		"ErrOperationsTooLarge": {[]part{{"operations", `{"query":"` + strings.Repeat("a", 1<<20) + `"}`}, {"map", `{}`}},
			http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
		// A document error answers as over JSON (200 to application/json clients).
		"ErrDocument": {[]part{{"operations", `{"query":"mutation { nope }"}`}, {"map", `{}`}}, http.StatusOK, "GRAPHQL_VALIDATION_FAILED"},
	} {
		t.Run(name, func(t *testing.T) {
			a := send(t, tc.parts)
			require.Equal(t, tc.status, a.status)
			require.Equal(t, tc.code, a.code(t))
		})
	}
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.Unmarshal(raw, &a.body), string(raw))
	return a
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
