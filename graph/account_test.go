package graph_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/store"
)

// TestTerminatedEmployeesLoseAccess: terminating an employee refuses their tokens (once the
// account cache forgets them) and revokes their agents' keys at once; other employees, and
// employees on leave, keep theirs.
func TestTerminatedEmployeesLoseAccess(t *testing.T) {
	t.Parallel()
	const ttl = 200 * time.Millisecond
	srv := apitest.New(t, apitest.Opts{AccountTTL: ttl})
	c := newCompany(t, srv, "acme", 3)
	admin, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: c.Tenant.ID, EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"}, MFA: true, TTL: time.Hour})
	require.NoError(t, err)
	leaving, staying, onLeave := c.Employees[0], c.Employees[1], c.Employees[2]
	agentKey := func(employeeID uuid.UUID) (secret, id string) {
		var got struct {
			CreateApiKey struct {
				Secret string
				Key    struct{ ID string }
			}
		}
		srv.MustData(admin, `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret key { id } } }`,
			map[string]any{"in": map[string]any{"name": "Laptop", "role": "AGENT", "employeeId": employeeID}}, &got)
		return got.CreateApiKey.Secret, got.CreateApiKey.Key.ID
	}
	setStatus := func(employeeID uuid.UUID, status string) {
		var got struct{ UpdateEmployee struct{ Status string } }
		srv.MustData(admin, `mutation($id: ID!, $s: EmployeeStatus!) { updateEmployee(id: $id, input: {status: $s}) { status } }`,
			map[string]any{"id": employeeID, "s": status}, &got)
		require.Equal(t, status, got.UpdateEmployee.Status)
	}
	const me = `{ me { id } }`
	leavingKey, leavingKeyID := agentKey(leaving.ID)
	stayingKey, _ := agentKey(staying.ID)
	onLeaveKey, _ := agentKey(onLeave.ID)
	leavingToken := srv.Token(c.Tenant.ID, leaving.ID, "EMPLOYEE")
	stayingToken := srv.Token(c.Tenant.ID, staying.ID, "EMPLOYEE")
	onLeaveToken := srv.Token(c.Tenant.ID, onLeave.ID, "EMPLOYEE")
	for _, credential := range []string{leavingToken, leavingKey, stayingToken, stayingKey, onLeaveToken, onLeaveKey} {
		require.Empty(t, srv.Do(credential, me, nil).Errors, "everyone is in before the change")
	}

	setStatus(leaving.ID, "TERMINATED")
	setStatus(onLeave.ID, "ON_LEAVE")

	t.Run("AgentKeyIsRefusedAtOnce", func(t *testing.T) {
		r := srv.Do(leavingKey, me, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
	})
	t.Run("KeysAreRevokedByTheTermination", func(t *testing.T) {
		var got struct {
			APIKeys []struct {
				ID        string
				Employee  struct{ ID string }
				RevokedAt *time.Time
			} `json:"apiKeys"`
		}
		srv.MustData(admin, `{ apiKeys { id employee { id } revokedAt } }`, nil, &got)
		require.Len(t, got.APIKeys, 3)
		for _, k := range got.APIKeys {
			require.Equal(t, k.ID == leavingKeyID, k.RevokedAt != nil, "only the terminated employee's key is revoked: %s", k.Employee.ID)
		}
	})
	t.Run("TokenIsRefusedOnceTheCacheForgets", func(t *testing.T) {
		time.Sleep(ttl + 50*time.Millisecond)
		r := srv.Do(leavingToken, me, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
		require.Equal(t, "account is not active", r.Errors[0].Message)
		fresh := srv.Token(c.Tenant.ID, leaving.ID, "ADMIN")
		require.Equal(t, http.StatusUnauthorized, srv.Do(fresh, me, nil).Status, "a new token too, whatever its roles")
	})
	t.Run("ActiveAndOnLeaveEmployeesKeepAccess", func(t *testing.T) {
		time.Sleep(ttl + 50*time.Millisecond)
		for _, credential := range []string{stayingToken, stayingKey, onLeaveToken, onLeaveKey} {
			r := srv.Do(credential, me, nil)
			require.Equal(t, http.StatusOK, r.Status)
			require.Empty(t, r.Errors)
		}
	})
	t.Run("SubjectsThatAreNoEmployeeOfTheTenantAreRefused", func(t *testing.T) {
		other := newCompany(t, srv, "globex", 1)
		for name, token := range map[string]string{
			"UnknownEmployee":       srv.Token(c.Tenant.ID, uuid.New(), "ADMIN"),
			"AnotherTenantsAdmin":   srv.Token(c.Tenant.ID, other.Admin.ID, "ADMIN"),
			"AnotherTenantEntirely": srv.Token(uuid.New(), c.Admin.ID, "ADMIN"),
		} {
			r := srv.Do(token, me, nil)
			require.Equal(t, http.StatusUnauthorized, r.Status, name)
			require.Equal(t, "account is not active", r.Errors[0].Message, name)
		}
	})
	t.Run("ErrNoAgentKeyForATerminatedEmployee", func(t *testing.T) {
		r := srv.Do(admin, `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret } }`,
			map[string]any{"in": map[string]any{"name": "Laptop", "role": "AGENT", "employeeId": leaving.ID}})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		require.Equal(t, "employeeId", r.Errors[0].Extensions["field"])
	})
}

// TestAccountIsReadOncePerCachePeriod: checking a token's account costs no statement per
// request, only one per employee and cache period.
func TestAccountIsReadOncePerCachePeriod(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	tokens := []string{
		srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE"),
		srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE"), // another token (its own id), the same employee
		srv.Token(c.Tenant.ID, c.Employees[1].ID, "EMPLOYEE"),
	}
	srv.Statements.Reset()
	for range 5 {
		for _, token := range tokens {
			require.Empty(t, srv.Do(token, `{ me { id } }`, nil).Errors)
		}
	}
	require.Equal(t, int64(2), srv.Statements.AccountChecks(), "one read per employee")
	require.Equal(t, int64(15), srv.Statements.Count(), "one statement per `me`, none for the account")
}

// TestTerminatedEmployeesWebsocketIsClosed: an open websocket is rechecked as often as the
// account answer is trusted, and closes once its employee is terminated, however long its token
// still runs.
func TestTerminatedEmployeesWebsocketIsClosed(t *testing.T) {
	t.Parallel()
	const ttl = 200 * time.Millisecond
	srv := apitest.New(t, apitest.Opts{AccountTTL: ttl})
	c := newCompany(t, srv, "acme", 2)
	leaving, staying := c.Employees[0], c.Employees[1]
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	open := func(token string) *websocket.Conn {
		conn := dialGraphQLWS(t, ctx, srv, map[string]any{"Authorization": "Bearer " + token})
		var ack wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &ack))
		require.Equal(t, "connection_ack", ack.Type)
		return conn
	}
	leavingConn := open(srv.Token(c.Tenant.ID, leaving.ID, "EMPLOYEE"))
	stayingConn := open(srv.Token(c.Tenant.ID, staying.ID, "EMPLOYEE"))
	_, err := srv.Store.UpdateEmployee(ctx, c.Scope, leaving.ID, store.EmployeeParams{Status: apitest.Ptr("TERMINATED")})
	require.NoError(t, err)

	start := time.Now()
	for {
		var msg wsMessage
		if err := wsjson.Read(ctx, leavingConn, &msg); err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded, "closed by the server")
			break
		}
	}
	require.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, wsjson.Write(ctx, stayingConn, wsMessage{ID: "1", Type: "subscribe",
		Payload: map[string]any{"query": "{ me { id } }"}}), "the other employee's socket stays open")
	var next wsMessage
	require.NoError(t, wsjson.Read(ctx, stayingConn, &next))
	require.Equal(t, "next", next.Type)
}
