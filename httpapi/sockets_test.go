package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
)

type wsMessage struct {
	ID      string         `json:"id,omitempty"`
	Type    string         `json:"type"`
	Payload map[string]any `json:"payload,omitempty"`
}

// dialAcked opens a graphql-transport-ws connection authenticated by token and waits for its
// acknowledgement.
func dialAcked(t *testing.T, ctx context.Context, srv *apitest.Server, token string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { conn.CloseNow() })
	require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init",
		Payload: map[string]any{"Authorization": "Bearer " + token}}))
	var ack wsMessage
	require.NoError(t, wsjson.Read(ctx, conn, &ack))
	require.Equal(t, "connection_ack", ack.Type)
	return conn
}

// readUntilClosed reads until the server closes conn and returns the close status.
func readUntilClosed(t *testing.T, ctx context.Context, conn *websocket.Conn) websocket.StatusCode {
	t.Helper()
	for {
		var msg wsMessage
		if err := wsjson.Read(ctx, conn, &msg); err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded, "closed by the server, not by the test's timeout")
			return websocket.CloseStatus(err)
		}
	}
}

// TestSocketsCloseGoingAway: closing the tracked sockets (what shutdown does) closes every open
// websocket with 1001, waits for their handlers, and closes one opened afterwards too.
func TestSocketsCloseGoingAway(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	fx := srv.NewTenant("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := dialAcked(t, ctx, srv, fx.Token), dialAcked(t, ctx, srv, fx.Token)
	require.Equal(t, 2, srv.Sockets.Active())
	require.Equal(t, 2.0, gathered(t, srv, "workingtracker_websocket_connections", ""))
	// A client reads all along (and so answers the close handshake).
	closed := make(chan websocket.StatusCode, 2)
	for _, conn := range []*websocket.Conn{a, b} {
		go func() {
			for {
				var msg wsMessage
				if err := wsjson.Read(ctx, conn, &msg); err != nil {
					closed <- websocket.CloseStatus(err)
					return
				}
			}
		}()
	}

	start := time.Now()
	require.NoError(t, srv.Sockets.Close(ctx), "every socket's handler returned")
	require.Less(t, time.Since(start), time.Second)
	require.Zero(t, srv.Sockets.Active())
	require.Zero(t, gathered(t, srv, "workingtracker_websocket_connections", ""))
	require.Equal(t, 2.0, gathered(t, srv, "workingtracker_http_requests_total", "101"), "upgrades are counted (when connection_init was answered: the socket then leaves its handler)")
	require.Equal(t, websocket.StatusCode(httpapi.CloseGoingAway), <-closed)
	require.Equal(t, websocket.StatusGoingAway, <-closed)

	late, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer late.CloseNow()
	require.Equal(t, websocket.StatusGoingAway, readUntilClosed(t, ctx, late), "a socket opened while closing goes away at once")
}

// TestWebsocketConnKeepsLimits: the going-away wrapper passes gqlgen's read limit (1 MiB) on to
// the connection, which gqlgen sets only on connections that take it: a 100 KiB message is
// read (the websocket library's own default limit is 32 KiB), one over 1 MiB closes the socket
// with 1009.
func TestWebsocketConnKeepsLimits(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	fx := srv.NewTenant("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn := dialAcked(t, ctx, srv, fx.Token)
	padded := func(n int) wsMessage {
		return wsMessage{ID: "1", Type: "subscribe", Payload: map[string]any{"query": "{ me { id } } # " + strings.Repeat("x", n)}}
	}
	require.NoError(t, wsjson.Write(ctx, conn, padded(100<<10)))
	var next wsMessage
	require.NoError(t, wsjson.Read(ctx, conn, &next), "a 100 KiB message is read")
	require.Equal(t, "next", next.Type)

	_ = wsjson.Write(ctx, conn, padded(2<<20))
	require.Equal(t, websocket.StatusMessageTooBig, readUntilClosed(t, ctx, conn))
}

// gathered is the value of name's series (whose code label is code, when given) on srv's
// registry.
func gathered(t *testing.T, srv *apitest.Server, name, code string) float64 {
	t.Helper()
	families, err := srv.Registry.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() != code {
					goto next
				}
			}
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		next:
		}
	}
	return sum
}
