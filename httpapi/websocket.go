package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/reqid"
)

// subprotocolTransportWS is the protocol of the graphql-ws library
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
const subprotocolTransportWS = "graphql-transport-ws"

// wsReadLimit bounds a client's message, as gqlgen's transport does (1 MiB; TestWebsocketConnKeepsLimits).
const wsReadLimit = 1 << 20

// wsBufferSize is each direction's buffer of a websocket: its messages are a few hundred bytes,
// and larger ones pass the buffer by.
const wsBufferSize = 512

// Close codes of graphql-transport-ws.
const (
	closeBadRequest       = 4400 // a message that is not the protocol's
	closeForbidden        = 4403 // connection_init refused
	closeDuplicateID      = 4409 // subscribe with an id that runs
	closeTooManyInitCalls = 4429 // a second connection_init
)

// transportWS serves graphql-transport-ws, gqlgen's executor behind it as behind every other
// transport (CreateOperationContext, DispatchOperation: AroundOperations, AroundResponses and
// the rest run as for a POST). It exists for the memory of an open connection (10,000
// subscriptions held under 20 KB each; bench/subscriptions_test.go). gqlgen's transport keeps,
// for each connection, the handler's goroutine with the stack the middleware chain grew, net/http's
// buffers and request, a goroutine that waits to close the socket, and one per subscription
// parked on its channel. Here:
//   - after connection_init the connection detaches from its HTTP handler: one goroutine of its
//     own reads the socket, from a shallow stack, and net/http forgets the hijacked connection;
//   - the socket's buffers are 512 bytes, not net/http's 4 KiB each way;
//   - closing on shutdown, token expiry or an account recheck is a context.AfterFunc, not a
//     goroutine;
//   - a subscription whose resolver notifies (graph.Stream) holds no goroutine while it waits:
//     its response handler runs when the resolver says a value is there.
//
// What the client sees is gqlgen's transport's: connection_ack without a payload, next, error
// (an operation's refusal), complete, pong for ping; 1002 when connection_init does not come in
// time; 1001 when the server shuts down; 1000 when the connection's credentials expire or its
// principal is refused by a recheck. A refused connection_init closes with the code the refusal
// carries (4429 over the connection cap), else 4403 and the refusal's message.
type transportWS struct {
	origins     []string
	initTimeout time.Duration
	// init authenticates connection_init's payload; the context it returns is the connection's
	// (it ends when the credentials expire).
	init    func(ctx context.Context, payload map[string]any) (context.Context, error)
	sockets *Sockets // nil: not tracked
	logger  *slog.Logger
}

var _ graphql.Transport = transportWS{}

// Supports websocket upgrades that offer graphql-transport-ws; gqlgen's transport takes the
// others (graphql-ws).
func (t transportWS) Supports(r *http.Request) bool {
	if !isWebsocketUpgrade(r) {
		return false
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if strings.TrimSpace(p) == subprotocolTransportWS {
				return true
			}
		}
	}
	return false
}

func (t transportWS) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	hj := &smallBuffers{ResponseWriter: w}
	ws, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		Subprotocols: []string{subprotocolTransportWS}, OriginPatterns: t.origins})
	if err != nil { // Accept answered
		t.logger.DebugContext(r.Context(), "websocket upgrade", "err", err, "request_id", reqid.From(r.Context()))
		return
	}
	ws.SetReadLimit(wsReadLimit)
	c := &wsConn{ws: ws, br: hj.br, exec: exec, logger: t.logger, subs: map[string]*wsStream{}}
	if sc, ok := hj.conn.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	// The connection outlives this handler (and the request's context, which net/http cancels
	// when the handler returns); it keeps the request's values (request id, client address,
	// principal, trace).
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	release := func() {}
	if t.sockets != nil {
		release = t.sockets.hold(c) // and a socket accepted after shutdown began goes away at once
	}
	end := func() {
		c.shut()
		cancel()
		release()
	}
	ctx, ok := c.handshake(ctx, t)
	if !ok {
		end()
		return
	}
	c.ctx = ctx
	// The credentials expired, a recheck refused the principal: the connection ends.
	context.AfterFunc(ctx, func() { c.close(websocket.StatusNormalClosure, "terminated") })
	go c.serve(end)
}

