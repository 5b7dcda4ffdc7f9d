package store

import (
	"context"
	"errors"

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
