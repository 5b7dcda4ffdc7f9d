package graph_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/metrics"
	"github.com/workingtracker/api/internal/testredis"
	"github.com/workingtracker/api/store"
)

const (
	statusSub = `subscription($id: ID!) { screenshotStatusChanged(screenshotId: $id) { id status failureReason width } }`
	feedSub   = `subscription($e: ID) { screenshotEvents(employeeId: $e) { id status } }`
)

// shotFixture is a tenant with a manager, their report, an outsider and their tokens.
type shotFixture struct {
	apitest.Fixture
	manager, report, outsider          *store.Employee
	managerTok, reportTok, outsiderTok string
}

func newShotFixture(t *testing.T, srv *apitest.Server, slug string) shotFixture {
	t.Helper()
	f := shotFixture{Fixture: srv.NewTenant(slug)}
	ctx := context.Background()
	mk := func(name, role string, manager *uuid.UUID) *store.Employee {
		e, err := srv.Store.CreateEmployee(ctx, f.Scope, store.EmployeeParams{Name: apitest.Ptr(name),
			Email: apitest.Ptr(strings.ToLower(name) + "@" + slug + ".example"), Role: apitest.Ptr(role), ManagerID: manager})
		require.NoError(t, err)
		return e
	}
	f.manager = mk("Manager", store.RoleManager, nil)
	f.report = mk("Report", store.RoleEmployee, &f.manager.ID)
	f.outsider = mk("Outsider", store.RoleEmployee, nil)
	f.managerTok = srv.Token(f.Tenant.ID, f.manager.ID, store.RoleManager)
	f.reportTok = srv.Token(f.Tenant.ID, f.report.ID, store.RoleEmployee)
	f.outsiderTok = srv.Token(f.Tenant.ID, f.outsider.ID, store.RoleEmployee)
	return f
}

// insertShot writes a PENDING screenshot of employee as the upload would.
func insertShot(t *testing.T, srv *apitest.Server, tenantID, employeeID uuid.UUID) uuid.UUID {
	t.Helper()
	id := uuid.New()
	asTenant(t, srv, tenantID, `INSERT INTO screenshots (tenant_id, id, employee_id, captured_at, status,
		original_key, original_bytes, original_format) VALUES ($1, $2, $3, now(), 'PENDING', 'k', 10, 'png')`, tenantID, id, employeeID)
	return id
}

// asTenant runs sql with row-level security set to tenantID, as the store's statements run.
func asTenant(t *testing.T, srv *apitest.Server, tenantID uuid.UUID, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, srv.Store.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenantID.String()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		return err
	}))
}

// changeShot moves a screenshot to status as the processing job does: the row first, then the
// event through pub.
func changeShot(t *testing.T, srv *apitest.Server, pub events.Publisher, tenantID, employeeID, id uuid.UUID, status string) {
	t.Helper()
	asTenant(t, srv, tenantID, `UPDATE screenshots SET status = $3, updated_at = clock_timestamp(),
		width = CASE WHEN $3 = 'PROCESSED' THEN 640 END WHERE tenant_id = $1 AND id = $2`, tenantID, id, status)
	require.NoError(t, pub.PublishScreenshot(context.Background(),
		events.ScreenshotChanged{TenantID: tenantID, ScreenshotID: id, EmployeeID: employeeID, Status: status}))
}

// wsClient is a graphql-transport-ws connection, acknowledged.
type wsClient struct {
	t    *testing.T
	ctx  context.Context
	conn *websocket.Conn
}

func openWS(t *testing.T, ctx context.Context, srv *apitest.Server, token string) *wsClient {
	t.Helper()
	conn := dialGraphQLWS(t, ctx, srv, map[string]any{"Authorization": "Bearer " + token})
	c := &wsClient{t: t, ctx: ctx, conn: conn}
	require.Equal(t, "connection_ack", c.read().Type)
	return c
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	require.NoError(c.t, wsjson.Write(c.ctx, c.conn, wsMessage{ID: id, Type: "subscribe",
		Payload: map[string]any{"query": query, "variables": vars}}))
}

