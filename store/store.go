package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/workingtracker/api/internal/apperr"
)

// Scope is the request's authority over data: every store method takes one and every query
// filters by its tenant, so a resolver cannot forget tenancy.
type Scope struct {
	TenantID uuid.UUID
	// ActorID is the employee acting (zero for service principals); recorded on writes.
	ActorID uuid.UUID
	// Visible limits the employees whose rows — profiles, time entries — the request may read
	// and change: its own, and for a manager those who report to them. Nil means every employee
	// of the tenant; empty means none. Rows out of reach read as absent, never as forbidden.
	Visible []uuid.UUID
	// Writes limits what the request may change beyond Visible. Package policy decides them
	// per principal; the zero value limits nothing (the composition root's seeding, jobs).
	Writes WriteLimits
}

// WriteLimits are the row-level rules of writes, as package policy declares them; the store
// applies them inside the write's transaction, before it changes anything, and refuses with
// FORBIDDEN (the rows are readable, so a refusal reveals nothing).
type WriteLimits struct {
	// ProjectsOf limits the projects the request may change — their fields, their members and
	// their tasks — to those with a member among these employees: nil, every project; empty,
	// none.
	ProjectsOf []uuid.UUID
	// JoinCreatedProjects makes the actor the first member of a project it creates, so that
	// the project is within ProjectsOf.
	JoinCreatedProjects bool
	// SelfLocked are the fields (GraphQL input names) of their own employee record the actor
	// may not change.
	SelfLocked []string
	// AdminLocked are the fields of an ADMIN's employee record the request may not change;
	// AdminRefusal is the code it gets for trying (FORBIDDEN, or MFA_REQUIRED when a second
	// factor would allow it).
	AdminLocked  []string
	AdminRefusal apperr.Code
}

// bind returns ctx carrying the scope's tenant for the pgx pool, which sets it on the
// connection a read runs on (see tenantPrepareConn).
func (s Scope) bind(ctx context.Context) context.Context {
	return context.WithValue(ctx, tenantKey{}, s.TenantID)
}

// restricted reports whether the scope sees only some employees.
func (s Scope) restricted() bool { return s.Visible != nil }

// visible reports whether the scope may see employee id.
func (s Scope) visible(id uuid.UUID) bool {
	return !s.restricted() || slices.Contains(s.Visible, id)
}

// visibleOnly keeps the ids the scope may see.
func (s Scope) visibleOnly(ids []uuid.UUID) []uuid.UUID {
	if !s.restricted() {
		return ids
	}
	return slices.DeleteFunc(slices.Clone(ids), func(id uuid.UUID) bool { return !slices.Contains(s.Visible, id) })
}

// Store is the only place that speaks SQL.
//
// Hot batched reads go through pgx directly: pgx prepares each statement once per connection and
// the pool runs with plan_cache_mode=force_generic_plan, because on month-partitioned tables
// planning a statement costs more than running it. bun (which inlines arguments and prepares
// nothing) builds the writes and the transactional reads, where clarity matters more than
// microseconds. Both share one pgx pool.
//
// Inside InTx, writes and the reads of write methods go through the transaction; the batched
// reads (…ByIDs, List…, Count…) always read committed data through the pool, outside it.
type Store struct {
	pool *pgxpool.Pool
	db   bun.IDB
	bun  *bun.DB
	now  func() time.Time
	// partitions remembers the months known to have partitions (see ensurePartition).
	partitions *sync.Map
	// screenshotCleanup enqueues the deletion of a deleted time entry's screenshots
	// (SetScreenshotCleanup).
	screenshotCleanup ScreenshotCleanup
	// auditOrigin fills an audit entry's actor and request from the context (SetAuditOrigin);
	// audit is what a transaction's Store has to record before it commits (nil outside one).
	auditOrigin AuditOrigin
	audit       *txAudit
}

