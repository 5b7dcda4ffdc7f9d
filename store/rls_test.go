package store_test

import (
	"context"
	"testing"
	"time"

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
