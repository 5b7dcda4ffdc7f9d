package main

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// `audit verify` passes on intact chains and fails, naming tenant, sequence and entry, on an
// entry edited directly in the database and on one deleted (both by a superuser, whom neither
// the grants nor the trigger stop).
func TestAuditVerifyCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testdb.URL(t)
	s, err := store.Open(ctx, dbURL, store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	tenants := map[string]uuid.UUID{}
	for _, slug := range []string{"acme", "globex", "initech"} {
		tenant, err := s.CreateTenant(ctx, slug, slug)
		require.NoError(t, err)
		tenants[slug] = tenant.ID
		for range 4 {
			require.NoError(t, s.AppendAudit(ctx, store.Scope{TenantID: tenant.ID}, store.AuditEntry{Action: "updateEmployee",
				ChangedFields: []string{"name"}}))
		}
	}
	getenv := envFor(t, map[string]string{"DATABASE_URL": dbURL})
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"audit", "verify"}, getenv, &out, io.Discard))
	require.Contains(t, out.String(), "acme: 4 entries verified")
	require.Contains(t, out.String(), "initech: 4 entries verified")

	var edited uuid.UUID
	exec := func(sql string, args ...any) {
		target, err := url.Parse(dbURL)
		require.NoError(t, err)
		admin, err := url.Parse(os.Getenv("TEST_DATABASE_URL"))
		require.NoError(t, err)
		admin.Path = target.Path
		conn, err := pgx.Connect(ctx, admin.String())
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `SET session_replication_role = replica`) // triggers off
		require.NoError(t, err)
		_, err = conn.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec(`UPDATE audit_logs SET changed_fields = '{hourlyRate}' WHERE tenant_id = $1 AND seq = 2`, tenants["acme"])
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenants["acme"], func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id FROM audit_logs WHERE tenant_id = $1 AND seq = 2`, tenants["acme"]).Scan(&edited)
	}))
	exec(`DELETE FROM audit_logs WHERE tenant_id = $1 AND seq = 3`, tenants["globex"])

	out.Reset()
	err = run(ctx, []string{"audit", "verify"}, getenv, &out, io.Discard)
	require.Error(t, err)
	require.Contains(t, err.Error(), "tenant acme")
	require.Contains(t, err.Error(), "seq 2, entry "+edited.String())
	require.Contains(t, err.Error(), "tenant globex")
	require.Contains(t, err.Error(), "seq 3, entry missing")
	require.NotContains(t, err.Error(), "initech")
	require.Contains(t, out.String(), "initech: 4 entries verified")

	out.Reset()
	require.NoError(t, run(ctx, []string{"audit", "verify", "--tenant", "initech"}, getenv, &out, io.Discard))
	require.NotContains(t, out.String(), "acme")
	require.Error(t, run(ctx, []string{"audit", "verify", "--tenant", "globex"}, getenv, io.Discard, io.Discard))
	require.ErrorContains(t, run(ctx, []string{"audit", "verify", "--tenant", "nope"}, getenv, io.Discard, io.Discard), "not found")
	require.ErrorIs(t, run(ctx, []string{"audit"}, getenv, io.Discard, io.Discard), errUsage)
}
