package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/config"
	"github.com/workingtracker/api/internal/ratelimit"
)

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func TestProductionIsTheDefault(t *testing.T) {
	t.Parallel()
	_, err := config.FromEnv(env(nil))
	require.ErrorContains(t, err, "DATABASE_URL is required in production")
}

func TestDevelopmentDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(map[string]string{"APP_ENV": "development"}))
	require.NoError(t, err)
	require.True(t, c.Development())
	require.Equal(t, ":8080", c.HTTPAddr)
	require.Equal(t, ".data", c.DataDir)
	require.Equal(t, 54329, c.DevPGPort)
	require.True(t, c.Introspection)
	require.Equal(t, config.DefaultGCPercent, c.GCPercent)
	require.Equal(t, config.DefaultWorkers, c.Workers, "serve works jobs unless told not to")
	require.Equal(t, 30*time.Second, c.WorkerShutdownTimeout)
	require.Zero(t, c.ShutdownDrain, "development stops at once")

	c, err = config.FromEnv(env(map[string]string{"APP_ENV": "development", "GOGC": "150"}))
	require.NoError(t, err)
	require.Zero(t, c.GCPercent, "an operator's GOGC wins")
}

func TestProductionRequiresWhatHasNoSafeDefault(t *testing.T) {
	t.Parallel()
	_, err := config.FromEnv(env(map[string]string{"APP_ENV": "production"}))
	require.ErrorContains(t, err, "DATABASE_URL is required in production")
	require.ErrorContains(t, err, "OIDC_ISSUER and OIDC_AUDIENCE are required in production")

	c, err := config.FromEnv(env(map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://db/wt",
		"OIDC_ISSUER": "https://idp", "OIDC_AUDIENCE": "api"}))
	require.NoError(t, err)
	require.False(t, c.Introspection, "introspection is off in production unless asked for")
	require.Equal(t, 5*time.Second, c.ShutdownDrain, "production drains before it stops listening")

	c, err = config.FromEnv(env(map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://db/wt",
		"OIDC_ISSUER": "https://idp", "OIDC_AUDIENCE": "api", "SHUTDOWN_DRAIN": "20s"}))
	require.NoError(t, err)
	require.Equal(t, 20*time.Second, c.ShutdownDrain)
}

func TestInvalidValuesAreAllReported(t *testing.T) {
	t.Parallel()
	_, err := config.FromEnv(env(map[string]string{"APP_ENV": "staging", "DB_MAX_CONNS": "-1", "LOADER_WAIT": "soon",
		"LOG_LEVEL": "loud", "INTROSPECTION": "maybe", "OIDC_ISSUER": "https://idp", "OIDC_CLOCK_SKEW": "soon",
		"RATE_LIMITS": "BI=lots", "MAX_QUERY_COST": "0", "TRUSTED_PROXY_HOPS": "-1",
		"WS_INIT_TIMEOUT": "-1s", "WS_MAX_PENDING": "0", "WS_MAX_PENDING_PER_CLIENT": "x", "MAX_QUERY_DEPTH": "-3",
		"WORKERS": "-1", "WORKER_SHUTDOWN_TIMEOUT": "0s", "SHUTDOWN_DRAIN": "-1s"}))
	for _, want := range []string{"APP_ENV", "DB_MAX_CONNS", "LOADER_WAIT", "LOG_LEVEL", "INTROSPECTION",
		"OIDC_ISSUER needs OIDC_AUDIENCE", "OIDC_CLOCK_SKEW", "RATE_LIMITS", "MAX_QUERY_COST", "TRUSTED_PROXY_HOPS",
		"WS_INIT_TIMEOUT", "WS_MAX_PENDING must", "WS_MAX_PENDING_PER_CLIENT", "MAX_QUERY_DEPTH", "WORKERS must",
		"WORKER_SHUTDOWN_TIMEOUT", "SHUTDOWN_DRAIN"} {
		require.ErrorContains(t, err, want)
	}
}

func TestRateLimitSettings(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(map[string]string{"APP_ENV": "development",
		"RATE_LIMITS": "BI=200000/4000, unauthenticated=10/1", "MAX_QUERY_COST": "3000", "METRICS_ADDR": "off"}))
	require.NoError(t, err)
	require.Equal(t, 200000, c.RateTiers.ByRole["BI"].Burst)
	require.Equal(t, 4000.0, c.RateTiers.ByRole["BI"].RestorePerSecond())
	require.Equal(t, 10, c.RateTiers.Unauthenticated.Burst)
	require.Equal(t, ratelimit.DefaultTiers().ByRole["EMPLOYEE"], c.RateTiers.ByRole["EMPLOYEE"], "unnamed tiers keep their defaults")
	require.Equal(t, 3000, c.RateTiers.MaxQueryCost)
	require.Empty(t, c.MetricsAddr)

	_, err = config.FromEnv(env(map[string]string{"APP_ENV": "development", "RATE_LIMITS": "INTERN=5/1"}))
	require.ErrorContains(t, err, "unknown role INTERN")
}

func TestWorkerSettings(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(map[string]string{"APP_ENV": "development", "WORKERS": "0", "WORKER_SHUTDOWN_TIMEOUT": "5s"}))
	require.NoError(t, err)
	require.Zero(t, c.Workers, "WORKERS=0 turns serve's workers off")
	require.Equal(t, 5*time.Second, c.WorkerShutdownTimeout)
}

func TestAuditRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", config.DefaultAuditRetention, true},
		{"400d", 400 * 24 * time.Hour, true},
		{"2160h", 90 * 24 * time.Hour, true},
		{"7d", 0, false},
		{"soon", 0, false},
	} {
		c, err := config.FromEnv(env(map[string]string{"APP_ENV": "development", "AUDIT_RETENTION": tc.value}))
		if !tc.ok {
			require.ErrorContains(t, err, "AUDIT_RETENTION", tc.value)
			continue
		}
		require.NoError(t, err, tc.value)
		require.Equal(t, tc.want, c.Audit.Retention, tc.value)
	}
}
