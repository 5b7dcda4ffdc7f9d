package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
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
// time, so that writes never wait on (or race for) creating this month's partition. `serve`
// runs it once before serving (a fresh database gets its partitions at once); afterwards it is
// a periodic job (PartitionArgs) the leader inserts every Every.
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

// PartitionArgs is the periodic partition upkeep job. It concerns no tenant: partitions are
// shared by all.
type PartitionArgs struct{}

// Kind names the job in river_job.
func (PartitionArgs) Kind() string { return "partition_maintenance" }

// InsertOpts: a few attempts are enough, the next period tries again (and a write into a month
// without a partition creates it on demand).
func (PartitionArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

type partitionWorker struct {
	river.WorkerDefaults[PartitionArgs]
	m PartitionMaintenance
}

func (w *partitionWorker) Work(ctx context.Context, _ *river.Job[PartitionArgs]) error {
	return w.m.RunOnce(ctx)
}

// periodicJob inserts PartitionArgs every period, and once when a leader is elected.
func (m PartitionMaintenance) periodicJob() *river.PeriodicJob {
	every := m.Every
	if every <= 0 {
		every = 6 * time.Hour
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return PartitionArgs{}, nil },
		&river.PeriodicJobOpts{ID: PartitionArgs{}.Kind(), RunOnStart: true})
}