// read returns the next message that is not a keep-alive.
func (c *wsClient) read() wsMessage {
	c.t.Helper()
	for {
		var m wsMessage
		require.NoError(c.t, wsjson.Read(c.ctx, c.conn, &m))
		if m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}

// silent asserts that nothing but keep-alives arrives for d; the connection is closed then
// (coder/websocket closes a connection whose read is cancelled).
func (c *wsClient) silent(d time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, d)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			require.ErrorIs(c.t, err, context.DeadlineExceeded, "the connection stays open")
			return
		}
		require.Contains(c.t, []string{"ping", "pong"}, m.Type, "no message expected: %+v", m)
	}
}

// field is the subscription's object in a next message.
func subField(t *testing.T, m wsMessage, name string) map[string]any {
	t.Helper()
	require.Equal(t, "next", m.Type, "%+v", m)
	require.Nil(t, m.Payload["errors"], "%+v", m)
	return m.Payload["data"].(map[string]any)[name].(map[string]any)
}

// errorCode is the code of the first error of a refused subscription (an error message, or a
// next message carrying errors).
func errorCode(t *testing.T, m wsMessage) string {
	t.Helper()
	require.Equal(t, "next", m.Type, "%+v", m)
	errs, _ := m.Payload["errors"].([]any)
	require.NotEmpty(t, errs, "%+v", m)
	return errs[0].(map[string]any)["extensions"].(map[string]any)["code"].(string)
}

func TestScreenshotStatusChangedOverWebsocket(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	f := newShotFixture(t, srv, "acme")
	other := newShotFixture(t, srv, "globex")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shot := insertShot(t, srv, f.Tenant.ID, f.report.ID)

	t.Run("CurrentStateThenEachChangeThenComplete", func(t *testing.T) {
		c := openWS(t, ctx, srv, f.reportTok)
		c.subscribe("1", statusSub, map[string]any{"id": shot})
		first := subField(t, c.read(), "screenshotStatusChanged")
		require.Equal(t, shot.String(), first["id"])
		require.Equal(t, "PENDING", first["status"])
		changeShot(t, srv, srv.Events, f.Tenant.ID, f.report.ID, shot, store.ScreenshotProcessing)
		require.Equal(t, "PROCESSING", subField(t, c.read(), "screenshotStatusChanged")["status"])
		changeShot(t, srv, srv.Events, f.Tenant.ID, f.report.ID, shot, store.ScreenshotProcessed)
		done := subField(t, c.read(), "screenshotStatusChanged")
		require.Equal(t, "PROCESSED", done["status"])
		require.EqualValues(t, 640, done["width"], "the row as re-read, not the event")
		require.Equal(t, wsMessage{ID: "1", Type: "complete"}, c.read())
	})
	t.Run("LateSubscriberGetsTheFinalStateAndCompletion", func(t *testing.T) {
		c := openWS(t, ctx, srv, f.managerTok)
		c.subscribe("1", statusSub, map[string]any{"id": shot})
		require.Equal(t, "PROCESSED", subField(t, c.read(), "screenshotStatusChanged")["status"])
		require.Equal(t, wsMessage{ID: "1", Type: "complete"}, c.read())
	})

	fresh := insertShot(t, srv, f.Tenant.ID, f.report.ID)
	for name, tok := range map[string]string{
		"ErrNotFoundForAnotherTenant":  other.Token,
		"ErrNotFoundForAColleague":     f.outsiderTok,
		"ErrNotFoundForAnotherManager": other.managerTok,
	} {
		t.Run(name, func(t *testing.T) {
			c := openWS(t, ctx, srv, tok)
			c.subscribe("1", statusSub, map[string]any{"id": fresh})
			require.Equal(t, "NOT_FOUND", errorCode(t, c.read()))
			require.Equal(t, "complete", c.read().Type)
			changeShot(t, srv, srv.Events, f.Tenant.ID, f.report.ID, fresh, store.ScreenshotProcessing)
			c.silent(300 * time.Millisecond)
		})
	}
	t.Run("ErrForbiddenWithoutARole", func(t *testing.T) {
		c := openWS(t, ctx, srv, srv.Token(f.Tenant.ID, f.report.ID))
		c.subscribe("1", statusSub, map[string]any{"id": fresh})
		require.Equal(t, "FORBIDDEN", errorCode(t, c.read()))
	})
	require.Eventually(t, func() bool { return srv.Events.Active() == 0 }, 5*time.Second, 10*time.Millisecond,
		"every subscription left the bus")
}

