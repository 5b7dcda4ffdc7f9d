package graph_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/ratelimit"
)

// dialFrom opens a graphql-transport-ws socket as clientIP (the server trusts one proxy hop)
// and sends nothing.
func dialFrom(t *testing.T, ctx context.Context, srv *apitest.Server, clientIP string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"X-Forwarded-For": {clientIP}},
	})
	if conn != nil {
		t.Cleanup(func() { conn.CloseNow() })
	}
	return conn, resp, err
}

// TestIdleWebsocketsAreClosed: a socket that never sends connection_init is closed after the
// init timeout, sockets waiting for it are bounded per client address, and each timeout spends
// the address's failed-authentication budget.
func TestIdleWebsocketsAreClosed(t *testing.T) {
	t.Parallel()
	tiers := slowTiers(100)
	tiers.Unauthenticated = ratelimit.Limit{Burst: 3, Rate: 1, Period: time.Hour}
	srv := apitest.New(t, apitest.Opts{
		RateLimits: httpapi.RateLimits{Tiers: tiers, TrustedProxyHops: 1},
		Websockets: auth.WebsocketLimits{InitTimeout: 300 * time.Millisecond, MaxPending: 100, MaxPendingPerClient: 3},
	})
	c := srv.NewTenant("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("ClosedAfterTheInitTimeout", func(t *testing.T) {
		const idle = 3
		conns := make([]*websocket.Conn, idle)
		for i := range conns {
			conn, _, err := dialFrom(t, ctx, srv, "198.51.100.10")
			require.NoError(t, err)
			conns[i] = conn
		}
		start := time.Now()
		for _, conn := range conns {
			var msg wsMessage
			err := wsjson.Read(ctx, conn, &msg)
			require.Error(t, err, "closed without a message")
			require.Equal(t, websocket.StatusProtocolError, websocket.CloseStatus(err), "%v", err)
		}
		require.Less(t, time.Since(start), 5*time.Second, "closed at the init timeout, not held")
	})
	t.Run("TimeoutsCountAsFailedAuthentication", func(t *testing.T) {
		// The three timeouts above spent the address's budget of 3 (the server charges each
		// once its socket's handler returns, just after the client saw the close): the very
		// next failure is answered 429, while valid credentials still pass.
		time.Sleep(200 * time.Millisecond)
		resp, _ := postFrom(t, srv.URL, "198.51.100.10", "not-a-token", `{ me { id } }`)
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the first failure after the timeouts")
		resp, r := postFrom(t, srv.URL, "198.51.100.10", c.Token, `{ me { id } }`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Empty(t, r.Errors)
		resp, r = postFrom(t, srv.URL, "198.51.100.11", "not-a-token", `{ me { id } }`)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "another address has its own budget")
		require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
	})
	t.Run("PendingSocketsAreBoundedPerClient", func(t *testing.T) {
		for range 3 {
			_, _, err := dialFrom(t, ctx, srv, "198.51.100.20")
			require.NoError(t, err)
		}
		_, resp, err := dialFrom(t, ctx, srv, "198.51.100.20")
		require.Error(t, err, "a fourth waiting socket of one address")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		conn, _, err := dialFrom(t, ctx, srv, "198.51.100.21")
		require.NoError(t, err, "another address is served")
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init",
			Payload: map[string]any{"Authorization": "Bearer " + c.Token}}))
		var ack wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &ack))
		require.Equal(t, "connection_ack", ack.Type)
		require.Nil(t, ack.Payload, "the acknowledgement echoes nothing of connection_init (the token)")
	})
}

// TestCORSNoneMeansNone: with no allowed origins, no origin gets CORS headers, on preflights
// and on requests.
func TestCORSNoneMeansNone(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	for _, method := range []string{http.MethodOptions, http.MethodPost} {
		req, err := http.NewRequest(method, srv.URL+"/query", strings.NewReader(`{"query":"{ me { id } }"}`))
		require.NoError(t, err)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPost {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		for name := range resp.Header {
			require.False(t, strings.HasPrefix(name, "Access-Control-"), "%s answered %s", method, name)
		}
	}
}

// TestIntrospectionDisabledIsAClientError: production refuses __schema and __type with its own
// code, answered as a validation error is, and logs no internal error.
func TestIntrospectionDisabledIsAClientError(t *testing.T) {
	t.Parallel()
	logs := &apitest.LogBuffer{}
	srv := apitest.New(t, apitest.Opts{NoIntrospection: true, Log: logs})
	c := srv.NewTenant("acme")
	for _, query := range []string{
		`{ __schema { types { name } } }`,
		`{ __type(name: "Employee") { name } }`,
		`{ ...Q } fragment Q on Query { __schema { queryType { name } } }`,
	} {
		// Like a validation error (GraphQL over HTTP): 200 for application/json clients.
		resp, r := postFrom(t, srv.URL, "", c.Token, query)
		require.Equal(t, http.StatusOK, resp.StatusCode, query)
		require.Len(t, r.Errors, 1)
		require.Equal(t, "INTROSPECTION_DISABLED", r.Errors[0].Code(), query)
		require.Nil(t, r.Data, "refused before execution: no data")
	}
	r := srv.Do(c.Token, `{ me { id __typename } }`, nil)
	require.Empty(t, r.Errors, "__typename is not introspection")
	require.NotContains(t, logs.String(), "internal error")
	require.NotContains(t, logs.String(), `"level":"ERROR"`)
}

// TestLogsAreStructured: a refused websocket upgrade leaves no net/http complaint, and a
// proxy the configuration does not know of is reported.
func TestLogsAreStructured(t *testing.T) {
	t.Parallel()
	logs := &apitest.LogBuffer{}
	srv := apitest.New(t, apitest.Opts{Log: logs})
	c := srv.NewTenant("acme")
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/query", nil)
	require.NoError(t, err)
	req.Header.Set("Upgrade", "websocket") // no Connection or Sec-WebSocket-Key: not a handshake
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	refused := apitest.Decode(t, resp)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "BAD_REQUEST", refused.Errors[0].Code(), "refused by the API, not by gqlgen's transport")

	// The test server is reached over loopback: a forwarded request from there, with no hops
	// trusted, is what a misconfigured deployment behind a load balancer sends.
	resp2, _ := postFrom(t, srv.URL, "203.0.113.9", c.Token, `{ me { id } }`)
	require.Equal(t, http.StatusOK, resp2.StatusCode)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "TRUSTED_PROXY_HOPS") }, 5*time.Second, 20*time.Millisecond)
	require.NotContains(t, logs.String(), "superfluous")
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		require.True(t, strings.HasPrefix(line, "{"), "a JSON line: %s", line)
	}
}
