package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/testdb"
)

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	admin, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: c.Tenant.ID, EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"}, MFA: true, TTL: time.Hour})
	require.NoError(t, err)
	create := `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret key { id name role employee { id } lastUsedAt } } }`
	type created struct {
		CreateApiKey struct {
			Secret string
			Key    struct {
				ID, Name, Role string
				Employee       *struct{ ID string }
				LastUsedAt     *time.Time
			}
		}
	}

	var bi created
	srv.MustData(admin, create, map[string]any{"in": map[string]any{"name": "Looker", "role": "BI"}}, &bi)
	require.True(t, strings.HasPrefix(bi.CreateApiKey.Secret, "wtk_"))
	require.Nil(t, bi.CreateApiKey.Key.Employee)

	t.Run("BIReadsTheTenantAndWritesNothing", func(t *testing.T) {
		var got struct{ Employees struct{ TotalCount int } }
		srv.MustData(bi.CreateApiKey.Secret, `{ employees { totalCount } }`, nil, &got)
		require.Equal(t, 3, got.Employees.TotalCount)
		r := srv.Do(bi.CreateApiKey.Secret, `mutation($p: ID!) { startTimer(input: {projectId: $p}) { id } }`,
			map[string]any{"p": c.Projects[0].ID})
		require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	})
	t.Run("AgentTracksItsEmployeeOnly", func(t *testing.T) {
		var agent created
		srv.MustData(admin, create, map[string]any{"in": map[string]any{"name": "Laptop", "role": "AGENT",
			"employeeId": c.Employees[0].ID}}, &agent)
		var started struct {
			StartTimer struct{ Employee struct{ ID string } }
		}
		srv.MustData(agent.CreateApiKey.Secret, `mutation($p: ID!) { startTimer(input: {projectId: $p}) { employee { id } } }`,
			map[string]any{"p": c.Projects[0].ID}, &started)
		require.Equal(t, c.Employees[0].ID.String(), started.StartTimer.Employee.ID)
		r := srv.Do(agent.CreateApiKey.Secret, `mutation($e: ID!, $p: ID!) { startTimer(input: {employeeId: $e, projectId: $p}) { id } }`,
			map[string]any{"e": c.Employees[1].ID, "p": c.Projects[0].ID})
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code(), "another employee is out of the agent's reach")
	})
	t.Run("SecretIsStoredOnlyAsAHash", func(t *testing.T) {
		var n, all int
		require.NoError(t, testdb.AsTenant(context.Background(), srv.Store.Pool(), c.Tenant.ID, func(tx pgx.Tx) error {
			return tx.QueryRow(context.Background(),
				`SELECT count(*) FILTER (WHERE position(convert_to($1, 'UTF8') IN secret_hash) > 0 OR name = $1), count(*)
				 FROM api_keys`, bi.CreateApiKey.Secret).Scan(&n, &all)
		}))
		require.Zero(t, n)
		require.Equal(t, 2, all, "the keys were read")
		var keys struct {
			APIKeys []struct {
				Name       string
				LastUsedAt *time.Time
			} `json:"apiKeys"`
		}
		srv.MustData(admin, `{ apiKeys { name lastUsedAt } }`, nil, &keys)
		require.Len(t, keys.APIKeys, 2)
		for _, k := range keys.APIKeys {
			require.NotNil(t, k.LastUsedAt, "%s was used", k.Name)
		}
	})
	t.Run("CreatingNeedsAdminWithMFA", func(t *testing.T) {
		r := srv.Do(c.Token, create, map[string]any{"in": map[string]any{"name": "x", "role": "BI"}})
		require.Equal(t, "MFA_REQUIRED", r.Errors[0].Code())
		r = srv.Do(srv.Token(c.Tenant.ID, c.Admin.ID, "HR"), create, map[string]any{"in": map[string]any{"name": "x", "role": "BI"}})
		require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
		r = srv.Do(admin, create, map[string]any{"in": map[string]any{"name": "x", "role": "ADMIN"}})
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), "keys are for service principals only")
	})
	t.Run("RevokedAndExpiredKeysAreRefused", func(t *testing.T) {
		var revoked struct {
			RevokeApiKey struct{ RevokedAt *time.Time }
		}
		srv.MustData(admin, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`,
			map[string]any{"id": bi.CreateApiKey.Key.ID}, &revoked)
		require.NotNil(t, revoked.RevokeApiKey.RevokedAt)
		r := srv.Do(bi.CreateApiKey.Secret, `{ employees { totalCount } }`, nil)
		require.Equal(t, 401, r.Status)
		require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())

		r = srv.Do("wtk_made-up", `{ me { id } }`, nil)
		require.Equal(t, 401, r.Status)

		var expiring created
		srv.MustData(admin, create, map[string]any{"in": map[string]any{"name": "Tableau", "role": "BI",
			"expiresAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}, &expiring)
		require.Empty(t, srv.Do(expiring.CreateApiKey.Secret, `{ employees { totalCount } }`, nil).Errors)
		require.NoError(t, testdb.AsTenant(context.Background(), srv.Store.Pool(), c.Tenant.ID, func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`,
				expiring.CreateApiKey.Key.ID)
			return err
		}))
		require.Equal(t, 401, srv.Do(expiring.CreateApiKey.Secret, `{ employees { totalCount } }`, nil).Status)
	})
}
