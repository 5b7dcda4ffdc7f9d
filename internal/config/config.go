// Package config reads the process configuration from the environment. Every setting is listed
// in README.md; defaults suit development, and production refuses to start without the settings
// that have no safe default.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/telemetry"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// Config is the process configuration.
type Config struct {
	Env      string // APP_ENV: development | production
	HTTPAddr string // HTTP_ADDR, default :8080
	// DatabaseURL is DATABASE_URL. Empty in development means: provision a private local cluster.
	DatabaseURL string
	RedisURL    string // REDIS_URL; empty means in-process fallbacks
	DataDir     string // DATA_DIR, default .data: local cluster, development signing key
	DevPGPort   int    // DEV_PG_PORT, default 54329: port of the private local cluster

	OIDCIssuer   string // OIDC_ISSUER
	OIDCAudience string // OIDC_AUDIENCE
	OIDCJWKSURL  string // OIDC_JWKS_URL; empty: discovered from the issuer
	// OIDC_TENANT_CLAIM, OIDC_ROLES_CLAIM: dotted claim paths (defaults tenant_id, roles).
	OIDCTenantClaim, OIDCRolesClaim string
	OIDCClockSkew                   time.Duration // OIDC_CLOCK_SKEW, default 60s

	// Introspection is INTROSPECTION (true | false); default on in development, off in
	// production. A federation gateway that composes at run time needs it (or compose offline).
	Introspection bool

	// AllowedOrigins is CORS_ALLOWED_ORIGINS, comma-separated: browser origins that may call the
	// API (e.g. https://app.workingtracker.example). Empty: none.
	AllowedOrigins []string
	LoaderWait     time.Duration // LOADER_WAIT: a batch is fetched after this long without a new key
	// GCPercent is the garbage collector's target when GOGC is unset (0 when it is set: the
	// runtime has applied it already).
	GCPercent  int
	LogLevel   slog.Level // LOG_LEVEL: debug | info | warn | error
	DBMaxConns int32      // DB_MAX_CONNS, default 0 (pgx: max(4, cores))

	// RateTiers are the query-cost budgets: ratelimit.DefaultTiers, changed by RATE_LIMITS
	// ("BI=100000/2000,EMPLOYEE=5000/100": role=maximum/restored-per-second) and
	// MAX_QUERY_COST (the most one operation may cost).
	RateTiers ratelimit.Tiers
	// TrustedProxyHops is TRUSTED_PROXY_HOPS: proxies in front of the server that append to
	// X-Forwarded-For (0: the peer address is the client's). Production must say: behind a
	// load balancer, 0 would make every client one address, sharing one failure budget.
	TrustedProxyHops int
	// TrustedProxyHopsSet is whether TRUSTED_PROXY_HOPS was given: production serves only when
	// it was.
	TrustedProxyHopsSet bool
	// WebsocketInitTimeout is WS_INIT_TIMEOUT (default 5s): how long a websocket may take to
	// send connection_init. WebsocketMaxPending (WS_MAX_PENDING, default 1,000) and
	// WebsocketMaxPendingPerClient (WS_MAX_PENDING_PER_CLIENT, default 10) bound the sockets
	// waiting for it, in all and per client address.
	WebsocketInitTimeout                              time.Duration
	WebsocketMaxPending, WebsocketMaxPendingPerClient int
	// WebsocketMaxPerPrincipal (WS_MAX_CONNECTIONS_PER_PRINCIPAL, default 20) and
	// MaxSubscriptionsPerPrincipal (MAX_SUBSCRIPTIONS_PER_PRINCIPAL, default 100) cap one
	// principal's websockets and subscriptions on each instance; 0 here: the default.
	WebsocketMaxPerPrincipal, MaxSubscriptionsPerPrincipal int
	// MaxQueryDepth is MAX_QUERY_DEPTH (default 12): how deep an operation may nest.
	MaxQueryDepth int
	// MetricsAddr is METRICS_ADDR (default 127.0.0.1:9464; "off" disables): Prometheus metrics
	// are served there, apart from the API; a scraper on another host needs e.g. :9464, on a
	// port the public load balancer does not route to. 9464 is the usual exporter port (9090 is
	// Prometheus's own, often running next to a developer's server).
	MetricsAddr string
	// Workers is WORKERS (default 10): jobs worked at once by `serve` (0: none, a separate
	// `workingtracker worker` works them) and by `worker`. WorkerShutdownTimeout is
	// WORKER_SHUTDOWN_TIMEOUT (default 30s): on SIGTERM, how long running jobs may finish
	// before they are cancelled and returned to the queue.
	Workers               int
	WorkerShutdownTimeout time.Duration
	// ReportsRefreshInterval is REPORTS_REFRESH_INTERVAL (default 5m, at least 10s): how often
	// the report views are refreshed.
	ReportsRefreshInterval time.Duration
	// Tracing is the standard OTEL_* tracing configuration (OTEL_EXPORTER_OTLP_ENDPOINT,
	// OTEL_TRACES_SAMPLER, …) and OTEL_GRAPHQL_FIELD_SPANS; no endpoint: no tracing.
	Tracing telemetry.Config
	// ShutdownDrain is SHUTDOWN_DRAIN (default 5s in production, 0 in development): on SIGTERM
	// readiness fails first, and the server keeps serving this long, so that load balancers
	// stop sending requests before the listener closes.
	ShutdownDrain time.Duration

	// Blobs and uploads (see blobs.go): BLOB_URL, BLOB_SIGNING_KEY(_FILE), BLOB_URL_TTL,
	// MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS.
	Blobs Blobs
	// PII is the encryption of personal data (see pii.go): PII_MASTER_KEY(_FILE).
	PII PII
	// Persisted operations (see persisted.go): TRUSTED_DOCUMENTS, APQ_CACHE_TTL.
	Persisted Persisted
	// Audit is the audit trail's retention (see audit.go): AUDIT_RETENTION.
	Audit Audit
}