func TestScreenshotEventsFollowTheCallersReach(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	f := newShotFixture(t, srv, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reportShot := insertShot(t, srv, f.Tenant.ID, f.report.ID)
	outsiderShot := insertShot(t, srv, f.Tenant.ID, f.outsider.ID)

	manager := openWS(t, ctx, srv, f.managerTok)
	manager.subscribe("all", feedSub, nil)
	admin := openWS(t, ctx, srv, f.Token)
	admin.subscribe("all", feedSub, map[string]any{"e": f.outsider.ID})
	require.Eventually(t, func() bool { return srv.Events.Active() == 2 }, 5*time.Second, 10*time.Millisecond)

	changeShot(t, srv, srv.Events, f.Tenant.ID, f.outsider.ID, outsiderShot, store.ScreenshotProcessing)
	changeShot(t, srv, srv.Events, f.Tenant.ID, f.report.ID, reportShot, store.ScreenshotProcessing)
	got := subField(t, manager.read(), "screenshotEvents")
	require.Equal(t, reportShot.String(), got["id"], "the report's event, and not the outsider's before it")
	require.Equal(t, "PROCESSING", got["status"])
	require.Equal(t, outsiderShot.String(), subField(t, admin.read(), "screenshotEvents")["id"])
	admin.silent(200 * time.Millisecond) // not the report's: admin asked for the outsider's only

	t.Run("ErrNotFoundForAnEmployeeOutOfReach", func(t *testing.T) {
		manager.subscribe("one", feedSub, map[string]any{"e": f.outsider.ID})
		require.Equal(t, "NOT_FOUND", errorCode(t, manager.read()))
		require.Equal(t, wsMessage{ID: "one", Type: "complete"}, manager.read())
	})
	t.Run("ForgedEventOfAnotherTenantRevealsNothing", func(t *testing.T) {
		// An event naming this tenant but another tenant's screenshot re-reads nothing.
		other := newShotFixture(t, srv, "globex")
		foreign := insertShot(t, srv, other.Tenant.ID, other.report.ID)
		require.NoError(t, srv.Events.PublishScreenshot(ctx, events.ScreenshotChanged{TenantID: f.Tenant.ID,
			ScreenshotID: foreign, EmployeeID: f.report.ID, Status: "PROCESSED"}))
		manager.silent(300 * time.Millisecond)
	})
}

// TestSubscriptionOverSSE: the same subscription over Server-Sent Events, authenticated by the
// Authorization header and priced like a query.
func TestSubscriptionOverSSE(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	f := newShotFixture(t, srv, "acme")
	shot := insertShot(t, srv, f.Tenant.ID, f.report.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	post := func(token string) *http.Response {
		body, _ := json.Marshal(map[string]any{"query": statusSub, "variables": map[string]any{"id": shot}})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/query", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	t.Run("StatesInOrderThenComplete", func(t *testing.T) {
		resp := post(f.reportTok)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		events := sseEvents(resp)
		next := func() map[string]any {
			e := <-events
			require.Equal(t, "next", e.name, "%+v", e)
			var r apitest.Response
			require.NoError(t, json.Unmarshal([]byte(e.data), &r))
			require.Empty(t, r.Errors)
			var d struct{ ScreenshotStatusChanged map[string]any }
			require.NoError(t, json.Unmarshal(r.Data, &d))
			d.ScreenshotStatusChanged["_extensions"] = r.Extensions
			return d.ScreenshotStatusChanged
		}
		first := next()
		require.Equal(t, "PENDING", first["status"])
		cost := first["_extensions"].(map[string]any)["cost"].(map[string]any)
		require.GreaterOrEqual(t, cost["requestedQueryCost"], 1.0, "priced like a query")
		status := cost["throttleStatus"].(map[string]any)
		require.Less(t, status["currentlyAvailable"], status["maximumAvailable"], "and charged")
		changeShot(t, srv, srv.Events, f.Tenant.ID, f.report.ID, shot, store.ScreenshotProcessing)
		require.Equal(t, "PROCESSING", next()["status"])
		changeShot(t, srv, srv.Events, f.Tenant.ID, f.report.ID, shot, store.ScreenshotProcessed)
		require.Equal(t, "PROCESSED", next()["status"])
		require.Equal(t, "complete", (<-events).name)
	})
	t.Run("ErrUnauthenticatedWithoutToken", func(t *testing.T) {
		resp := post("")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
	t.Run("ErrNotFoundForAColleague", func(t *testing.T) {
		resp := post(f.outsiderTok)
		e := <-sseEvents(resp)
		require.Equal(t, "next", e.name)
		require.Contains(t, e.data, `"NOT_FOUND"`)
	})
	t.Run("ErrBadRequestOverPlainPOST", func(t *testing.T) {
		r := srv.Do(f.reportTok, statusSub, map[string]any{"id": shot})
		require.Equal(t, http.StatusBadRequest, r.Status)
		require.Equal(t, "BAD_REQUEST", r.Errors[0].Code())
	})
}

// doSSE sends a subscription over Server-Sent Events and returns its first response.
func doSSE(t *testing.T, srv *apitest.Server, token, query string, vars map[string]any) apitest.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/query", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	e, ok := <-sseEvents(resp)
	require.True(t, ok, "no event")
	require.Equal(t, "next", e.name)
	r := apitest.Response{Status: resp.StatusCode}
	require.NoError(t, json.Unmarshal([]byte(e.data), &r))
	return r
}

type sseEvent struct{ name, data string }

// sseEvents parses a Server-Sent Events stream (comments skipped); the channel closes at its end.
func sseEvents(resp *http.Response) <-chan sseEvent {
	out := make(chan sseEvent, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.name != "" {
					out <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				e.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				e.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

// TestScreenshotEventsCrossInstances: two servers over one database and one Redis; an event
// published on one reaches a subscriber of the other.
func TestScreenshotEventsCrossInstances(t *testing.T) {
	t.Parallel()
	rdb := testredis.Client(t)
	channel := "test:screenshots:" + uuid.NewString() // apart from other tests on the shared Redis
	busA := events.NewBus(events.BusOpts{Redis: rdb, Channel: channel})
	busB := events.NewBus(events.BusOpts{Redis: rdb, Channel: channel})
	t.Cleanup(func() { _ = busA.Close(); _ = busB.Close() })
	a := apitest.New(t, apitest.Opts{Events: busA})
	b := apitest.New(t, apitest.Opts{Events: busB, DatabaseURL: a.DatabaseURL, Signer: a.Signer})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, busB.Ready(ctx))
	f := newShotFixture(t, a, "acme")
	shot := insertShot(t, a, f.Tenant.ID, f.report.ID)

	c := openWS(t, ctx, b, f.managerTok)
	c.subscribe("1", statusSub, map[string]any{"id": shot})
	require.Equal(t, "PENDING", subField(t, c.read(), "screenshotStatusChanged")["status"])
	changeShot(t, a, busA, f.Tenant.ID, f.report.ID, shot, store.ScreenshotFailed)
	require.Equal(t, "FAILED", subField(t, c.read(), "screenshotStatusChanged")["status"])
	require.Equal(t, "complete", c.read().Type)
}

// TestSubscriptionsSurviveRedisRestart: with Redis stopped the server answers queries and
// reports the failure (log and metric); once Redis is back, events flow again.
func TestSubscriptionsSurviveRedisRestart(t *testing.T) {
	t.Parallel()
	rs := testredis.Start(t)
	newClient := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	var logs apitest.LogBuffer
	reg := prometheus.NewRegistry()
	bus := events.NewBus(events.BusOpts{Redis: newClient(), Observer: metrics.NewEvents(reg),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	t.Cleanup(func() { _ = bus.Close() })
	publisher := events.NewBus(events.BusOpts{Redis: newClient()}) // the worker's instance
	t.Cleanup(func() { _ = publisher.Close() })
	srv := apitest.New(t, apitest.Opts{Events: bus})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, bus.Ready(ctx))
	f := newShotFixture(t, srv, "acme")
	shot := insertShot(t, srv, f.Tenant.ID, f.report.ID)
	c := openWS(t, ctx, srv, f.reportTok)
	c.subscribe("1", statusSub, map[string]any{"id": shot})
	require.Equal(t, "PENDING", subField(t, c.read(), "screenshotStatusChanged")["status"])

	rs.Stop()
	require.Eventually(t, func() bool { return metricValue(t, reg, "workingtracker_events_pubsub_errors_total") > 0 }, 10*time.Second, 20*time.Millisecond,
		"the lost subscription is counted")
	require.Equal(t, 0.0, metricValue(t, reg, "workingtracker_events_pubsub_connected"))
	require.Contains(t, logs.String(), "redis subscription failed")
	require.Empty(t, srv.Do(f.reportTok, `{ me { id } }`, nil).Errors, "queries are answered without Redis")
	require.Error(t, publisher.PublishScreenshot(ctx, events.ScreenshotChanged{TenantID: f.Tenant.ID, ScreenshotID: shot}),
		"publishing reports the outage to its caller")

	rs.Restart()
	require.Eventually(t, func() bool { return metricValue(t, reg, "workingtracker_events_pubsub_connected") == 1 }, 15*time.Second, 20*time.Millisecond,
		"the subscription comes back")
	require.Contains(t, logs.String(), "redis subscription restored")
	changeShot(t, srv, publisher, f.Tenant.ID, f.report.ID, shot, store.ScreenshotProcessed)
	require.Equal(t, "PROCESSED", subField(t, c.read(), "screenshotStatusChanged")["status"], "delivered through Redis again")
	require.Equal(t, "complete", c.read().Type)
}

func TestSubscriptionCapsPerPrincipal(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{Subscriptions: httpapi.SubscriptionLimits{MaxConnections: 2, MaxSubscriptions: 1}})
	f := newShotFixture(t, srv, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shot := insertShot(t, srv, f.Tenant.ID, f.report.ID)

	c := openWS(t, ctx, srv, f.reportTok)
	c.subscribe("1", statusSub, map[string]any{"id": shot})
	require.Equal(t, "PENDING", subField(t, c.read(), "screenshotStatusChanged")["status"])

	t.Run("ErrTooManySubscriptionsAndTheConnectionStaysUsable", func(t *testing.T) {
		c.subscribe("2", feedSub, nil)
		m := c.read()
		require.Equal(t, "2", m.ID)
		require.Equal(t, "TOO_MANY_SUBSCRIPTIONS", errorCode(t, m))
		require.Equal(t, "complete", c.read().Type)
		c.subscribe("3", `{ me { id } }`, nil)
		require.Equal(t, f.report.ID.String(), subField(t, c.read(), "me")["id"])
		require.Equal(t, "complete", c.read().Type)
	})
	t.Run("ASubscriptionEndedFreesItsPlace", func(t *testing.T) {
		require.NoError(t, wsjson.Write(ctx, c.conn, wsMessage{ID: "1", Type: "complete"}))
		require.Equal(t, wsMessage{ID: "1", Type: "complete"}, c.read())
		require.Eventually(t, func() bool { return srv.Events.Active() == 0 }, 5*time.Second, 10*time.Millisecond)
		c.subscribe("4", feedSub, nil)
		require.Eventually(t, func() bool { return srv.Events.Active() == 1 }, 5*time.Second, 10*time.Millisecond, "running")
	})
	t.Run("ErrTooManyConnections", func(t *testing.T) {
		openWS(t, ctx, srv, f.reportTok) // the second of two
		conn := dialGraphQLWS(t, ctx, srv, map[string]any{"Authorization": "Bearer " + f.reportTok})
		var m wsMessage
		err := wsjson.Read(ctx, conn, &m)
		require.Error(t, err, "%+v", m)
		require.Equal(t, websocket.StatusCode(4429), websocket.CloseStatus(err))
		require.Contains(t, err.Error(), "TOO_MANY_SUBSCRIPTIONS")
		openWS(t, ctx, srv, f.managerTok) // another person's are counted apart
	})
	t.Run("ErrTooManyConnectionsCountsEventStreams", func(t *testing.T) {
		openWS(t, ctx, srv, f.reportTok) // the second of two: an event stream would be a third
		body, err := json.Marshal(map[string]any{"query": feedSub})
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/query", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+f.reportTok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		r := apitest.Decode(t, resp)
		require.Equal(t, http.StatusTooManyRequests, r.Status)
		require.Equal(t, "TOO_MANY_SUBSCRIPTIONS", r.Errors[0].Code())
	})
}

func TestWebsocketOrigin(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{AllowedOrigins: []string{"https://app.example.com"}})
	f := srv.NewTenant("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
	}
	t.Run("ErrForbiddenForAnotherSite", func(t *testing.T) {
		_, resp, err := dial("https://evil.example")
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
	for name, origin := range map[string]string{"AllowedOrigin": "https://app.example.com", "NoOrigin": "",
		"SameOrigin": srv.URL} {
		t.Run(name, func(t *testing.T) {
			conn, _, err := dial(origin)
			require.NoError(t, err)
			defer conn.CloseNow()
			require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init",
				Payload: map[string]any{"Authorization": "Bearer " + f.Token}}))
			var m wsMessage
			require.NoError(t, wsjson.Read(ctx, conn, &m))
			require.Equal(t, "connection_ack", m.Type)
		})
	}
}

// TestSubscriptionEndsWhenTheEmployeeIsTerminated: the periodic account recheck closes the
// socket, and the subscription leaves the bus with it.
func TestSubscriptionEndsWhenTheEmployeeIsTerminated(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{AccountTTL: 200 * time.Millisecond})
	f := newShotFixture(t, srv, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := openWS(t, ctx, srv, f.reportTok)
	c.subscribe("1", feedSub, nil)
	require.Eventually(t, func() bool { return srv.Events.Active() == 1 }, 5*time.Second, 10*time.Millisecond)
	_, err := srv.Store.UpdateEmployee(ctx, f.Scope, f.report.ID, store.EmployeeParams{Status: apitest.Ptr(store.EmployeeTerminated)})
	require.NoError(t, err)
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded, "closed by the server")
			break
		}
		require.NotEqual(t, "next", m.Type)
	}
	require.Eventually(t, func() bool { return srv.Events.Active() == 0 }, 5*time.Second, 10*time.Millisecond)
}

