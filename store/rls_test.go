package store_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// Row-level security is the second line of tenant isolation: a query that forgets its tenant
// filter sees nothing, or only the tenant its session names. (The test database's role is not
// a superuser, so the policies apply, as they must in production.)
func TestRowLevelSecurityHidesRowsWithoutTheirTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	a, err := s.CreateTenant(ctx, "alpha", "Alpha")
	require.NoError(t, err)
	b, err := s.CreateTenant(ctx, "bravo", "Bravo")
	require.NoError(t, err)
	for _, tenant := range []*store.Tenant{a, b} {
		_, err := s.CreateDepartment(ctx, store.Scope{TenantID: tenant.ID}, "Engineering")
		require.NoError(t, err)
	}

	count := func(tenant string) int {
		var n int
		require.NoError(t, pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
			if tenant != "" {
				if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant); err != nil {
					return err
				}
			}
			// No tenant filter: the mistake row-level security exists for.
			return tx.QueryRow(ctx, `SELECT count(*) FROM departments`).Scan(&n)
		}))
		return n
	}
	require.Zero(t, count(""), "no tenant named: no rows")
	require.Equal(t, 1, count(a.ID.String()), "only alpha's row")
	require.Equal(t, 1, count(b.ID.String()), "only bravo's row")

	_, err = s.Pool().Exec(ctx, `INSERT INTO departments (tenant_id, id, name) VALUES ($1, gen_random_uuid(), 'Sneaky')`, a.ID)
	require.ErrorContains(t, err, "row-level security", "no writes into a tenant the session does not name")
}

func TestTheTestRoleIsBoundByRowSecurity(t *testing.T) {
	t.Parallel()
	s := testdb.Open(t, store.Opts{})
	bypass, err := s.BypassesRowSecurity(context.Background())
	require.NoError(t, err)
	require.False(t, bypass, "tests must run as a role row-level security binds, as production does")
}

func TestPartitionsCarryTheTenantPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A clock a year ahead, so that the function creates partitions the migrations did not.
	s := testdb.Open(t, store.Opts{Now: func() time.Time { return time.Now().AddDate(1, 0, 0) }})
	created, err := s.EnsurePartitionsAhead(ctx, 3)
	require.NoError(t, err)
	require.Positive(t, created)
	var unprotected []string
	rows, err := s.Pool().Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent IN ('time_entries'::regclass, 'activity_samples'::regclass, 'screenshots'::regclass)
		  AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`)
	require.NoError(t, err)
	unprotected, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, unprotected, "a partition read directly is filtered like its parent")
}

// TestEveryTenantTableForcesRowSecurity: every table with a tenant_id column (partitions
// included) has row-level security enabled and forced, and a tenant policy: forcing binds the
// tables' owner too.
func TestEveryTenantTableForcesRowSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	var tables, unprotected []string
	rows, err := s.Pool().Query(ctx, `SELECT c.relname::text, c.relrowsecurity AND c.relforcerowsecurity
			AND EXISTS (SELECT FROM pg_policies p WHERE p.schemaname = n.nspname AND p.tablename = c.relname
			                                       AND p.policyname = 'tenant_isolation')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
		WHERE c.relkind IN ('r', 'p') AND c.relname NOT LIKE $1 AND EXISTS (SELECT FROM pg_attribute a
			WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`, store.QueueTablesLike)
	require.NoError(t, err)
	var name string
	var protected bool
	_, err = pgx.ForEachRow(rows, []any{&name, &protected}, func() error {
		tables = append(tables, name)
		if !protected {
			unprotected = append(unprotected, name)
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, tables, "api_keys")
	require.Contains(t, tables, "employees")
	require.Empty(t, unprotected, "tenant tables row-level security does not fully bind")

	check, err := s.CheckRole(ctx)
	require.NoError(t, err)
	require.Empty(t, check.UnprotectedTenantTables, "CheckRole agrees")

	// The job queue's tables come with the schema and are left out on purpose (see
	// store.QueueTablesLike): they hold every tenant's jobs.
	var queue []string
	rows, err = s.Pool().Query(ctx, `SELECT relname::text FROM pg_class
		WHERE relkind IN ('r', 'p') AND relname LIKE $1 ORDER BY 1`, store.QueueTablesLike)
	require.NoError(t, err)
	queue, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, queue, "river_job", "migrate up creates river's tables")
	for _, table := range queue {
		require.NotContains(t, tables, table)
		require.NotContains(t, check.OwnedTenantTables, table)
	}
}

// TestCheckRole: the tests' role owns the tables (it ran the migrations), which production
// refuses to serve as; an ordinary role granted what the service needs owns nothing, bypasses
// nothing, and still authenticates API keys.
func TestCheckRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	owner, err := store.Open(ctx, url, store.Opts{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(owner.Close)
	app, err := store.Open(ctx, testdb.AppRoleURL(t, url), store.Opts{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(app.Close)

	t.Run("OwnerOwnsTheTenantTables", func(t *testing.T) {
		check, err := owner.CheckRole(ctx)
		require.NoError(t, err)
		require.False(t, check.BypassesRowSecurity)
		require.Contains(t, check.OwnedTenantTables, "api_keys")
		require.Contains(t, check.OwnedTenantTables, "time_entries")
		require.NotContains(t, check.OwnedTenantTables, "tenants", "not a tenant table")
		for _, table := range check.OwnedTenantTables {
			require.NotContains(t, table, "_y", "partitions are left out: %s", table)
		}
	})
	t.Run("OrdinaryRoleOwnsNothing", func(t *testing.T) {
		check, err := app.CheckRole(ctx)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(check.Role, "wt_app_"), check.Role)
		require.False(t, check.BypassesRowSecurity)
		require.Empty(t, check.OwnedTenantTables)
		require.Empty(t, check.UnprotectedTenantTables)
	})
	t.Run("OrdinaryRoleAuthenticatesKeysAndSeesOthersNot", func(t *testing.T) {
		tenant, err := app.CreateTenant(ctx, "alpha", "Alpha")
		require.NoError(t, err)
		scope := store.Scope{TenantID: tenant.ID}
		emp, err := app.CreateEmployee(ctx, scope, store.EmployeeParams{Name: ptr("Ada"), Email: ptr("ada@alpha.example")})
		require.NoError(t, err)
		_, secret, err := app.CreateAPIKey(ctx, scope, store.APIKeyParams{Name: "laptop", Role: store.RoleAgent, EmployeeID: &emp.ID})
		require.NoError(t, err)
		for _, s := range []*store.Store{app, owner} {
			k, err := s.AuthenticateAPIKey(ctx, secret)
			require.NoError(t, err)
			require.Equal(t, emp.ID, *k.EmployeeID)
			var visible int
			require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&visible))
			require.Zero(t, visible, "no tenant named: no keys, even for the owner")

			// Within a transaction that names another tenant: the function finds the key all the
			// same and leaves the transaction's settings as they were.
			other := uuid.NewString()
			hash := sha256.Sum256([]byte(secret))
			require.NoError(t, testdb.AsTenant(ctx, s.Pool(), uuid.MustParse(other), func(tx pgx.Tx) error {
				var found uuid.UUID
				require.NoError(t, tx.QueryRow(ctx, `SELECT id FROM authenticate_api_key($1)`, hash[:]).Scan(&found))
				require.Equal(t, k.ID, found)
				var tenantSetting, hashSetting string
				require.NoError(t, tx.QueryRow(ctx, `SELECT current_setting('app.tenant_id', true),
					coalesce(current_setting('app.api_key_hash', true), '')`).Scan(&tenantSetting, &hashSetting))
				require.Equal(t, other, tenantSetting, "the transaction's tenant is put back")
				require.Empty(t, hashSetting)
				var visible int
				require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&visible))
				require.Zero(t, visible, "and the key is hidden again")
				return nil
			}))
		}
	})
}

func ptr[T any](v T) *T { return &v }
