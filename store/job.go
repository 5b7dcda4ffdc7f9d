package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"
)

// JobInserter inserts a background job within a transaction of the store's (jobs.Client does,
// with river). A write whose row needs background work enqueues the job with the row, in the
// same transaction: a crash between "row written" and "job queued" cannot happen, and a
// rolled-back write leaves no job behind.
type JobInserter interface {
	// EnqueueTx inserts args as a job visible once tx commits.
	EnqueueTx(ctx context.Context, tx bun.Tx, args river.JobArgs) (*rivertype.JobInsertResult, error)
}

// ErrNotInTx is returned by EnqueueInTx outside a transaction.
var ErrNotInTx = errors.New("store: a job is enqueued within the transaction of its row (use InTx)")

// EnqueueInTx inserts args through jobs in s's transaction: s must be the Store InTx hands to
// its function. The job commits or rolls back with everything else written through s.
func (s *Store) EnqueueInTx(ctx context.Context, jobs JobInserter, args river.JobArgs) (*rivertype.JobInsertResult, error) {
	tx, ok := s.db.(bun.Tx)
	if !ok {
		return nil, ErrNotInTx
	}
	return jobs.EnqueueTx(ctx, tx, args)
}

// JobQueueDepth is what waits in the job queue, by kind: jobs ready to run now (available),
// waiting for a retry (retryable) or running, and how long the oldest ready job has waited.
type JobQueueDepth struct {
	Kind                   string
	Available, Retryable   int64
	Running                int64
	OldestAvailableSeconds float64
}

// JobQueue reads the queue's depth (the metrics collector asks at each scrape). It reads river's
// table through river's own index on (state, queue, priority, scheduled_at, id); finished jobs
// are not counted.
func (s *Store) JobQueue(ctx context.Context) ([]JobQueueDepth, error) {
	return collect(ctx, s.pool, "job queue depth",
		`SELECT kind,
			count(*) FILTER (WHERE state = 'available'),
			count(*) FILTER (WHERE state = 'retryable'),
			count(*) FILTER (WHERE state = 'running'),
			coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE state = 'available')), 0)::float8
		FROM river_job WHERE state IN ('available', 'retryable', 'running')
		GROUP BY kind ORDER BY kind`, nil, func(row pgx.Row) (JobQueueDepth, error) {
			var d JobQueueDepth
			return d, row.Scan(&d.Kind, &d.Available, &d.Retryable, &d.Running, &d.OldestAvailableSeconds)
		})
}
