package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// DB is what the queue needs of the store: its pgx pool (river's own statements, LISTEN/NOTIFY)
// and bun's database/sql handle over the same pool (inserts within a bun transaction).
type DB interface {
	Pool() *pgxpool.Pool
	DB() *bun.DB
}

// Inserter is what code writing a row and its job needs (store.JobInserter is the store's
// declaration of it): Client implements it.
type Inserter interface {
	EnqueueTx(ctx context.Context, tx bun.Tx, args river.JobArgs) (*rivertype.JobInsertResult, error)
}

// Opts tunes a Client. Zero values take river's defaults.
type Opts struct {
	Logger *slog.Logger
	// Workers is how many jobs run at once in this process (the default queue's MaxWorkers).
	// Zero makes an insert-only client: Start does nothing, and the process neither fetches
	// jobs nor takes part in leader election (no periodic jobs).
	Workers int
	// PeriodicJobs are inserted on schedule by the elected leader (see PeriodicJobs).
	PeriodicJobs []*river.PeriodicJob
	// ShutdownTimeout is how long Shutdown lets running jobs finish before it cancels them
	// (default 30s).
	ShutdownTimeout time.Duration
	// JobTimeout cancels a job's context after this long (river's default: 1 minute; workers
	// may set their own with Timeout).
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before the leader takes its
	// worker for dead and retries it (default DefaultRescueStuckJobsAfter, or JobTimeout plus a
	// minute when longer; river's own default is an hour). A kind with a longer Timeout of its
	// own is left alone until that passes.
	RescueStuckJobsAfter time.Duration
	// MaxAttempts is the default for jobs whose kind does not set one (river's: 25).
	MaxAttempts int
	// RetryPolicy decides when a failed job runs again (river's default: attempt⁴ seconds).
	RetryPolicy river.ClientRetryPolicy
	// FetchCooldown and FetchPollInterval: how often a worker may, and must, look for jobs
	// besides being told of inserts by LISTEN/NOTIFY (river's defaults 100 ms and 1 s).
	FetchCooldown, FetchPollInterval time.Duration
	// Metrics, when set, count worked jobs by kind and outcome.
	Metrics *Metrics
	// TracerProvider, when set, traces inserts and attempts (rivercontrib's otelriver): the
	// enqueuing span's W3C trace context travels in the job's metadata, and each attempt's
	// span links back to it, so a job is found from the request that enqueued it. Nil: none.
	TracerProvider trace.TracerProvider
	// TestOnly skips river's start-up jitter of its maintenance services (tests).
	TestOnly bool
}

// DefaultRescueStuckJobsAfter is Opts.RescueStuckJobsAfter's default: a killed worker's jobs
// run again within minutes, not river's hour (jobs time out after a minute unless their kind
// says otherwise, and the rescuer honours a kind's own timeout).
const DefaultRescueStuckJobsAfter = 5 * time.Minute

// DefaultShutdownTimeout is Opts.ShutdownTimeout's default.
const DefaultShutdownTimeout = 30 * time.Second

// hardStopWait bounds the wait for cancelled jobs to return after the shutdown timeout.
const hardStopWait = 10 * time.Second

// Client enqueues jobs and, when configured with Workers, works them.
type Client struct {
	// river works jobs and inserts outside transactions, over the pgx pool.
	river *river.Client[pgx.Tx]
	// inTx inserts within bun's transactions (*sql.Tx over the same pool); it works nothing.
	inTx    *river.Client[*sql.Tx]
	logger  *slog.Logger
	workers int
	timeout time.Duration
}

