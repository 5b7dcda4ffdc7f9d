package store

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Migrator applies the embedded SQL migrations with bun/migrate. Migrations run under a lock
// table, so replicas starting together apply each migration once.
type Migrator struct {
	m *migrate.Migrator
}

// NewMigrator reads the *.up.sql / *.down.sql files of fsys.
func NewMigrator(db *bun.DB, fsys fs.FS) (*Migrator, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	return &Migrator{m: migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true))}, nil
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Name    string
	Applied bool
	GroupID int64
}

// Up applies every pending migration and returns the names applied.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	if err := m.m.Init(ctx); err != nil {
		return nil, fmt.Errorf("init migrations: %w", err)
	}
	if err := m.m.Lock(ctx); err != nil {
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	defer m.m.Unlock(ctx) //nolint:errcheck // the lock row is removed with the process either way
	group, err := m.m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate up: %w", err)
	}
	return names(group), nil
}

// Down rolls back the last applied group and returns the names rolled back.
func (m *Migrator) Down(ctx context.Context) ([]string, error) {
	if err := m.m.Init(ctx); err != nil {
		return nil, fmt.Errorf("init migrations: %w", err)
	}
	if err := m.m.Lock(ctx); err != nil {
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	defer m.m.Unlock(ctx) //nolint:errcheck // see Up
	group, err := m.m.Rollback(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate down: %w", err)
	}
	return names(group), nil
}

// Status lists every known migration, applied or not.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	if err := m.m.Init(ctx); err != nil {
		return nil, fmt.Errorf("init migrations: %w", err)
	}
	ms, err := m.m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(ms))
	for _, mg := range ms {
		out = append(out, MigrationStatus{Name: mg.Name, Applied: mg.IsApplied(), GroupID: mg.GroupID})
	}
	return out, nil
}

// Pending lists the known migrations not applied to the database, without creating the
// migration tables (the serving role may not): the readiness check that the schema is at the
// binary's version. A database that has never been migrated is an error.
func (m *Migrator) Pending(ctx context.Context) ([]string, error) {
	ms, err := m.m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	var pending []string
	for _, mg := range ms {
		if !mg.IsApplied() {
			pending = append(pending, mg.Name)
		}
	}
	return pending, nil
}

func names(g *migrate.MigrationGroup) []string {
	if g == nil || g.IsZero() {
		return nil
	}
	out := make([]string, 0, len(g.Migrations))
	for _, mg := range g.Migrations {
		out = append(out, mg.Name)
	}
	return out
}
