package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/testredis"
)

// slowTiers give every role a budget of maximum points restored at one point an hour: within a
// test a budget only shrinks, so every figure is exact.
func slowTiers(maximum int) ratelimit.Tiers {
	slow := ratelimit.Limit{Burst: maximum, Rate: 1, Period: time.Hour}
	t := ratelimit.DefaultTiers()
	for role := range t.ByRole {
		t.ByRole[role] = slow
	}
	t.Default = slow
	t.MaxQueryCost = maximum
	return t
}

type costExtension struct {
	RequestedQueryCost int `json:"requestedQueryCost"`
	ThrottleStatus     struct {
		MaximumAvailable   int     `json:"maximumAvailable"`
		CurrentlyAvailable int     `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
		MaximumQueryCost   int     `json:"maximumQueryCost"`
	} `json:"throttleStatus"`
}

func costOf(t *testing.T, r apitest.Response) costExtension {
	t.Helper()
	raw, err := json.Marshal(r.Extensions["cost"])
	require.NoError(t, err)
	var c costExtension
	require.NoError(t, json.Unmarshal(raw, &c), "extensions: %v", r.Extensions)
	return c
}

// post sends a GraphQL request and returns the raw HTTP response too (status, headers).
func post(t *testing.T, url, token, query string) (*http.Response, apitest.Response) {
	t.Helper()
	return postFrom(t, url, "", token, query)
}

// postFrom sends it as a client whose address a trusted proxy put in X-Forwarded-For.
func postFrom(t *testing.T, url, clientIP, token, query string) (*http.Response, apitest.Response) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, err := http.NewRequest(http.MethodPost, url+"/query", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if clientIP != "" {
		req.Header.Set("X-Forwarded-For", clientIP)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp, apitest.Decode(t, resp)
}

func TestCostBudget(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: slowTiers(100)}})
	c := srv.NewTenant("acme")

	// 1 + 20 employees × (1 + department 1).
	const pageCost = 1 + 20*2
	page := `{ employees { nodes { name department { name } } } }`

	r := srv.Do(c.Token, page, nil)
	require.Empty(t, r.Errors)
	cost := costOf(t, r)
	require.Equal(t, pageCost, cost.RequestedQueryCost)
	require.Equal(t, 100, cost.ThrottleStatus.MaximumAvailable)
	require.Equal(t, 100-pageCost, cost.ThrottleStatus.CurrentlyAvailable)
	require.InDelta(t, 1.0/3600, cost.ThrottleStatus.RestoreRate, 1e-9)

	t.Run("RateLimitQueryIsFree", func(t *testing.T) {
		var got struct {
			RateLimit struct{ CurrentlyAvailable, MaximumAvailable, MaximumQueryCost int }
		}
		for range 3 {
			srv.MustData(c.Token, `{ rateLimit { currentlyAvailable maximumAvailable maximumQueryCost } }`, nil, &got)
			require.Equal(t, 100-pageCost, got.RateLimit.CurrentlyAvailable)
		}
		require.Equal(t, 100, got.RateLimit.MaximumAvailable)
		require.Equal(t, 100, got.RateLimit.MaximumQueryCost)
	})

	t.Run("OverTheMaximumIsRefusedAndCostsNothing", func(t *testing.T) {
		resp, r := post(t, srv.URL, c.Token, `{ employees(first: 100) { nodes { id } } }`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Len(t, r.Errors, 1)
		require.Equal(t, "COMPLEXITY_LIMIT", r.Errors[0].Code())
		require.EqualValues(t, 101, r.Errors[0].Extensions["cost"])
		require.EqualValues(t, 100, r.Errors[0].Extensions["maximum"])
		require.True(t, len(r.Data) == 0 || string(r.Data) == "null", "nothing ran: %s", r.Data)
		require.Equal(t, 100-pageCost, costOf(t, r).ThrottleStatus.CurrentlyAvailable)
	})

	t.Run("AnExhaustedBudgetAnswers429", func(t *testing.T) {
		r := srv.Do(c.Token, page, nil) // 59 - 41 = 18 left
		require.Empty(t, r.Errors)
		require.Equal(t, 100-2*pageCost, costOf(t, r).ThrottleStatus.CurrentlyAvailable)

		resp, r := post(t, srv.URL, c.Token, page)
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		require.NoError(t, err)
		// 23 points missing at one an hour.
		require.InDelta(t, 23*3600, retry, 5)
		require.Len(t, r.Errors, 1)
		require.Equal(t, "RATE_LIMITED", r.Errors[0].Code())
		require.EqualValues(t, retry, r.Errors[0].Extensions["retryAfter"])
		require.True(t, len(r.Data) == 0 || string(r.Data) == "null", "nothing ran: %s", r.Data)
		require.Equal(t, pageCost, costOf(t, r).RequestedQueryCost)
		require.Equal(t, 100-2*pageCost, costOf(t, r).ThrottleStatus.CurrentlyAvailable, "a refusal spends nothing")

		// What the budget still holds is spendable.
		r = srv.Do(c.Token, `{ me { name } }`, nil)
		require.Empty(t, r.Errors)
		require.Equal(t, 100-2*pageCost-1, costOf(t, r).ThrottleStatus.CurrentlyAvailable)
	})

	t.Run("FreeFieldsStillCostOne", func(t *testing.T) {
		before := costOf(t, srv.Do(c.Token, `{ rateLimit { currentlyAvailable } }`, nil)).ThrottleStatus.CurrentlyAvailable
		r := srv.Do(c.Token, `{ __typename }`, nil)
		require.Equal(t, 1, costOf(t, r).RequestedQueryCost)
		require.Equal(t, before-1, costOf(t, r).ThrottleStatus.CurrentlyAvailable)
	})

	t.Run("BudgetsArePerPrincipal", func(t *testing.T) {
		other := srv.NewTenant("globex")
		r := srv.Do(other.Token, page, nil)
		require.Empty(t, r.Errors)
		require.Equal(t, 100-pageCost, costOf(t, r).ThrottleStatus.CurrentlyAvailable)
	})

	t.Run("WebsocketOperationsSpendTheSameBudget", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn := dialGraphQLWS(t, ctx, srv, map[string]any{"Authorization": "Bearer " + c.Token})
		var ack wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &ack))
		require.Equal(t, "connection_ack", ack.Type)
		require.NoError(t, wsjson.Write(ctx, conn, wsMessage{ID: "1", Type: "subscribe",
			Payload: map[string]any{"query": page}}))
		var msg wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &msg))
		require.Equal(t, "next", msg.Type)
		errs := msg.Payload["errors"].([]any)
		require.Equal(t, "RATE_LIMITED", errs[0].(map[string]any)["extensions"].(map[string]any)["code"])
	})
}

// TestTiers: roles get their tier, an API key its own budget when it has one.
func TestTiers(t *testing.T) {
	t.Parallel()
	tiers := ratelimit.DefaultTiers()
	srv := apitest.New(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: tiers}})
	c := srv.NewTenant("acme")
	budget := func(token string) costExtension {
		r := srv.Do(token, `{ rateLimit { currentlyAvailable } }`, nil)
		require.Empty(t, r.Errors)
		return costOf(t, r)
	}
	require.Equal(t, tiers.ByRole["ADMIN"].Burst, budget(c.Token).ThrottleStatus.MaximumAvailable)
	// A person's token claiming a service role does not get the service's tier.
	small, err := tiers.ParseTiers("EMPLOYEE=1234/5")
	require.NoError(t, err)
	srv2 := apitest.New(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: small}, DatabaseURL: srv.DatabaseURL})
	claimsBI := srv2.Token(c.Tenant.ID, c.Admin.ID, "EMPLOYEE", "BI")
	r := srv2.Do(claimsBI, `{ rateLimit { currentlyAvailable } }`, nil)
	require.Equal(t, 1234, costOf(t, r).ThrottleStatus.MaximumAvailable)

	var created struct {
		CreateApiKey struct {
			Key struct {
				CostBudget *struct{ Maximum, RestorePerSecond int }
			}
			Secret string
		}
	}
	mfa, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: c.Tenant.ID, EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"}, MFA: true, TTL: time.Hour})
	require.NoError(t, err)
	srv.MustData(mfa, `mutation { createApiKey(input: {name: "BI", role: BI}) { key { costBudget { maximum } } secret } }`, nil, &created)
	require.Nil(t, created.CreateApiKey.Key.CostBudget)
	bi := budget(created.CreateApiKey.Secret).ThrottleStatus
	require.Equal(t, tiers.ByRole["BI"].Burst, bi.MaximumAvailable)
	require.Equal(t, tiers.ByRole["BI"].RestorePerSecond(), bi.RestoreRate)

	srv.MustData(mfa, `mutation { createApiKey(input: {name: "Big BI", role: BI,
		costBudget: {maximum: 250000, restorePerSecond: 5000}}) { key { costBudget { maximum restorePerSecond } } secret } }`, nil, &created)
	require.Equal(t, 250000, created.CreateApiKey.Key.CostBudget.Maximum)
	own := budget(created.CreateApiKey.Secret).ThrottleStatus
	require.Equal(t, 250000, own.MaximumAvailable)
	require.Equal(t, 5000.0, own.RestoreRate)
	require.Equal(t, tiers.MaxQueryCost, own.MaximumQueryCost)

	r = srv.Do(mfa, `mutation { createApiKey(input: {name: "x", role: BI, costBudget: {maximum: 0, restorePerSecond: 1}}) { secret } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
	require.Equal(t, "costBudget.maximum", r.Errors[0].Extensions["field"])
}

// TestFailedAuthenticationSpendsTheClientIPBudget: an address that keeps failing to
// authenticate is blocked, before its credentials are checked, until its budget holds a point
// again; other addresses are not affected; websocket connection_init failures count the same.
func TestFailedAuthenticationSpendsTheClientIPBudget(t *testing.T) {
	t.Parallel()
	tiers := slowTiers(100)
	tiers.Unauthenticated = ratelimit.Limit{Burst: 5, Rate: 1, Period: time.Hour}
	srv := apitest.New(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: tiers, TrustedProxyHops: 1}})
	c := srv.NewTenant("acme")
	const attacker, neighbour = "203.0.113.7", "203.0.113.8"
	for i := range 5 {
		resp, r := postFrom(t, srv.URL, attacker, "not-a-token", `{ me { id } }`)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "attempt %d", i)
		require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
	}
	resp, r := postFrom(t, srv.URL, attacker, "", `{ me { id } }`)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the sixth failure")
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 3600, retry, 5, "a point an hour")
	require.Equal(t, "RATE_LIMITED", r.Errors[0].Code())

	// Only failures are throttled: the address's valid credentials still get through, so a
	// flood from a shared address (a NAT, a load balancer) locks nobody out.
	resp, r = postFrom(t, srv.URL, attacker, c.Token, `{ me { id } }`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "valid credentials pass a blocked address")
	require.Empty(t, r.Errors)
	forged := c.Token[:len(c.Token)-4] + "AAAA"
	for _, bad := range []string{"not-a-token", forged} {
		resp, r = postFrom(t, srv.URL, attacker, bad, `{ me { id } }`)
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "failures of a blocked address: %s", bad)
		require.Equal(t, "RATE_LIMITED", r.Errors[0].Code())
	}
	resp, r = postFrom(t, srv.URL, neighbour, c.Token, `{ me { id } }`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "another address is served")
	require.Empty(t, r.Errors)

	t.Run("Websocket", func(t *testing.T) {
		// graphql-transport-ws has no error message for connection_init: a refused connection
		// is closed without connection_ack, whatever the reason.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		acked := func(clientIP, token string) bool {
			conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query", &websocket.DialOptions{
				Subprotocols: []string{"graphql-transport-ws"},
				HTTPHeader:   http.Header{"X-Forwarded-For": {clientIP}},
			})
			require.NoError(t, err)
			defer conn.CloseNow()
			require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init",
				Payload: map[string]any{"Authorization": "Bearer " + token}}))
			var msg wsMessage
			err = wsjson.Read(ctx, conn, &msg)
			require.NotErrorIs(t, err, context.DeadlineExceeded)
			return err == nil && msg.Type == "connection_ack"
		}
		const wsClient = "198.51.100.1"
		require.True(t, acked(wsClient, c.Token))
		for range 6 { // five the budget holds, and the one that finds it empty
			require.False(t, acked(wsClient, "not-a-token"))
		}
		require.True(t, acked(wsClient, c.Token), "failed connection_inits spent the budget, valid ones still pass")
		require.False(t, acked(wsClient, "not-a-token"))
		require.True(t, acked("198.51.100.2", c.Token), "another address is served")
	})
}

