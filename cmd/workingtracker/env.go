package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/config"
	"github.com/workingtracker/api/internal/devpg"
	"github.com/workingtracker/api/internal/telemetry"
	"github.com/workingtracker/api/migrations"
	"github.com/workingtracker/api/store"
)

// env is what every command starts from.
type env struct {
	cfg config.Config
}

func loadEnv(getenv func(string) string) (*env, error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &env{cfg: cfg}, nil
}

// devDatabaseName is the database of the private development cluster.
const devDatabaseName = "workingtracker"

func (e *env) devCluster() devpg.Opts {
	return devpg.Opts{Dir: filepath.Join(e.cfg.DataDir, "pg"), Port: e.cfg.DevPGPort, Database: devDatabaseName}
}

// databaseURL is DATABASE_URL, or in development the private local cluster, started on demand.
func (e *env) databaseURL(ctx context.Context) (string, error) {
	if e.cfg.DatabaseURL != "" {
		return e.cfg.DatabaseURL, nil
	}
	if !e.cfg.Development() {
		return "", errors.New("DATABASE_URL is required outside development")
	}
	c, err := devpg.Ensure(ctx, e.devCluster())
	if err != nil {
		return "", err
	}
	return c.URL(), nil
}

func (e *env) openStore(ctx context.Context, opts store.Opts) (*store.Store, error) {
	url, err := e.databaseURL(ctx)
	if err != nil {
		return nil, err
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = e.cfg.DBMaxConns
	}
	return store.Open(ctx, url, opts)
}

func migrateUp(ctx context.Context, s *store.Store) ([]string, error) {
	m, err := store.NewMigrator(s.DB(), migrations.FS)
	if err != nil {
		return nil, err
	}
	return m.Up(ctx)
}

func (e *env) devSignerPath() string { return filepath.Join(e.cfg.DataDir, "dev-signing-key.pem") }

// verifier checks tokens against the configured issuer's JWKS, or in development against the
// local development key.
func (e *env) verifier(ctx context.Context) (*auth.Verifier, error) {
	if e.cfg.OIDCIssuer != "" {
		return auth.NewVerifier(ctx, auth.VerifierOpts{Issuer: e.cfg.OIDCIssuer, Audience: e.cfg.OIDCAudience,
			JWKSURL: e.cfg.OIDCJWKSURL, TenantClaim: e.cfg.OIDCTenantClaim, RolesClaim: e.cfg.OIDCRolesClaim,
			ClockSkew: e.cfg.OIDCClockSkew})
	}
	if !e.cfg.Development() {
		return nil, errors.New("OIDC_ISSUER is required outside development")
	}
	signer, err := auth.LoadOrCreateDevSigner(e.devSignerPath())
	if err != nil {
		return nil, err
	}
	return auth.NewVerifier(ctx, auth.VerifierOpts{Issuer: auth.DevIssuer, Audience: auth.DevAudience, KeySet: signer.KeySet()})
}

// openRedis is the client of REDIS_URL, or nil when it is unset (in-process fallbacks). Short
// timeouts and no retries: a stalled Redis must degrade features (rate limits fall back to local
// budgets, events to this instance's subscribers), never hang requests or jobs.
func (e *env) openRedis(hook redis.Hook, tp trace.TracerProvider) (*redis.Client, error) {
	if e.cfg.RedisURL == "" {
		return nil, nil
	}
	opts, err := redis.ParseURL(e.cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 200*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	opts.MaxRetries = -1
	opts.ContextTimeoutEnabled = true // the limiter's per-charge deadline applies
	rdb := redis.NewClient(opts)
	if hook != nil {
		rdb.AddHook(hook)
	}
	if tp != nil {
		if err := telemetry.InstrumentRedis(rdb, tp); err != nil {
			rdb.Close()
			return nil, fmt.Errorf("trace redis: %w", err)
		}
	}
	return rdb, nil
}
