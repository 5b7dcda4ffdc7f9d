// Package testdb gives each test its own migrated PostgreSQL database, cloned in milliseconds
// from a template that pgtestdb migrates once per schema version. Tests run in parallel against
// the real server `make test` provisions (TEST_DATABASE_URL); nothing is mocked.
package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver pgtestdb opens
	"github.com/peterldowns/pgtestdb"
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
	return hex.EncodeToString(h.Sum(nil)), err
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
type StatementCounter struct{ n atomic.Int64 }

func (c *StatementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	// Setting the tenant for row-level security depends on what the pooled connection served
	// before (once per connection and tenant switch), not on the request: not counted.
	if !strings.HasPrefix(data.SQL, "SELECT set_config('app.tenant_id'") {
		c.n.Add(1)
	}
	return ctx
}

func (c *StatementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Count returns the statements so far.
func (c *StatementCounter) Count() int64 { return c.n.Load() }

// Reset starts counting from zero.
func (c *StatementCounter) Reset() { c.n.Store(0) }
