package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
)

type wsMessage struct {
	ID      string         `json:"id,omitempty"`
	Type    string         `json:"type"`
	Payload map[string]any `json:"payload,omitempty"`
}

// dialGraphQLWS opens a graphql-transport-ws connection and sends connection_init with payload,
// as a browser does: browsers cannot set an Authorization header on a websocket.
func dialGraphQLWS(t *testing.T, ctx context.Context, srv *apitest.Server, payload map[string]any) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { conn.CloseNow() })
	require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: payload}))
	return conn
}

func TestWebsocketAuthenticatesConnectionInit(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := srv.NewTenant("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("WithToken", func(t *testing.T) {
		conn := dialGraphQLWS(t, ctx, srv, map[string]any{"Authorization": "Bearer " + c.Token})
		var ack wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &ack))
		require.Equal(t, "connection_ack", ack.Type)
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{ID: "1", Type: "subscribe",
			Payload: map[string]any{"query": "{ me { id } }"}}))
		var next wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &next))
		require.Equal(t, "next", next.Type)
		me := next.Payload["data"].(map[string]any)["me"].(map[string]any)
		require.Equal(t, c.Admin.ID.String(), me["id"])
	})
	t.Run("ClosedWhenTheTokenExpires", func(t *testing.T) {
		short, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
			TenantID: c.Tenant.ID, EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"}, TTL: 2 * time.Second})
		require.NoError(t, err)
		conn := dialGraphQLWS(t, ctx, srv, map[string]any{"Authorization": "Bearer " + short})
		var ack wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &ack))
		require.Equal(t, "connection_ack", ack.Type)
		for {
			var msg wsMessage
			if err := wsjson.Read(ctx, conn, &msg); err != nil {
				require.NotErrorIs(t, err, context.DeadlineExceeded, "closed by the server, not by the test's timeout")
				break
			}
			require.Equal(t, "ping", msg.Type, "only keep-alives until the token expires")
		}
	})
	t.Run("ErrWithoutToken", func(t *testing.T) {
		conn := dialGraphQLWS(t, ctx, srv, map[string]any{})
		var msg wsMessage
		err := wsjson.Read(ctx, conn, &msg)
		if err == nil {
			require.NotEqual(t, "connection_ack", msg.Type, "no ack without a token")
			err = wsjson.Read(ctx, conn, &msg)
		}
		require.Error(t, err, "the server closes the connection")
	})
	t.Run("ErrWithForgedToken", func(t *testing.T) {
		conn := dialGraphQLWS(t, ctx, srv, map[string]any{"Authorization": "Bearer " + c.Token + "x"})
		var msg wsMessage
		err := wsjson.Read(ctx, conn, &msg)
		if err == nil {
			require.NotEqual(t, "connection_ack", msg.Type)
			err = wsjson.Read(ctx, conn, &msg)
		}
		require.Error(t, err)
	})
}
