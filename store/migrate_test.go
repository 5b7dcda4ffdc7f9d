package store_test

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/migrations"
	"github.com/workingtracker/api/store"
)

func TestMigrateUpDownStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, testdb.EmptyURL(t), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	m, err := store.NewMigrator(s.DB(), migrations.FS)
	require.NoError(t, err)

	status, err := m.Status(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, status)
	for _, st := range status {
		require.False(t, st.Applied, st.Name)
	}
	pending, err := m.Pending(ctx)
	require.NoError(t, err)
	require.Len(t, pending, len(status), "readiness: nothing applied yet")

	applied, err := m.Up(ctx)
	require.NoError(t, err)
	require.Len(t, applied, len(status))
	require.Contains(t, applied, store.RiverMigrationPrefix+"002_initial_schema", "river's migrations run after ours")
	require.True(t, tableExists(t, s, "time_entries"))
	require.True(t, tableExists(t, s, "river_job"))
	require.Greater(t, partitionCount(t, s, "time_entries"), 24, "months created ahead and behind")

	again, err := m.Up(ctx)
	require.NoError(t, err)
	require.Empty(t, again, "up is idempotent")
	pending, err = m.Pending(ctx)
	require.NoError(t, err)
	require.Empty(t, pending, "readiness: at the binary's version")
	status, err = m.Status(ctx)
	require.NoError(t, err)
	for _, st := range status {
		require.True(t, st.Applied, st.Name)
	}

	rolled, err := m.Down(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, applied, rolled, "the only group of ours, and river's with it")
	require.False(t, tableExists(t, s, "time_entries"))
	require.False(t, tableExists(t, s, "employees"))
	require.False(t, tableExists(t, s, "river_job"))
	status, err = m.Status(ctx)
	require.NoError(t, err)
	for _, st := range status {
		require.False(t, st.Applied, st.Name)
	}
	pending, err = m.Pending(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, rolled, pending, "readiness: behind the binary after a rollback")

	_, err = m.Up(ctx)
	require.NoError(t, err, "up after down rebuilds the schema")
	require.True(t, tableExists(t, s, "employees"))
}

func TestEnsurePartitionsAheadIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	_, err := s.EnsurePartitionsAhead(ctx, 12)
	require.NoError(t, err)
	before := partitionCount(t, s, "time_entries")
	created, err := s.EnsurePartitionsAhead(ctx, 12)
	require.NoError(t, err)
	require.Zero(t, created)
	require.Equal(t, before, partitionCount(t, s, "time_entries"))

	ahead, err := s.PartitionsAhead(ctx)
	require.NoError(t, err)
	for _, table := range store.PartitionedTables() {
		require.GreaterOrEqual(t, ahead[table], 12, table)
	}
}

// TestPartitionsAheadMissing: a clock past every partition reads as not even this month's.
func TestPartitionsAheadMissing(t *testing.T) {
	t.Parallel()
	future := time.Now().AddDate(10, 0, 0)
	s := testdb.Open(t, store.Opts{Now: func() time.Time { return future }})
	ahead, err := s.PartitionsAhead(context.Background())
	require.NoError(t, err)
	require.Equal(t, map[string]int{"time_entries": -1, "activity_samples": -1, "screenshots": -1, "audit_logs": -1}, ahead)
}

func tableExists(t *testing.T, s *store.Store, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, s.Pool().QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok))
	return ok
}

func partitionCount(t *testing.T, s *store.Store, parent string) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass`, parent).Scan(&n))
	return n
}

// TestMigrateDownKeepsTheQueueWhileOurSchemaRemains: rolling back a later group of ours leaves
// river's tables (and the jobs in them) alone.
func TestMigrateDownKeepsTheQueueWhileOurSchemaRemains(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, testdb.EmptyURL(t), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	m, err := store.NewMigrator(s.DB(), firstMigrations(t, 2)) // a first group of two
	require.NoError(t, err)
	_, err = m.Up(ctx)
	require.NoError(t, err)
	m, err = store.NewMigrator(s.DB(), migrations.FS)
	require.NoError(t, err)
	applied, err := m.Up(ctx)
	require.NoError(t, err)
	for _, name := range applied {
		require.NotContains(t, name, store.RiverMigrationPrefix, "river's are applied already")
	}

	rolled, err := m.Down(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, applied, rolled)
	require.True(t, tableExists(t, s, "employees"), "the first group stays")
	require.True(t, tableExists(t, s, "river_job"), "and so does the queue")
}

// firstMigrations is an FS holding the first n migrations of ours (up and down files).
func firstMigrations(t *testing.T, n int) fs.FS {
	t.Helper()
	entries, err := fs.ReadDir(migrations.FS, ".")
	require.NoError(t, err)
	out := fstest.MapFS{}
	var versions []string
	for _, e := range entries {
		version, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		if !slices.Contains(versions, version) {
			if len(versions) == n {
				break
			}
			versions = append(versions, version)
		}
		b, err := fs.ReadFile(migrations.FS, e.Name())
		require.NoError(t, err)
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	require.Len(t, versions, n)
	return out
}
