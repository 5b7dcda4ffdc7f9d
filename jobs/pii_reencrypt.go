package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/store"
)

// PIIReencryptArgs is the job that moves a tenant's encrypted personal data onto its primary
// key after a rotation (`workingtracker keys rotate` inserts it).
type PIIReencryptArgs struct {
	TenantArgs
}

// Kind names the job in river_job.
func (PIIReencryptArgs) Kind() string { return "pii_reencrypt" }

// InsertOpts: one job per tenant waiting or running (a rotation while one runs is picked up by
// it: it reads the primary again before every pass); a completed one does not block the next.
func (PIIReencryptArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		rivertype.JobStateRetryable,
	}}}
}

// PIIKeys is what re-encryption needs of the keyring (pii.Keyring).
type PIIKeys interface {
	// Refresh reads the tenant's keys again now; PrimaryKeyID is then the stored primary.
	Refresh(ctx context.Context, tenant uuid.UUID) error
	PrimaryKeyID(ctx context.Context, tenant uuid.UUID) (uint32, error)
	Encrypt(ctx context.Context, tenant, row uuid.UUID, field, plaintext string) ([]byte, error)
	Decrypt(ctx context.Context, tenant, row uuid.UUID, field string, ciphertext []byte) (string, error)
}

// PIIStore is what re-encryption needs of the store.
type PIIStore interface {
	ReencryptEmployeePII(ctx context.Context, scope store.Scope, p store.ReencryptParams,
		fn func(row *store.PIICiphertexts) error) (store.ReencryptBatch, error)
}

// Defaults of PIIReencryption.
const (
	DefaultReencryptBatch = 200
	DefaultReencryptSlice = 30 * time.Second
)

// PIIReencryption re-encrypts a tenant's employees' ciphertexts under the tenant's primary
// key, in batches of one transaction each. Its progress is the rows themselves: a batch selects
// rows with a value under another key, so a job killed midway resumes where it was (committed
// batches are done, the interrupted one rolled back) with no double work.
type PIIReencryption struct {
	Store  PIIStore
	Keys   PIIKeys
	Logger *slog.Logger
	// Batch is the rows per transaction (default DefaultReencryptBatch).
	Batch int
	// Slice is how long one attempt works before it snoozes and resumes later, so that a large
	// tenant does not hold a worker (or a shutdown) for long (default DefaultReencryptSlice).
	Slice time.Duration
	// Timeout bounds an attempt, and is how long the rescuer leaves a killed worker's job
	// before another worker resumes it (default: Slice plus a minute for the batch in flight).
	Timeout time.Duration
}

// ErrUndecryptableValues fails a pass that met values no key of the tenant decrypts: they stay
// where they are (keys status counts them), and the job retries later.
var ErrUndecryptableValues = errors.New("values that do not decrypt")

// ReencryptProgress is what a Run did.
type ReencryptProgress struct {
	Rows int // rows rewritten
	Done bool
}

// Run re-encrypts tenant's values until none is under another key than the primary, or until
// until passes (Done false: call again).
func (r PIIReencryption) Run(ctx context.Context, tenant uuid.UUID, until time.Time) (ReencryptProgress, error) {
	var progress ReencryptProgress
	scope := store.Scope{TenantID: tenant}
	batch := orDefault(r.Batch, DefaultReencryptBatch)
	fields := pii.Fields() // in store.PIICiphertexts.Columns' order
	for {
		// A pass: every row after the last by id, against the primary as stored now.
		if err := r.Keys.Refresh(ctx, tenant); err != nil {
			return progress, err
		}
		primary, err := r.Keys.PrimaryKeyID(ctx, tenant)
		if err != nil {
			return progress, err
		}
		rewritten, undecryptable := 0, 0
		after := uuid.Nil
		for {
			if time.Now().After(until) {
				return progress, nil
			}
			res, err := r.Store.ReencryptEmployeePII(ctx, scope, store.ReencryptParams{Primary: primary, After: after, Limit: batch},
				func(row *store.PIICiphertexts) error {
					for i, col := range row.Columns() {
						if *col == nil {
							continue
						}
						if id, ok := store.PIIKeyOf(*col); ok && id == primary {
							continue
						}
						plaintext, err := r.Keys.Decrypt(ctx, tenant, row.EmployeeID, fields[i], *col)
						if errors.Is(err, pii.ErrUndecryptable) {
							undecryptable++
							continue
						}
						if err != nil {
							return err
						}
						if *col, err = r.Keys.Encrypt(ctx, tenant, row.EmployeeID, fields[i], plaintext); err != nil {
							return err
						}
					}
					return nil
				})
			if err != nil {
				return progress, fmt.Errorf("re-encrypt tenant %s: %w", tenant, err)
			}
			rewritten += res.Updated
			progress.Rows += res.Updated
			if res.Rows < batch {
				break
			}
			after = res.Last
		}
		if undecryptable > 0 {
			return progress, fmt.Errorf("re-encrypt tenant %s: %d %w under no key of the tenant (keys status shows them)",
				tenant, undecryptable, ErrUndecryptableValues)
		}
		if rewritten == 0 {
			// A pass found nothing to do: unless the primary changed meanwhile, done.
			if err := r.Keys.Refresh(ctx, tenant); err != nil {
				return progress, err
			}
			now, err := r.Keys.PrimaryKeyID(ctx, tenant)
			if err != nil {
				return progress, err
			}
			if now == primary {
				progress.Done = true
				return progress, nil
			}
		}
	}
}

type piiReencryptWorker struct {
	river.WorkerDefaults[PIIReencryptArgs]
	r PIIReencryption
}

// Timeout bounds an attempt (the rescuer leaves a running job alone this long, too).
func (w *piiReencryptWorker) Timeout(*river.Job[PIIReencryptArgs]) time.Duration {
	return orDefault(w.r.Timeout, orDefault(w.r.Slice, DefaultReencryptSlice)+time.Minute)
}

// Work re-encrypts for a slice, then snoozes to resume (an attempt that snoozes is not
// counted), or completes when no value is left under an old key.
func (w *piiReencryptWorker) Work(ctx context.Context, job *river.Job[PIIReencryptArgs]) error {
	scope, err := TenantScope(job.Args.TenantArgs)
	if err != nil {
		return err
	}
	if w.r.Keys == nil || w.r.Store == nil {
		return errors.New("pii_reencrypt: this process has no keyring (jobs.Deps.PII)")
	}
	logger := w.r.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	started := time.Now()
	progress, err := w.r.Run(ctx, scope.TenantID, started.Add(orDefault(w.r.Slice, DefaultReencryptSlice)))
	logger.InfoContext(ctx, "re-encrypted personal data", "tenant_id", scope.TenantID, "rows", progress.Rows,
		"done", progress.Done, "elapsed", time.Since(started).String())
	if err != nil {
		return err
	}
	if !progress.Done {
		return river.JobSnooze(time.Second)
	}
	return nil
}
