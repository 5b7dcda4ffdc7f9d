package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Migrator applies the embedded SQL migrations with bun/migrate, then the job queue's own
// (river's, with rivermigrate: its tables, river_job and the rest, belong to the queue library
// and move with its version). Migrations run under bun's lock table, river's included, so
// replicas starting together apply each migration once.
type Migrator struct {
	m     *migrate.Migrator
	river *rivermigrate.Migrator[*sql.Tx]
}

// RiverMigrationPrefix starts the names of river's migrations in MigrationStatus and in what
// Up and Down return ("river/002_initial_schema").
const RiverMigrationPrefix = "river/"

// NewMigrator reads the *.up.sql / *.down.sql files of fsys.
func NewMigrator(db *bun.DB, fsys fs.FS) (*Migrator, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	// River logs each migration it applies at info; Up returns their names instead.
	rm, err := rivermigrate.New(riverdatabasesql.New(db.DB), &rivermigrate.Config{
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	return &Migrator{m: migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true)), river: rm}, nil
}

// MigrationStatus is one migration and whether it is applied. River's migrations have no group
// (GroupID 0) and names starting with RiverMigrationPrefix.
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
	res, err := m.river.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return names(group), fmt.Errorf("migrate river up: %w", err)
	}
	return append(names(group), riverNames(res)...), nil
}

// Down rolls back the last applied group and returns the names rolled back. River's tables
// stay (rolling back our schema need not lose queued jobs) until the last group of ours is
// rolled back: then river's go too, leaving the database as it was before the first Up.
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
	rolled := names(group)
	left, err := m.m.AppliedMigrations(ctx)
	if err != nil {
		return rolled, fmt.Errorf("migration status: %w", err)
	}
	if len(left) > 0 {
		return rolled, nil
	}
	res, err := m.river.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})
	if err != nil {
		return rolled, fmt.Errorf("migrate river down: %w", err)
	}
	return append(rolled, riverNames(res)...), nil
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
	existing, err := m.river.ExistingVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("river migration status: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range existing {
		applied[v.Version] = true
	}
	for _, v := range m.river.AllVersions() {
		out = append(out, MigrationStatus{Name: riverName(v.Version, v.Name), Applied: applied[v.Version]})
	}
	return out, nil
}

func riverNames(res *rivermigrate.MigrateResult) []string {
	out := make([]string, 0, len(res.Versions))
	for _, v := range res.Versions {
		out = append(out, riverName(v.Version, v.Name))
	}
	return out
}

// riverName is river's file name for a migration ("002_initial_schema"; river reports
// "initial schema"), after RiverMigrationPrefix.
func riverName(version int, name string) string {
	return fmt.Sprintf("%s%03d_%s", RiverMigrationPrefix, version, strings.ReplaceAll(name, " ", "_"))
}

// Pending lists the known migrations not applied to the database, ours and river's, without
// creating the migration tables (the serving role may not): the readiness check that the schema
// is at the binary's version. A database that has never been migrated is an error.
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
	existing, err := m.river.ExistingVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("river migration status: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range existing {
		applied[v.Version] = true
	}
	for _, v := range m.river.AllVersions() {
		if !applied[v.Version] {
			pending = append(pending, riverName(v.Version, v.Name))
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