// TestBudgetIsSharedAcrossInstances: two servers sharing Redis, hit by parallel requests of one
// user, allow exactly what the budget holds: no double spending, no lost charges.
func TestBudgetIsSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	signer, err := auth.GenerateSigner()
	require.NoError(t, err)
	limits := func() httpapi.RateLimits {
		return httpapi.RateLimits{Tiers: slowTiers(100), Limiter: ratelimit.NewRedis(testredis.Client(t))}
	}
	first := apitest.New(t, apitest.Opts{Signer: signer, RateLimits: limits()})
	instances := []*apitest.Server{
		first,
		apitest.New(t, apitest.Opts{Signer: signer, RateLimits: limits(), DatabaseURL: first.DatabaseURL}),
	}
	// The same user on both, one database behind them (the budget is keyed by the token's
	// tenant and employee).
	acme := first.NewTenant("acme")
	token := first.Token(acme.Tenant.ID, acme.Admin.ID, "EMPLOYEE")
	const query = `{ employees(first: 6) { nodes { id } } }` // costs 7: 14 fit in 100
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			resp, r := post(t, instances[i%2].URL, token, query)
			switch resp.StatusCode {
			case http.StatusOK:
				require.Empty(t, r.Errors)
				ok.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
			default:
				t.Errorf("status %d: %v", resp.StatusCode, r.Errors)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 14, ok.Load())
	require.EqualValues(t, 26, limited.Load())
	r := instances[1].Do(token, `{ rateLimit { currentlyAvailable } }`, nil)
	require.Equal(t, 100-14*7, costOf(t, r).ThrottleStatus.CurrentlyAvailable)
}