// New builds a Client over db with the given workers (NewWorkers, plus any a test adds).
func New(db DB, workers *river.Workers, opts Opts) (*Client, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers < 0 {
		return nil, errors.New("jobs: Workers must be 0 or more")
	}
	if opts.RescueStuckJobsAfter == 0 && opts.JobTimeout >= 0 {
		opts.RescueStuckJobsAfter = max(DefaultRescueStuckJobsAfter, opts.JobTimeout+time.Minute)
	}
	cfg := &river.Config{
		Logger:               opts.Logger.With("component", "river"),
		Workers:              workers,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueStuckJobsAfter,
		MaxAttempts:          opts.MaxAttempts,
		RetryPolicy:          opts.RetryPolicy,
		FetchCooldown:        opts.FetchCooldown,
		FetchPollInterval:    opts.FetchPollInterval,
		// River's nightly REINDEX needs to own river's tables, which the serving role must not
		// (it could turn row-level security off on ours): autovacuum and river's cleaner keep
		// the queue small; the schema's owner may REINDEX by hand.
		ReindexerSchedule: river.NeverSchedule(),
		TestOnly:          opts.TestOnly,
	}
	if opts.TracerProvider != nil {
		cfg.Middleware = append(cfg.Middleware, otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			TracerProvider:              opts.TracerProvider,
			MeterProvider:               noop.NewMeterProvider(), // metrics are Prometheus's (Metrics)
			EnableTracePropagation:      true,
			EnableWorkSpanJobKindSuffix: true,
		}))
	}
	if opts.Metrics != nil {
		cfg.Middleware = append(cfg.Middleware, opts.Metrics)
	}
	// The inserting client shares everything that decides how a job is inserted (MaxAttempts,
	// the known kinds).
	insertCfg := *cfg
	inTx, err := river.NewClient(riverdatabasesql.New(db.DB().DB), &insertCfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert client: %w", err)
	}
	if opts.Workers > 0 {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}}
		cfg.PeriodicJobs = opts.PeriodicJobs
	}
	rc, err := river.NewClient(riverpgxv5.New(db.Pool()), cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: client: %w", err)
	}
	timeout := opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	return &Client{river: rc, inTx: inTx, logger: opts.Logger, workers: opts.Workers, timeout: timeout}, nil
}

// Enqueue inserts a job on its own (no row written with it).
func (c *Client) Enqueue(ctx context.Context, args river.JobArgs) (*rivertype.JobInsertResult, error) {
	res, err := c.river.Insert(ctx, args, nil)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return res, nil
}

// EnqueueTx inserts a job within tx: it exists once tx commits, and never if tx rolls back.
func (c *Client) EnqueueTx(ctx context.Context, tx bun.Tx, args river.JobArgs) (*rivertype.JobInsertResult, error) {
	res, err := c.inTx.InsertTx(ctx, tx.Tx, args, nil)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return res, nil
}

// River is the underlying client, for what this package does not wrap (JobGet, JobList,
// JobCancel, Subscribe).
func (c *Client) River() *river.Client[pgx.Tx] { return c.river }

// Start starts working jobs, unless the client is insert-only. Stopping is Shutdown's: the
// context only bounds the start (a cancelled serving context must not cut running jobs short).
func (c *Client) Start(ctx context.Context) error {
	if c.workers == 0 {
		return nil
	}
	if err := c.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	return nil
}

// Shutdown stops fetching jobs and lets running ones finish within the shutdown timeout (or
// ctx's end, if sooner); then it cancels them, and river makes each cancelled job available
// again without counting the attempt, so another worker runs it: nothing is lost. A job that
// ignores its context is left running in the database until the leader's rescuer retries it.
func (c *Client) Shutdown(ctx context.Context) error {
	if c.workers == 0 {
		return nil
	}
	soft, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.river.Stop(soft)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	c.logger.WarnContext(ctx, "jobs still running at the shutdown deadline: cancelling them (they run again later)",
		"timeout", c.timeout)
	hard, cancelHard := context.WithTimeout(context.WithoutCancel(ctx), hardStopWait)
	defer cancelHard()
	if err := c.river.StopAndCancel(hard); err != nil {
		return fmt.Errorf("stop workers: %w", err)
	}
	return nil
}
