package httpapi_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
)

const feedSub = `subscription { screenshotEvents { id status } }`

// closedWith reads conn until the server closes it and returns the close error.
func closedWith(t *testing.T, ctx context.Context, conn *websocket.Conn) websocket.CloseError {
	t.Helper()
	for {
		var msg wsMessage
		err := wsjson.Read(ctx, conn, &msg)
		if err == nil {
			continue
		}
		require.NotErrorIs(t, err, context.DeadlineExceeded, "closed by the server")
		var ce websocket.CloseError
		require.ErrorAs(t, err, &ce)
		return ce
	}
}

// TestTransportWS: graphql-transport-ws as the protocol has it, on the API's own transport.
func TestTransportWS(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	fx := srv.NewTenant("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("PongEchoesPing", func(t *testing.T) {
		conn := dialAcked(t, ctx, srv, fx.Token)
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "ping", Payload: map[string]any{"n": 7.0}}))
		var pong wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &pong))
		require.Equal(t, wsMessage{Type: "pong", Payload: map[string]any{"n": 7.0}}, pong)
	})
	t.Run("QueryIsNextThenComplete", func(t *testing.T) {
		conn := dialAcked(t, ctx, srv, fx.Token)
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{ID: "q", Type: "subscribe", Payload: map[string]any{"query": "{ me { id } }"}}))
		var next, complete wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &next))
		require.Equal(t, "next", next.Type)
		require.Equal(t, fx.Admin.ID.String(), next.Payload["data"].(map[string]any)["me"].(map[string]any)["id"])
		require.NoError(t, wsjson.Read(ctx, conn, &complete))
		require.Equal(t, wsMessage{ID: "q", Type: "complete"}, complete)
	})
	t.Run("ClientCompleteStopsTheSubscription", func(t *testing.T) {
		conn := dialAcked(t, ctx, srv, fx.Token)
		before := srv.Events.Active()
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{ID: "s", Type: "subscribe", Payload: map[string]any{"query": feedSub}}))
		require.Eventually(t, func() bool { return srv.Events.Active() == before+1 }, 5*time.Second, 5*time.Millisecond)
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{ID: "s", Type: "complete"}))
		var complete wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &complete))
		require.Equal(t, wsMessage{ID: "s", Type: "complete"}, complete)
		require.Eventually(t, func() bool { return srv.Events.Active() == before }, 5*time.Second, 5*time.Millisecond,
			"the subscription left the bus")
	})
	t.Run("ErrDuplicateIDCloses4409", func(t *testing.T) {
		conn := dialAcked(t, ctx, srv, fx.Token)
		sub := wsMessage{ID: "s", Type: "subscribe", Payload: map[string]any{"query": feedSub}}
		require.NoError(t, wsjson.Write(ctx, conn, sub))
		require.NoError(t, wsjson.Write(ctx, conn, sub))
		require.Equal(t, websocket.StatusCode(4409), closedWith(t, ctx, conn).Code)
	})
	t.Run("ErrSecondInitCloses4429", func(t *testing.T) {
		conn := dialAcked(t, ctx, srv, fx.Token)
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init",
			Payload: map[string]any{"Authorization": "Bearer " + fx.Token}}))
		require.Equal(t, websocket.StatusCode(4429), closedWith(t, ctx, conn).Code)
	})
	t.Run("ErrNotTheProtocolCloses4400", func(t *testing.T) {
		conn := dialAcked(t, ctx, srv, fx.Token)
		require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("hello")))
		require.Equal(t, websocket.StatusCode(4400), closedWith(t, ctx, conn).Code)
	})
	t.Run("ErrRefusedInitCloses4403WithTheReason", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		require.NoError(t, err)
		defer conn.CloseNow()
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init",
			Payload: map[string]any{"Authorization": "Bearer " + fx.Token + "x"}}))
		ce := closedWith(t, ctx, conn)
		require.Equal(t, websocket.StatusCode(4403), ce.Code)
		require.True(t, strings.HasPrefix(ce.Reason, "unauthenticated"), ce.Reason)
		require.NotContains(t, ce.Reason, fx.Token, "the token is not echoed")
	})
	t.Run("LegacyGraphQLWSIsGqlgens", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
			&websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
		require.NoError(t, err)
		defer conn.CloseNow()
		require.Equal(t, "graphql-ws", conn.Subprotocol())
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init",
			Payload: map[string]any{"Authorization": "Bearer " + fx.Token}}))
		var ack, ka wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &ack))
		require.Equal(t, "connection_ack", ack.Type)
		require.NoError(t, wsjson.Read(ctx, conn, &ka))
		require.Equal(t, "ka", ka.Type, "gqlgen's keep-alive")
	})
}

// TestTransportWSReadsFramesThatCameWithTheUpgrade: a client that sends connection_init in the
// same packet as its upgrade request (net/http has read it into its buffer by the hijack) is
// answered; the transport's smaller buffers must start with those bytes.
func TestTransportWSReadsFramesThatCameWithTheUpgrade(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	fx := srv.NewTenant("acme")
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/query", nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "graphql-transport-ws")
	var packet strings.Builder
	require.NoError(t, req.Write(&packet))
	init, err := json.Marshal(wsMessage{Type: "connection_init", Payload: map[string]any{"Authorization": "Bearer " + fx.Token}})
	require.NoError(t, err)
	packet.Write(maskedTextFrame(t, init))
	_, err = io.WriteString(conn, packet.String())
	require.NoError(t, err)

	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	head := make([]byte, 2)
	_, err = io.ReadFull(br, head)
	require.NoError(t, err)
	require.Equal(t, byte(0x81), head[0], "a text frame")
	body := make([]byte, head[1]&0x7f)
	_, err = io.ReadFull(br, body)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"connection_ack"}`, string(body))
}

// maskedTextFrame is payload as one masked text frame, as a client sends it.
func maskedTextFrame(t *testing.T, payload []byte) []byte {
	t.Helper()
	frame := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n <= 0xffff:
		frame = append(frame, 0x80|126)
		frame = binary.BigEndian.AppendUint16(frame, uint16(n))
	default:
		t.Fatal("payload too large for this test")
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	frame = append(frame, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	return frame
}

// TestTransportWSHoldsOneGoroutinePerSubscribedConnection: an open websocket with a
// subscription waiting for events holds one goroutine (the one that reads the socket) — not
// gqlgen's five: the handler's, a closer, one per subscription parked on its channel, the
// resolver's, a recheck ticker. It relies on the resolvers notifying (graph.Stream) and on
// gqlgen's response handler returning at once when notified. Not parallel: it counts the
// process's goroutines.
func TestTransportWSHoldsOneGoroutinePerSubscribedConnection(t *testing.T) {
	srv := apitest.New(t, apitest.Opts{})
	fx := srv.NewTenant("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	settled := func() int {
		n := runtime.NumGoroutine()
		for range 50 { // let goroutines that are ending end
			time.Sleep(20 * time.Millisecond)
			if m := runtime.NumGoroutine(); m == n {
				return n
			} else {
				n = m
			}
		}
		return n
	}
	before := settled()
	const conns = 20
	for range conns {
		conn := dialAcked(t, ctx, srv, fx.Token)
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{ID: "s", Type: "subscribe", Payload: map[string]any{"query": feedSub}}))
	}
	require.Eventually(t, func() bool { return srv.Events.Active() == conns }, 10*time.Second, 5*time.Millisecond)
	perConn := float64(settled()-before) / conns
	require.LessOrEqual(t, perConn, 1.25, "goroutines per subscribed connection")
}
