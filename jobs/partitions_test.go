package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/metrics"
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
	reg := prometheus.NewRegistry()
	m := jobs.PartitionMaintenance{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Months: 2,
		Observer: metrics.NewPartitions(reg)}
	require.NoError(t, m.RunOnce(ctx))
	for _, table := range store.PartitionedTables() {
		require.Equal(t, 2.0, read(t, reg, "workingtracker_partitions_ahead_months", table), "%s is covered two months ahead", table)
	}
	createdTotal := read(t, reg, "workingtracker_partitions_created_total", "")
	require.GreaterOrEqual(t, createdTotal, 9.0, "three months or more of three tables were missing")

	var exists bool
	name := "time_entries_" + future.AddDate(0, 2, 0).Format("y2006m01")
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists))
	require.True(t, exists, name)

	created, err := s.EnsurePartitionsAhead(ctx, 2)
	require.NoError(t, err)
	require.Zero(t, created, "a second run finds nothing to do")
	require.NoError(t, m.RunOnce(ctx))
	require.Equal(t, createdTotal, read(t, reg, "workingtracker_partitions_created_total", ""), "nothing created the second time")
}

// read is the value of name's series (with table as its one label, when given) in reg.
func read(t *testing.T, reg *prometheus.Registry, name, table string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() == name && (table == "" || m.GetLabel()[0].GetValue() == table) {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{%s}", name, table)
	return 0
}