// metricValue is the value of the unlabelled counter or gauge name in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			m := f.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestSubscriptionReachFollowsTheReportingLine: a report moved to another manager drops out of
// the first manager's running subscriptions once their reach is older than ReachRefresh — the
// feed hears no more of them, and a status subscription on their screenshot ends unsent.
func TestSubscriptionReachFollowsTheReportingLine(t *testing.T) {
	t.Parallel()
	const refresh = 50 * time.Millisecond
	srv := apitest.New(t, apitest.Opts{ReachRefresh: refresh})
	f := newShotFixture(t, srv, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shot := insertShot(t, srv, f.Tenant.ID, f.report.ID)

	manager := openWS(t, ctx, srv, f.managerTok)
	manager.subscribe("feed", feedSub, nil)
	manager.subscribe("one", statusSub, map[string]any{"id": shot})
	require.Equal(t, "PENDING", subField(t, manager.read(), "screenshotStatusChanged")["status"])
	require.Eventually(t, func() bool { return srv.Events.Active() == 2 }, 5*time.Second, 10*time.Millisecond)
	changeShot(t, srv, srv.Events, f.Tenant.ID, f.report.ID, shot, store.ScreenshotProcessing)
	seen := map[string]string{}
	for len(seen) < 2 {
		m := manager.read()
		seen[m.ID] = subField(t, m, map[string]string{"feed": "screenshotEvents", "one": "screenshotStatusChanged"}[m.ID])["status"].(string)
	}
	require.Equal(t, map[string]string{"feed": "PROCESSING", "one": "PROCESSING"}, seen, "in reach")

	_, err := srv.Store.UpdateEmployee(ctx, f.Scope, f.report.ID, store.EmployeeParams{ManagerID: &f.outsider.ID})
	require.NoError(t, err)
	time.Sleep(2 * refresh)
	changeShot(t, srv, srv.Events, f.Tenant.ID, f.report.ID, shot, store.ScreenshotProcessed)
	require.Equal(t, wsMessage{ID: "one", Type: "complete"}, manager.read(), "ends without the row")
	manager.silent(300 * time.Millisecond) // and the feed says nothing
}
