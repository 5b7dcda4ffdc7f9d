package httpapi

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

func TestClientIP(t *testing.T) {
	t.Parallel()
	req := func(remote string, forwarded ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		for _, f := range forwarded {
			r.Header.Add("X-Forwarded-For", f)
		}
		return r
	}
	require.Equal(t, "192.0.2.1", clientIP(req("192.0.2.1:5555"), 0))
	require.Equal(t, "192.0.2.1", clientIP(req("192.0.2.1:5555", "203.0.113.9"), 0), "no trusted proxy: the header is the client's word")
	require.Equal(t, "203.0.113.9", clientIP(req("10.0.0.1:80", "1.1.1.1, 203.0.113.9"), 1), "the entry the proxy added")
	require.Equal(t, "1.1.1.1", clientIP(req("10.0.0.1:80", "1.1.1.1", "203.0.113.9"), 2))
	require.Equal(t, "2001:db8:1:2::/64", clientIP(req("[2001:db8:1:2:aaaa::1]:443"), 0), "IPv6 by /64")
	require.Equal(t, clientIP(req("[2001:db8:1:2::ffff]:1"), 0), clientIP(req("[2001:db8:1:2:1::9]:1"), 0))
	require.Equal(t, "192.0.2.7", clientIP(req("[::ffff:192.0.2.7]:1"), 0), "IPv4-mapped is IPv4")
}
