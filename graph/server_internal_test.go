package graph

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/reqid"
)

// TestPanicsOutsideResolversAreRecovered: a panic in the HTTP chain is a 500 with the request
// id to quote; the panic value and stack go to the log only.
func TestPanicsOutsideResolversAreRecovered(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := reqid.Middleware(recoverPanics(slog.New(slog.NewJSONHandler(&logs, nil)),
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/query", nil))

	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "secret detail")
	var body struct {
		Errors []struct {
			Message    string
			Extensions map[string]string
		}
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	id := body.Errors[0].Extensions["requestId"]
	require.Equal(t, "INTERNAL", body.Errors[0].Extensions["code"])
	require.NotEmpty(t, id)
	require.Contains(t, logs.String(), "secret detail")
	require.Contains(t, logs.String(), id)
}