// TestRedisStoppingMidTest: requests keep being answered, with budgets, while Redis is down,
// and the shared budget is used again once it is back.
func TestRedisStoppingMidTest(t *testing.T) {
	t.Parallel()
	server := testredis.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	metrics := ratelimit.NewMetrics(prometheus.NewRegistry())
	srv := apitest.New(t, apitest.Opts{RateLimits: httpapi.RateLimits{Tiers: slowTiers(100), Metrics: metrics,
		Limiter: &ratelimit.Failover{Shared: ratelimit.NewRedis(rdb), Local: ratelimit.NewLocal(100),
			Timeout: 100 * time.Millisecond, RetryEvery: 50 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics}}})
	c := srv.NewTenant("acme")
	available := func() int {
		r := srv.Do(c.Token, `{ me { id } }`, nil)
		require.Empty(t, r.Errors)
		return costOf(t, r).ThrottleStatus.CurrentlyAvailable
	}
	require.Equal(t, 99, available())
	require.Equal(t, 98, available())

	server.Stop()
	for i := range 10 {
		start := time.Now()
		require.Equal(t, 99-i, available(), "the local budget starts full and is spent")
		require.Less(t, time.Since(start), 2*time.Second)
	}

	server.Restart() // empty: Redis kept nothing
	require.Eventually(t, func() bool { return available() == 99 }, 5*time.Second, 20*time.Millisecond)
}