// smallBuffers hands the websocket library a hijacked connection with wsBufferSize buffers in
// place of net/http's 4 KiB ones, which it would keep for the connection's life; and remembers
// the connection and its read buffer (waitReadable).
type smallBuffers struct {
	http.ResponseWriter
	conn net.Conn
	br   *bufio.Reader
}

func (s *smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			return nil, nil, err
		}
	}
	br := bufio.NewReaderSize(conn, wsBufferSize)
	if n := brw.Reader.Buffered(); n > 0 {
		// The client's first frames came with the upgrade: they must be in the new buffer, which
		// the websocket library reads them from before it resets it onto conn.
		b, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn), max(n, wsBufferSize))
		if _, err := br.Peek(n); err != nil {
			return nil, nil, err
		}
	}
	s.conn, s.br = conn, br
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, wsBufferSize)), nil
}

// wsConn is one graphql-transport-ws connection.
type wsConn struct {
	ws     *websocket.Conn
	br     *bufio.Reader   // ws reads through it
	raw    syscall.RawConn // the socket's, to wait for readability; nil: not available
	exec   graphql.GraphExecutor
	logger *slog.Logger
	ctx    context.Context // after connection_init: ends with the credentials, or the connection

	mu     sync.Mutex
	closed bool
	subs   map[string]*wsStream
}

// wsMessage is a message of the protocol, either way.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

var errBadMessage = errors.New("not a graphql-transport-ws message")

// read returns the next message; errBadMessage for one that is not the protocol's.
func (c *wsConn) read() (wsMessage, error) {
	typ, data, err := c.ws.Read(context.Background())
	if err != nil {
		return wsMessage{}, err
	}
	var m wsMessage
	if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil || m.Type == "" {
		return wsMessage{}, errBadMessage
	}
	return m, nil
}

// waitReadable returns once the socket has something to read (or failed), without reading:
// an idle connection's goroutine then waits a few frames deep, not at the bottom of the
// websocket library's read path, and its stack shrinks to the smallest the runtime keeps for it
// (4 KiB, where waiting in the read path holds 8). Data already buffered is readable at once;
// so is everything once the connection closes (the close handshake reads on its own goroutine,
// and only then may the buffer be touched by another goroutine: c.closed is set, under c.mu,
// before that starts).
func (c *wsConn) waitReadable() {
	c.mu.Lock()
	skip := c.raw == nil || c.closed || c.br.Buffered() > 0
	c.mu.Unlock()
	if skip {
		return
	}
	_ = c.raw.Read(readable) // until readable returns true: it waits for the socket meanwhile
}

// handshake waits for connection_init (closing the socket after the timeout with 1002, as
// gqlgen does), authenticates it and acknowledges it.
func (c *wsConn) handshake(ctx context.Context, t transportWS) (context.Context, bool) {
	timer := time.AfterFunc(t.initTimeout, func() {
		c.close(websocket.StatusProtocolError, "connection initialisation timeout")
	})
	m, err := c.read()
	if !timer.Stop() || err != nil {
		if errors.Is(err, errBadMessage) {
			c.close(closeBadRequest, "invalid message")
		}
		return ctx, false
	}
	if m.Type != "connection_init" {
		c.close(closeBadRequest, "connection_init first")
		return ctx, false
	}
	var payload map[string]any
	if len(m.Payload) > 0 && !bytes.Equal(m.Payload, []byte("null")) {
		if err := json.Unmarshal(m.Payload, &payload); err != nil {
			c.close(closeBadRequest, "connection_init's payload must be an object")
			return ctx, false
		}
	}
	ctx, err = t.init(ctx, payload)
	if err != nil {
		var ce *wsCloseError
		switch {
		case errors.As(err, &ce):
			c.close(ce.code, ce.reason)
		case errors.Is(err, auth.ErrUnauthenticated):
			c.close(closeForbidden, err.Error())
		default:
			c.close(websocket.StatusInternalError, err.Error())
		}
		return ctx, false
	}
	c.send(wsMessage{Type: "connection_ack"})
	return ctx, true
}