// DefaultWorkers is WORKERS's default.
const DefaultWorkers = 10

// DefaultGCPercent trades memory for CPU: a request allocates a few megabytes that die with it
// and the live heap is small, so collecting at 5x the live heap instead of 2x halved the
// latency of a nested 50-employee page (bench, 16.4 → 8.9 ms p50 at one client).
const DefaultGCPercent = 400

// ApplyRuntime applies the runtime settings (the GC target).
func (c Config) ApplyRuntime() {
	if c.GCPercent > 0 {
		debug.SetGCPercent(c.GCPercent)
	}
}

// Development reports whether development conveniences (dev tokens, playground) are on.
func (c Config) Development() bool { return c.Env == Development }

// FromEnv reads the configuration through getenv.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		// Production unless told otherwise: a deployment that forgets APP_ENV must not get the
		// playground, demo data or development tokens. The Makefile sets development.
		Env:          or(getenv("APP_ENV"), Production),
		HTTPAddr:     or(getenv("HTTP_ADDR"), ":8080"),
		DatabaseURL:  getenv("DATABASE_URL"),
		RedisURL:     getenv("REDIS_URL"),
		DataDir:      or(getenv("DATA_DIR"), ".data"),
		OIDCIssuer:   getenv("OIDC_ISSUER"),
		OIDCAudience: getenv("OIDC_AUDIENCE"),
		OIDCJWKSURL:  getenv("OIDC_JWKS_URL"),

		OIDCTenantClaim: getenv("OIDC_TENANT_CLAIM"),
		OIDCRolesClaim:  getenv("OIDC_ROLES_CLAIM"),
	}
	var errs []error
	var err error
	c.RateTiers, err = ratelimit.DefaultTiers().ParseTiers(getenv("RATE_LIMITS"))
	if err != nil {
		errs = append(errs, fmt.Errorf("RATE_LIMITS: %w", err))
	}
	if v := getenv("MAX_QUERY_COST"); v != "" {
		if c.RateTiers.MaxQueryCost, err = strconv.Atoi(v); err != nil || c.RateTiers.MaxQueryCost < 1 {
			errs = append(errs, errors.New("MAX_QUERY_COST must be a positive integer"))
		}
	}
	if v := getenv("TRUSTED_PROXY_HOPS"); v != "" {
		if c.TrustedProxyHops, err = strconv.Atoi(v); err != nil || c.TrustedProxyHops < 0 {
			errs = append(errs, errors.New("TRUSTED_PROXY_HOPS must be 0 or more"))
		}
	}
	c.TrustedProxyHopsSet = getenv("TRUSTED_PROXY_HOPS") != ""
	if v := getenv("WS_INIT_TIMEOUT"); v != "" {
		if c.WebsocketInitTimeout, err = time.ParseDuration(v); err != nil || c.WebsocketInitTimeout <= 0 {
			errs = append(errs, errors.New("WS_INIT_TIMEOUT must be a positive duration such as 5s"))
		}
	}
	for _, n := range []struct {
		name string
		v    *int
	}{{"WS_MAX_PENDING", &c.WebsocketMaxPending}, {"WS_MAX_PENDING_PER_CLIENT", &c.WebsocketMaxPendingPerClient},
		{"MAX_QUERY_DEPTH", &c.MaxQueryDepth}, {"WS_MAX_CONNECTIONS_PER_PRINCIPAL", &c.WebsocketMaxPerPrincipal},
		{"MAX_SUBSCRIPTIONS_PER_PRINCIPAL", &c.MaxSubscriptionsPerPrincipal}} {
		if v := getenv(n.name); v != "" {
			if *n.v, err = strconv.Atoi(v); err != nil || *n.v < 1 {
				errs = append(errs, fmt.Errorf("%s must be a positive integer", n.name))
			}
		}
	}
	c.Workers = DefaultWorkers
	if v := getenv("WORKERS"); v != "" {
		if c.Workers, err = strconv.Atoi(v); err != nil || c.Workers < 0 {
			errs = append(errs, errors.New("WORKERS must be 0 or more"))
		}
	}
	c.WorkerShutdownTimeout = 30 * time.Second
	if v := getenv("WORKER_SHUTDOWN_TIMEOUT"); v != "" {
		if c.WorkerShutdownTimeout, err = time.ParseDuration(v); err != nil || c.WorkerShutdownTimeout <= 0 {
			errs = append(errs, errors.New("WORKER_SHUTDOWN_TIMEOUT must be a positive duration such as 30s"))
		}
	}
	c.ReportsRefreshInterval = 5 * time.Minute
	if v := getenv("REPORTS_REFRESH_INTERVAL"); v != "" {
		if c.ReportsRefreshInterval, err = time.ParseDuration(v); err != nil || c.ReportsRefreshInterval < 10*time.Second {
			errs = append(errs, errors.New("REPORTS_REFRESH_INTERVAL must be a duration of at least 10s, such as 5m"))
		}
	}
	c.MetricsAddr = or(getenv("METRICS_ADDR"), "127.0.0.1:9464")
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	if c.Env == Production {
		c.ShutdownDrain = 5 * time.Second
	}
	if v := getenv("SHUTDOWN_DRAIN"); v != "" {
		if c.ShutdownDrain, err = time.ParseDuration(v); err != nil || c.ShutdownDrain < 0 {
			errs = append(errs, errors.New("SHUTDOWN_DRAIN must be a duration such as 5s (0: no drain)"))
		}
	}
	if c.Env != Development && c.Env != Production {
		errs = append(errs, fmt.Errorf("APP_ENV must be %q or %q, not %q", Development, Production, c.Env))
	}
	if c.DevPGPort, err = strconv.Atoi(or(getenv("DEV_PG_PORT"), "54329")); err != nil {
		errs = append(errs, fmt.Errorf("DEV_PG_PORT: %w", err))
	}
	if err := c.LogLevel.UnmarshalText([]byte(or(getenv("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	if getenv("GOGC") == "" {
		c.GCPercent = DefaultGCPercent
	}
	for _, o := range strings.Split(getenv("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	if v := getenv("OIDC_CLOCK_SKEW"); v != "" {
		if c.OIDCClockSkew, err = time.ParseDuration(v); err != nil || c.OIDCClockSkew < 0 {
			errs = append(errs, fmt.Errorf("OIDC_CLOCK_SKEW must be a duration such as 60s"))
		}
	}
	if v := getenv("LOADER_WAIT"); v != "" {
		if c.LoaderWait, err = time.ParseDuration(v); err != nil || c.LoaderWait < 0 {
			errs = append(errs, fmt.Errorf("LOADER_WAIT must be a duration such as 50us"))
		}
	}
	if v := getenv("DB_MAX_CONNS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("DB_MAX_CONNS must be a positive integer"))
		}
		c.DBMaxConns = int32(n)
	}
	if c.Tracing, err = telemetry.ConfigFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	c.Introspection = c.Env == Development
	if v := getenv("INTROSPECTION"); v != "" {
		if c.Introspection, err = strconv.ParseBool(v); err != nil {
			errs = append(errs, fmt.Errorf("INTROSPECTION: %w", err))
		}
	}
	if err := c.Audit.fromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := c.Blobs.fromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := c.PII.fromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := c.Persisted.fromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.Env == Production {
		if c.DatabaseURL == "" {
			errs = append(errs, errors.New("DATABASE_URL is required in production"))
		}
		if c.OIDCIssuer == "" || c.OIDCAudience == "" {
			errs = append(errs, errors.New("OIDC_ISSUER and OIDC_AUDIENCE are required in production"))
		}
	}
	if c.OIDCIssuer == "" && (c.OIDCJWKSURL != "" || c.OIDCAudience != "") {
		errs = append(errs, errors.New("OIDC_JWKS_URL and OIDC_AUDIENCE need OIDC_ISSUER"))
	}
	if c.OIDCIssuer != "" && c.OIDCAudience == "" {
		errs = append(errs, errors.New("OIDC_ISSUER needs OIDC_AUDIENCE"))
	}
	return c, errors.Join(errs...)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
