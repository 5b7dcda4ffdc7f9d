// Package jobs holds the background work of the service. For now it keeps month partitions
// ahead of the clock; the Postgres-backed queue (river) arrives with the screenshot pipeline.
package jobs

import (
	"context"
	"log/slog"
	"time"
)

// PartitionKeeper is what partition maintenance needs of the store.
type PartitionKeeper interface {
	// EnsurePartitionsAhead creates the missing monthly partitions up to months ahead and
	// returns how many it created.
	EnsurePartitionsAhead(ctx context.Context, months int) (int, error)
	// PartitionsAhead reports, per partitioned table, how many months past the current one
	// have partitions (-1: not even the current month).
	PartitionsAhead(ctx context.Context) (map[string]int, error)
}

// PartitionObserver is told what each run did and found (the metrics).
type PartitionObserver interface {
	PartitionsCreated(n int)
	PartitionsAhead(table string, months int)
}

// PartitionMaintenance keeps monthly partitions of the partitioned tables created ahead of
// time, so that writes never wait on (or race for) creating this month's partition.
type PartitionMaintenance struct {
	Store  PartitionKeeper
	Logger *slog.Logger
	// Months ahead to keep (default 3); Every is the period (default 6h).
	Months int
	Every  time.Duration
	// Observer, when set, is told after each run how many partitions it created and how far
	// ahead each table is covered.
	Observer PartitionObserver
}

// RunOnce ensures the partitions now.
func (m PartitionMaintenance) RunOnce(ctx context.Context) error {
	months := m.Months
	if months <= 0 {
		months = 3
	}
	created, err := m.Store.EnsurePartitionsAhead(ctx, months)
	if err != nil {
		return err
	}
	if created > 0 {
		m.Logger.InfoContext(ctx, "created partitions", "count", created)
	}
	if m.Observer == nil {
		return nil
	}
	m.Observer.PartitionsCreated(created)
	ahead, err := m.Store.PartitionsAhead(ctx)
	if err != nil {
		return err
	}
	for table, months := range ahead {
		m.Observer.PartitionsAhead(table, months)
	}
	return nil
}

// Run runs RunOnce every period until ctx ends, and returns once a run in progress has
// stopped (shutdown waits for it before closing the store). Failures are logged and retried
// next period: writes still create a missing month on demand.
func (m PartitionMaintenance) Run(ctx context.Context) {
	every := m.Every
	if every <= 0 {
		every = 6 * time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.RunOnce(ctx); err != nil && ctx.Err() == nil {
				m.Logger.ErrorContext(ctx, "partition maintenance failed", "err", err)
			}
		}
	}
}