// serve reads the connection's messages until it ends; then end.
func (c *wsConn) serve(end func()) {
	defer end()
	for {
		c.waitReadable()
		start := graphql.Now()
		m, err := c.read()
		if err != nil {
			if errors.Is(err, errBadMessage) {
				c.close(closeBadRequest, "invalid message")
				continue // until the close handshake ends the reads
			}
			if s := websocket.CloseStatus(err); s == -1 && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				c.logger.DebugContext(c.ctx, "websocket", "err", err, "request_id", reqid.From(c.ctx))
			}
			return
		}
		switch m.Type {
		case "subscribe":
			c.subscribe(start, m)
		case "complete":
			c.mu.Lock()
			s := c.subs[m.ID]
			c.mu.Unlock()
			if s != nil {
				s.cancel()
			}
		case "ping":
			c.send(wsMessage{Type: "pong", Payload: m.Payload})
		case "pong":
		case "connection_init":
			c.close(closeTooManyInitCalls, "too many initialisation requests")
		default:
			c.close(closeBadRequest, "unexpected message "+m.Type)
		}
	}
}

// subscribe starts an operation. It runs on a goroutine of its own (parsing, validation and
// the resolvers' first work grow a stack the reading goroutine should not keep).
func (c *wsConn) subscribe(start time.Time, m wsMessage) {
	ctx, cancel := context.WithCancel(c.ctx)
	s := &wsStream{c: c, id: m.ID, cancel: cancel}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		return
	}
	if _, dup := c.subs[m.ID]; dup {
		c.mu.Unlock()
		cancel()
		c.close(closeDuplicateID, fmt.Sprintf("subscriber for %s already exists", m.ID))
		return
	}
	c.subs[m.ID] = s
	c.mu.Unlock()
	go s.run(ctx, start, m.Payload)
}

// send writes m; a failure is the client going away, which the reading goroutine sees.
func (c *wsConn) send(m wsMessage) {
	b, err := json.Marshal(m)
	if err != nil {
		c.logger.ErrorContext(c.ctx, "websocket message", "err", err)
		return
	}
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.logger.DebugContext(c.ctx, "websocket write", "err", err)
	}
}

func (c *wsConn) sendResponse(id string, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		panic(err) // as gqlgen's transport: a response always marshals
	}
	c.send(wsMessage{ID: id, Type: "next", Payload: b})
}

func (c *wsConn) sendErrors(id string, errs gqlerror.List) {
	b, err := json.Marshal(errs)
	if err != nil {
		panic(err)
	}
	c.send(wsMessage{ID: id, Type: "error", Payload: b})
}

// close closes the socket with code and reason (once; the close handshake runs in the
// background, as gqlgen's) and cancels the running operations.
func (c *wsConn) close(code websocket.StatusCode, reason string) {
	if !c.shut() {
		return
	}
	for len(reason) > 123 { // a close frame's reason is at most 123 bytes
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	go func() { _ = c.ws.Close(code, reason) }()
}

// shut marks the connection closed and cancels its operations; it reports whether it was open.
func (c *wsConn) shut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.closed = true
	for _, s := range c.subs {
		s.cancel()
	}
	return true
}

func (c *wsConn) open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed
}