// Opts tunes a Store.
type Opts struct {
	// MaxConns caps the pool; zero keeps pgx's default (max(4, cores)).
	MaxConns int32
	// Tracer observes every statement (metrics, tests counting round trips).
	Tracer pgx.QueryTracer
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	// StatementTimeout bounds every statement of the pool (serving pools: a stalled query must
	// not hold a connection and its request forever). Zero leaves the server's setting.
	StatementTimeout time.Duration
}

// Open connects to databaseURL. Close the store when done.
func Open(ctx context.Context, databaseURL string, opts Opts) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.ConnConfig.Tracer = opts.Tracer
	cfg.PrepareConn = tenantPrepareConn
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		registerUUIDCodec(conn)
		return nil
	}
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	// Month boundaries of partitions and every timestamp the store reads are UTC, whatever the
	// server's or the client machine's zone (pgx honours PGTZ).
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
		cfg.ConnConfig.RuntimeParams["application_name"] = "workingtracker"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	return New(pool, opts.Now), nil
}

// New wraps an existing pool.
func New(pool *pgxpool.Pool, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	bdb := bun.NewDB(stdlib.OpenDBFromPool(pool), pgdialect.New())
	return &Store{pool: pool, db: bdb, bun: bdb, now: now, partitions: new(sync.Map)}
}

// Close releases every connection.
func (s *Store) Close() {
	_ = s.bun.Close()
	s.pool.Close()
}

