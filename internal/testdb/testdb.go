// Package testdb gives each test its own migrated PostgreSQL database, cloned in milliseconds
// from a template that pgtestdb migrates once per schema version. Tests run in parallel against
// the real server `make test` provisions (TEST_DATABASE_URL); nothing is mocked.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver pgtestdb opens
	"github.com/peterldowns/pgtestdb"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/workingtracker/api/migrations"
	"github.com/workingtracker/api/store"
)

// URL returns a fresh migrated database's connection string.
func URL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, config(t), migrator{}).URL()
}

// EmptyURL returns a fresh database with no schema (migration tests).
func EmptyURL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, config(t), pgtestdb.NoopMigrator{}).URL()
}

func config(t testing.TB) pgtestdb.Config {
	t.Helper()
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run the tests with `make test`, which provisions PostgreSQL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	pw, _ := u.User.Password()
	return pgtestdb.Config{
		DriverName: "pgx",
		Host:       u.Hostname(),
		Port:       u.Port(),
		User:       u.User.Username(),
		Password:   pw,
		Database:   u.Path[1:],
		Options:    "sslmode=disable",
	}
}

// Open returns a Store over a fresh migrated database, closed when the test ends.
func Open(t testing.TB, opts store.Opts) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), URL(t), opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// migrator applies the embedded migrations; its hash changes whenever a migration file does,
// so a changed schema gets a new template.
type migrator struct{}

func (migrator) Hash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	// River's migrations come with its module version: a river upgrade gets a new template.
	rm, err := rivermigrate.New(riverdatabasesql.New(nil), nil)
	if err != nil {
		return "", err
	}
	for _, v := range rm.AllVersions() {
		fmt.Fprintf(h, "river %d %s", v.Version, v.SQLUp)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	m, err := store.NewMigrator(bun.NewDB(db, pgdialect.New()), migrations.FS)
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	return err
}

// StatementCounter counts the statements sent to the server (a pgx tracer): the round trips a
// request costs.
type StatementCounter struct{ n, accountChecks atomic.Int64 }

func (c *StatementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	switch {
	case strings.HasPrefix(data.SQL, "SELECT set_config('app.tenant_id'"):
		// Setting the tenant for row-level security depends on what the pooled connection served
		// before (once per connection and tenant switch), not on the request: not counted.
	case strings.HasPrefix(data.SQL, "SELECT /* account check */"):
		// Authentication checks a token's account once per employee and cache period, not per
		// request: counted apart.
		c.accountChecks.Add(1)
	default:
		c.n.Add(1)
	}
	return ctx
}

// AccountChecks returns how often a token's account was read from the database.
func (c *StatementCounter) AccountChecks() int64 { return c.accountChecks.Load() }

func (c *StatementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Count returns the statements so far.
func (c *StatementCounter) Count() int64 { return c.n.Load() }

// Reset starts counting from zero.
func (c *StatementCounter) Reset() { c.n.Store(0); c.accountChecks.Store(0) }

// AsTenant runs fn in a transaction whose row-level security admits tenant's rows (tests that
// read or write tables directly).
func AsTenant(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, tenant uuid.UUID, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant.String()); err != nil {
			return err
		}
		return fn(tx)
	})
}

// AppRoleURL returns a connection string to the database of dbURL (one of URL's) for a new
// ordinary role granted what the service needs, as README's "Deploying" grants wt_app: row-level
// security binds it and it owns nothing. The role is dropped when the test ends.
func AppRoleURL(t testing.TB, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	target, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("database url: %v", err)
	}
	admin, err := url.Parse(os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	admin.Path = target.Path // the server's own account, in the test's database
	secret := make([]byte, 12)
	_, _ = rand.Read(secret)
	role, password := "wt_app_"+hex.EncodeToString(secret[:6]), hex.EncodeToString(secret[6:])
	exec := func(stmts ...string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Fatalf("connect as the server's account: %v", err)
		}
		defer conn.Close(ctx)
		for _, stmt := range stmts {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	ident := pgx.Identifier{role}.Sanitize()
	exec(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", ident, password),
		fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", pgx.Identifier{target.Path[1:]}.Sanitize(), ident),
		"GRANT USAGE ON SCHEMA public TO "+ident,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+ident,
		"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO "+ident,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "+ident, // river_job's ids
		// The audit trail is append-only for the service (README, Deploying): entries and
		// anchors are never changed, heads never deleted, and partitions are named by nobody.
		"REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs, audit_anchors FROM "+ident,
		"REVOKE DELETE, TRUNCATE ON audit_heads FROM "+ident,
		fmt.Sprintf(`DO $$ DECLARE p regclass; BEGIN
			FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'audit_logs'::regclass LOOP
				EXECUTE format('REVOKE ALL ON %%s FROM %%I', p, '%s');
			END LOOP; END $$`, role))
	// Registered after the caller's database, so it runs before the database is dropped (and
	// after anything the caller opens with the URL is closed).
	t.Cleanup(func() { exec("DROP OWNED BY "+ident, "DROP ROLE "+ident) })
	target.User = url.UserPassword(role, password)
	return target.String()
}
