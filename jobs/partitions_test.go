package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

func TestPartitionMaintenanceCreatesMonthsAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A clock a year ahead: the migration's partitions end six months from today.
	future := time.Now().AddDate(1, 0, 0)
	s := testdb.Open(t, store.Opts{Now: func() time.Time { return future }})
	m := jobs.PartitionMaintenance{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Months: 2}
	require.NoError(t, m.RunOnce(ctx))

	var exists bool
	name := "time_entries_" + future.AddDate(0, 2, 0).Format("y2006m01")
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists))
	require.True(t, exists, name)

	created, err := s.EnsurePartitionsAhead(ctx, 2)
	require.NoError(t, err)
	require.Zero(t, created, "a second run finds nothing to do")
}