// wsStream is one operation of a connection. It is the operation's graph.Stream: a resolver
// that notifies has its response handler called only when a value waits (pull), so an open
// subscription holds no goroutine.
type wsStream struct {
	c      *wsConn
	id     string
	cancel context.CancelFunc

	mu        sync.Mutex
	notifying bool
	responses graphql.ResponseHandler // set once dispatched
	ctx       context.Context         // the responses' context
	pending   int                     // notifications not pulled yet
	pulling   bool
	finished  bool
	errs      gqlerror.List
}

var _ graph.Stream = (*wsStream)(nil)

func (s *wsStream) Notifying() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifying = true
}

func (s *wsStream) Notify() {
	s.mu.Lock()
	s.pending++
	if s.responses == nil || !s.notifying || s.pulling || s.finished {
		s.mu.Unlock()
		return
	}
	s.pulling = true
	s.mu.Unlock()
	go s.pull()
}

func (s *wsStream) Fail(errs gqlerror.List) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, errs...)
}

// run does what gqlgen's transport does for a subscribe message, then reads the responses:
// all of them at once for a resolver that does not notify (queries, mutations, other
// subscriptions), or as the resolver notifies.
func (s *wsStream) run(ctx context.Context, start time.Time, payload json.RawMessage) {
	c := s.c
	ctx = graphql.StartOperationTrace(ctx)
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		s.Fail(gqlerror.List{{Message: "invalid json"}})
		s.finish()
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			s.Fail(resp.Errors)
		} else {
			c.sendResponse(s.id, &graphql.Response{Errors: errs})
		}
		s.finish()
		return
	}
	ctx = graph.WithStream(graphql.WithOperationContext(ctx, rc), s)
	defer s.recover(ctx, rc)
	responses, ctx := c.exec.DispatchOperation(ctx, rc)
	s.mu.Lock()
	s.responses, s.ctx = responses, ctx
	notifying := s.notifying
	pull := notifying && s.pending > 0 && !s.pulling && !s.finished
	if pull {
		s.pulling = true
	}
	s.mu.Unlock()
	if !notifying {
		for {
			resp := responses(ctx)
			if resp == nil {
				break
			}
			c.sendResponse(s.id, resp)
		}
		s.finish()
		return
	}
	if pull {
		s.pull()
	}
}

// pull calls the response handler once per notification; each call returns at once.
func (s *wsStream) pull() {
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	defer s.recover(ctx, graphql.GetOperationContext(ctx))
	for {
		s.mu.Lock()
		if s.pending == 0 || s.finished {
			s.pulling = false
			s.mu.Unlock()
			return
		}
		s.pending--
		s.mu.Unlock()
		resp := s.responses(ctx)
		if resp == nil {
			s.finish()
			return
		}
		s.c.sendResponse(s.id, resp)
	}
}

// recover turns a panic of the operation into its error, as gqlgen's transport does.
func (s *wsStream) recover(ctx context.Context, rc *graphql.OperationContext) {
	r := recover()
	if r == nil {
		return
	}
	err := rc.Recover(ctx, r)
	var gqlErr *gqlerror.Error
	if !errors.As(err, &gqlErr) {
		gqlErr = &gqlerror.Error{}
		if err != nil {
			gqlErr.Message = err.Error()
		}
	}
	s.Fail(gqlerror.List{gqlErr})
	s.finish()
}

// finish ends the operation once: its errors in place of complete, else complete while the
// connection is open.
func (s *wsStream) finish() {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	s.finished = true
	errs := s.errs
	s.mu.Unlock()
	c := s.c
	if len(errs) > 0 {
		c.sendErrors(s.id, errs)
	} else if c.open() {
		c.send(wsMessage{ID: s.id, Type: "complete"})
	}
	c.mu.Lock()
	if c.subs[s.id] == s {
		delete(c.subs, s.id)
	}
	c.mu.Unlock()
	s.cancel()
}

// wsCloseError is a refused connection_init that names the close code and reason to send.
type wsCloseError struct {
	code   websocket.StatusCode
	reason string
}

func (e *wsCloseError) Error() string { return e.reason }