// BypassesRowSecurity reports whether the connection's role is a superuser or has BYPASSRLS:
// such a role sees every tenant's rows whatever the policies say.
func (s *Store) BypassesRowSecurity(ctx context.Context) (bool, error) {
	var bypass bool
	err := s.pool.QueryRow(ctx, `SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&bypass)
	if err != nil {
		return false, fmt.Errorf("read role: %w", err)
	}
	return bypass, nil
}

// RoleCheck says how far row-level security binds the connection's role.
type RoleCheck struct {
	Role string
	// BypassesRowSecurity: a superuser or a BYPASSRLS role sees every tenant's rows whatever the
	// policies say.
	BypassesRowSecurity bool
	// OwnedTenantTables are the tenant tables (those with a tenant_id column; partitions left
	// out) the role owns, itself or through a role it inherits from. Forced policies bind an
	// owner too, but an owner may turn them off (ALTER TABLE … NO FORCE / DISABLE ROW LEVEL
	// SECURITY, DROP POLICY): one injected statement would remove the second line of isolation.
	OwnedTenantTables []string
	// UnprotectedTenantTables are tenant tables (partitions included) whose row-level security
	// is not both enabled and forced.
	UnprotectedTenantTables []string
}

// QueueTablesLike matches the job queue's tables (river_job, river_leader, …: river's schema,
// created by rivermigrate). They are not tenant tables and are left out of the row-level
// security checks explicitly, whatever columns a river version gives them: the queue holds the
// jobs of every tenant (a worker fetches any tenant's job), its rows carry the tenant inside
// the job's arguments, and a worker scopes what it reads and writes to that tenant through the
// store like a request does (jobs.TenantScope). Their grants are the application role's like
// every table's (README, Deploying).
const QueueTablesLike = `river\_%`

// CheckRole reads the connection's role and the tenant tables it could read around row-level
// security (the job queue's tables left out: QueueTablesLike).
func (s *Store) CheckRole(ctx context.Context) (RoleCheck, error) {
	var c RoleCheck
	// Membership, not just inheritance: a member of the owner's (or a superuser's) role may
	// SET ROLE to it at any time, even without INHERIT, and then RLS no longer binds it.
	err := s.pool.QueryRow(ctx, `SELECT current_user::text,
		EXISTS (SELECT FROM pg_roles m WHERE (m.rolsuper OR m.rolbypassrls) AND pg_has_role(current_user, m.oid, 'MEMBER')),
		coalesce(array_agg(t.relname::text ORDER BY t.relname) FILTER (WHERE NOT t.relispartition AND t.owned), '{}'),
		coalesce(array_agg(t.relname::text ORDER BY t.relname) FILTER (WHERE NOT t.protected), '{}')
		FROM pg_roles r
		LEFT JOIN (
			SELECT c.relname, c.relispartition, pg_has_role(current_user, c.relowner, 'MEMBER') AS owned,
			       c.relrowsecurity AND c.relforcerowsecurity AS protected
			FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
			WHERE c.relkind IN ('r', 'p') AND c.relname NOT LIKE $1 AND EXISTS (SELECT FROM pg_attribute a
				WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
		) t ON true
		WHERE r.rolname = current_user
		GROUP BY r.rolsuper, r.rolbypassrls`, QueueTablesLike).Scan(&c.Role, &c.BypassesRowSecurity, &c.OwnedTenantTables, &c.UnprotectedTenantTables)
	if err != nil {
		return c, fmt.Errorf("read role: %w", err)
	}
	return c, nil
}

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool to the composition root (migrations, seeding, benchmarks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// DB exposes bun to the composition root (migrations).
func (s *Store) DB() *bun.DB { return s.bun }

// InTx runs fn in one transaction of the scope's tenant; fn's Store writes through it.
// Returning an error rolls back, so a failed mutation leaves nothing half-written.
//
// Its audit entries (AppendAudit, and a mutation's generic entry: PendingAudit) are written
// when fn returns, right before the commit.
func (s *Store) InTx(ctx context.Context, scope Scope, fn func(tx *Store) error) error {
	audit := &txAudit{tenant: scope.TenantID}
	// The month's audit partition, before the transaction holds a connection (creating one
	// needs a connection of its own): remembered, so this costs nothing but once a month.
	if err := s.ensurePartition(ctx, "audit_logs", s.now()); err != nil {
		return err
	}
	err := s.bun.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		// Row-level security sees the transaction's tenant, and only for this transaction.
		if _, err := tx.NewRaw(`SELECT set_config('app.tenant_id', ?, true)`, scope.TenantID.String()).Exec(ctx); err != nil {
			return fmt.Errorf("set tenant: %w", err)
		}
		txs := &Store{pool: s.pool, db: tx, bun: s.bun, now: s.now, partitions: s.partitions,
			screenshotCleanup: s.screenshotCleanup, auditOrigin: s.auditOrigin, audit: audit}
		if err := fn(txs); err != nil {
			return err
		}
		return txs.commitAudit(ctx)
	})
	if err == nil {
		audit.committed()
	}
	return err
}

// inTx runs fn in a transaction, or in the caller's when s already is one: every public write
// is atomic on its own and composes into a larger transaction.
func inTx[T any](ctx context.Context, s *Store, scope Scope, fn func(tx *Store) (T, error)) (T, error) {
	if _, nested := s.db.(bun.Tx); nested {
		out, err := fn(s)
		if err == nil {
			s.audit.noteResult(out)
		}
		return out, err
	}
	var out T
	err := s.InTx(ctx, scope, func(tx *Store) error {
		var err error
		out, err = fn(tx)
		if err == nil {
			tx.audit.noteResult(out) // the resource the mutation's audit entry names
		}
		return err
	})
	return out, err
}

// translate maps PostgreSQL errors to client-facing codes; anything else stays internal.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return apperr.New(apperr.NotFound, "%s not found", what)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("%s already exists", what)}
		case "23503": // foreign_key_violation
			return &apperr.Error{Code: apperr.BadUserInput, Message: fmt.Sprintf("%s refers to a record that does not exist", what)}
		case "23514": // check_violation; without a constraint it is a row with no partition: ours
			if pgErr.ConstraintName == "" {
				return fmt.Errorf("%s: %w", what, err)
			}
			return &apperr.Error{Code: apperr.BadUserInput, Message: fmt.Sprintf("%s is invalid", what)}
		case "22001", "22003", "22P02": // string too long, out of range, bad text
			return &apperr.Error{Code: apperr.BadUserInput, Message: fmt.Sprintf("%s is invalid", what)}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
