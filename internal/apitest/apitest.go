// Package apitest boots the real GraphQL HTTP handler over a fresh migrated database for
// integration tests: real PostgreSQL, real gqlgen transports, real HTTP on loopback, tokens
// signed by a key the server trusts.
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/audit"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/blobs"
	"github.com/workingtracker/api/internal/config"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/metrics"
	"github.com/workingtracker/api/internal/persisted"
	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/screenshots"
	"github.com/workingtracker/api/internal/telemetry"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/resolvers"
	"github.com/workingtracker/api/store"
)

// Server is a running API over its own database.
type Server struct {
	Store      *store.Store
	Statements *testdb.StatementCounter
	Signer     *auth.Signer
	URL        string
	// Opts built Handler, which serves URL.
	Opts    httpapi.Opts
	Handler http.Handler
	t       testing.TB
	// DatabaseURL is the database Store serves.
	DatabaseURL string
	// Registry holds every metric the server exports, wired as serve wires them.
	Registry *prometheus.Registry
	// Sockets tracks the server's websockets (Close them to see a shutdown's going away).
	Sockets *httpapi.Sockets
	// Events is the screenshot event bus the subscriptions listen to (Opts.Events, or one in
	// process); publish on it to reach them.
	Events *events.Bus
	// Bucket is the server's blob storage (file:// in a temporary folder); Jobs its job
	// client, insert-only (the server works no jobs).
	Bucket *blobs.Bucket
	Jobs   *jobs.Client
	// Keyring encrypts the server's personal data (a random master key per server).
	Keyring *pii.Keyring
	// SecurityEvents aggregates the server's security events; Flush writes them (no periodic
	// flush runs in tests).
	SecurityEvents *audit.SecurityEvents
}

// Opts tunes New.
type Opts struct {
	// Loaders tunes the loaders' batching window (defaults otherwise).
	Loaders loaders.Opts
	// WrapPII, when set, wraps the keyring the resolvers encrypt and decrypt with (a test that
	// counts decryptions); Server.Keyring stays the keyring itself.
	WrapPII func(resolvers.PIICipher) resolvers.PIICipher
	// Keyring tunes the server's keyring (its cache of masked forms).
	Keyring pii.KeyringOpts
	// AllowedOrigins may call the API from a browser (CORS).
	AllowedOrigins []string
	// RateLimits are the budgets. By default they are too large to matter: tests of other
	// features send pages of 100 with everything nested, which production's tiers refuse.
	RateLimits httpapi.RateLimits
	// Signer signs the tokens the server trusts (default: a new key). Two servers given the
	// same signer accept the same tokens, as two instances behind a load balancer do.
	Signer *auth.Signer
	// Websockets bound unauthenticated websockets (defaults otherwise).
	Websockets auth.WebsocketLimits
	// NoIntrospection serves as production does by default: no __schema or __type.
	NoIntrospection bool
	// Log, when set, receives the server's log lines (from info) and net/http's error log as
	// well as the test's log; without it the test's log gets warnings and errors.
	Log io.Writer
	// DatabaseURL is the database to serve (default: a fresh migrated one); two servers given
	// the same share it, as instances behind a load balancer do.
	DatabaseURL string
	// AccountTTL is how long the server trusts that a token's employee still has an open account
	// (default auth.DefaultAccountTTL; negative: it checks on every request).
	AccountTTL time.Duration
	// TracerProvider traces the server as serve does (HTTP, GraphQL operations, loader batches,
	// statements); FieldSpans adds GraphQL field spans.
	TracerProvider trace.TracerProvider
	FieldSpans     bool
	// BlobURLs signs screenshot URLs (default: none, and the URLs read as null; see SignBlobURLs).
	BlobURLs resolvers.BlobURLs
	// Events is the screenshot event bus (default: in process, closed when the test ends); two
	// servers given buses over one Redis reach each other's subscribers.
	Events *events.Bus
	// Subscriptions caps each principal's websockets and subscriptions (defaults otherwise).
	Subscriptions httpapi.SubscriptionLimits
	// JobWorkers are the job kinds the server's job client may insert (default: the
	// service's, jobs.NewWorkers).
	JobWorkers *river.Workers
	// MaxUploadBytes and MaxUploadPixels bound uploads (defaults as serve's).
	MaxUploadBytes, MaxUploadPixels int64
	// BlobSigningKey signs the bucket's /blobs/ URLs (default: a random key).
	BlobSigningKey []byte
	// Publisher receives the screenshot events uploads and jobs publish (default: Events).
	Publisher events.Publisher
	// ProcessJobs works the server's jobs in process with the service's workers over its store,
	// bucket and bus, as serve does: an upload then ends PROCESSED and subscribers hear of it.
	// Otherwise the job client only inserts.
	ProcessJobs bool
	// ReachRefresh is how old a subscription's reach may be before an event re-reads it.
	ReachRefresh time.Duration
	// SignBlobURLs signs screenshot URLs with the server's bucket when BlobURLs is not given.
	SignBlobURLs bool
	// APQCache is the automatic persisted queries' cache (default: in process); two servers
	// given persisted.NewRedisCache over one Redis share it.
	APQCache persisted.Cache
	// RegisteredOnly serves as TRUSTED_DOCUMENTS=only does in production: registered
	// operations only, for everyone.
	RegisteredOnly bool
}

// New starts a server; everything stops when the test ends.
func New(t testing.TB, opts Opts) *Server {
	t.Helper()
	counter := &testdb.StatementCounter{}
	if opts.DatabaseURL == "" {
		opts.DatabaseURL = testdb.URL(t)
	}
	registry := prometheus.NewRegistry()
	tracers := []pgx.QueryTracer{counter, metrics.NewStatements(registry)}
	if opts.TracerProvider != nil {
		tracers = append(tracers, telemetry.PGXTracer(opts.TracerProvider))
	}
	s, err := store.Open(context.Background(), opts.DatabaseURL, store.Opts{Tracer: multitracer.New(tracers...)})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	registry.MustRegister(metrics.NewPoolCollector(s.Pool().Stat))
	if opts.RateLimits.Metrics == nil {
		opts.RateLimits.Metrics = ratelimit.NewMetrics(registry)
	}
	sockets := httpapi.NewSockets()
	metrics.NewWebsockets(registry, sockets.Active)
	loaderOpts := opts.Loaders
	if loaderOpts.ObserveBatch == nil {
		loaderOpts.ObserveBatch = metrics.NewLoaders(registry).ObserveBatch
	}
	if opts.Events == nil {
		opts.Events = events.NewBus(events.BusOpts{Observer: metrics.NewEvents(registry)})
		t.Cleanup(func() { _ = opts.Events.Close() })
	}
	signer := opts.Signer
	if signer == nil {
		signer, err = auth.GenerateSigner()
		require.NoError(t, err)
	}
	if opts.RateLimits.Tiers.MaxQueryCost == 0 {
		opts.RateLimits.Tiers = unlimited()
	}
	verifier, err := auth.NewVerifier(context.Background(), auth.VerifierOpts{
		Issuer: auth.DevIssuer, Audience: auth.DevAudience, KeySet: signer.KeySet()})
	require.NoError(t, err)
	var logs io.Writer = testWriter{t}
	// Warnings and errors only, unless the test reads the logs: an access line per request at
	// info would fill every test's log, and cost benchmarks a t.Log per request.
	level := slog.LevelWarn
	if opts.Log != nil {
		logs, level = io.MultiWriter(logs, opts.Log), slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	// The audit trail as serve wires it: entries know their request, security events aggregate.
	s.SetAuditOrigin(audit.Origin)
	securityEvents := audit.NewSecurityEvents(s, audit.SecurityEventsOpts{Logger: logger, Registerer: registry})
	credentials := auth.Credentials{JWT: verifier, APIKey: auth.APIKeys(s), APIKeyPrefix: store.APIKeyPrefix,
		APIKeyWellFormed: store.APIKeyWellFormed, Accounts: auth.NewAccounts(s, auth.AccountsOpts{TTL: opts.AccountTTL,
			Inactive: securityEvents.InactiveAccount})}
	bucketURL, err := blobs.FileURL(t.TempDir())
	require.NoError(t, err)
	if opts.BlobSigningKey == nil {
		opts.BlobSigningKey = make([]byte, blobs.MinSigningKeyBytes)
		_, err = rand.Read(opts.BlobSigningKey)
		require.NoError(t, err)
	}
	bucket, err := blobs.Open(context.Background(), blobs.Opts{URL: bucketURL, SigningKey: opts.BlobSigningKey})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bucket.Close() })
	if opts.BlobURLs == nil && opts.SignBlobURLs {
		opts.BlobURLs = bucket
	}
	if opts.MaxUploadBytes == 0 {
		opts.MaxUploadBytes = config.DefaultMaxUploadBytes
	}
	if opts.MaxUploadPixels == 0 {
		opts.MaxUploadPixels = config.DefaultMaxUploadPixels
	}
	if opts.Publisher == nil {
		opts.Publisher = opts.Events
	}
	jobOpts := jobs.Opts{Logger: logger, TestOnly: true}
	if opts.JobWorkers == nil {
		deps := jobs.Deps{Screenshots: jobs.ScreenshotPipeline{Store: s, Blobs: bucket, Publisher: opts.Publisher,
			Logger: logger, MaxBytes: opts.MaxUploadBytes, MaxPixels: opts.MaxUploadPixels}}
		opts.JobWorkers = jobs.NewWorkers(deps)
		if opts.ProcessJobs {
			jobOpts.Workers = 2
			jobOpts.FetchCooldown, jobOpts.FetchPollInterval = 10*time.Millisecond, 100*time.Millisecond
		}
	}
	jobClient, err := jobs.New(s, opts.JobWorkers, jobOpts)
	require.NoError(t, err)
	require.NoError(t, jobClient.Start(context.Background()))
	t.Cleanup(func() { _ = jobClient.Shutdown(context.Background()) })
	// Deleting a time entry enqueues the deletion of its screenshots, as in serve.
	s.SetScreenshotCleanup(jobs.ScreenshotCleanup{Jobs: jobClient})
	uploads := screenshots.New(s, bucket, jobClient, screenshots.Opts{MaxBytes: opts.MaxUploadBytes,
		MaxPixels: opts.MaxUploadPixels, Logger: logger, Publisher: opts.Publisher})
	masterKey := make([]byte, pii.MasterKeyBytes)
	_, err = rand.Read(masterKey)
	require.NoError(t, err)
	keyring, err := pii.NewKeyring(masterKey, s, opts.Keyring)
	require.NoError(t, err)
	if loaderOpts.CachedLastFours == nil {
		loaderOpts.CachedLastFours = keyring.CachedLastFours
	}
	var cipher resolvers.PIICipher = keyring
	if opts.WrapPII != nil {
		cipher = opts.WrapPII(keyring)
	}
	serverOpts := httpapi.Opts{
		GraphQL: graph.ServerOpts{
			Resolvers: resolvers.New(s, resolvers.Deps{BlobURLs: opts.BlobURLs, Events: opts.Events, Uploads: uploads,
				Scopes: policy.Scopes{Org: s}, ReachRefresh: opts.ReachRefresh, PII: cipher,
				Operations: persisted.Registrar{Store: s, Schema: graph.NewExecutableSchema(graph.Config{}).Schema()}}),
			Persisted:  persisted.New(persisted.Opts{Store: s, Cache: opts.APQCache, RegisteredOnly: opts.RegisteredOnly, Logger: logger}),
			HTTPCache:  s,
			Reader:     s,
			Org:        s,
			Loaders:    loaderOpts,
			FieldSpans: opts.FieldSpans,
			Extensions: []graphql.HandlerExtension{metrics.NewGraphQL(registry), audit.Extension{Events: securityEvents}},
		},
		TracerProvider: opts.TracerProvider,
		Verifier:       credentials,
		Logger:         logger,
		Introspection:  !opts.NoIntrospection,
		AllowedOrigins: opts.AllowedOrigins,
		Ready:          s.Ping,
		RateLimits:     opts.RateLimits,
		Websockets:     opts.Websockets,
		Sockets:        sockets,
		AuthFailures:   metrics.NewAuth(registry),
		Subscriptions:  opts.Subscriptions,
		MaxUploadBytes: opts.MaxUploadBytes,
		Blobs:          bucket,
		Exports:        s,
	}
	if opts.AccountTTL > 0 && serverOpts.Websockets.AccountRecheck == 0 {
		// Open sockets are rechecked as often as the account answer is trusted.
		serverOpts.Websockets.AccountRecheck = opts.AccountTTL
	}
	handler := metrics.NewHTTP(registry).Handler(httpapi.NewHandler(serverOpts))
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	srv.Start()
	t.Cleanup(srv.Close)
	return &Server{Store: s, DatabaseURL: opts.DatabaseURL, Statements: counter, Signer: signer, URL: srv.URL, Opts: serverOpts,
		Handler: handler, Registry: registry, Sockets: sockets, Events: opts.Events, Bucket: bucket, Jobs: jobClient, Keyring: keyring,
		SecurityEvents: securityEvents, t: t}
}

func unlimited() ratelimit.Tiers {
	t := ratelimit.DefaultTiers()
	huge := ratelimit.PerSecond(1<<30, 1<<29)
	for role := range t.ByRole {
		t.ByRole[role] = huge
	}
	t.Default, t.MaxQueryCost = huge, 1<<30
	return t
}

// Token mints a valid token for an employee of a tenant.
func (s *Server) Token(tenantID, employeeID uuid.UUID, roles ...string) string {
	s.t.Helper()
	return s.mint(tenantID, employeeID, roles, false)
}

// MFAToken is Token with a second factor (amr "mfa"), for the operations that ask for one.
func (s *Server) MFAToken(tenantID, employeeID uuid.UUID, roles ...string) string {
	s.t.Helper()
	return s.mint(tenantID, employeeID, roles, true)
}

func (s *Server) mint(tenantID, employeeID uuid.UUID, roles []string, mfa bool) string {
	tok, err := s.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: tenantID, EmployeeID: employeeID, Roles: roles, MFA: mfa, TTL: time.Hour})
	require.NoError(s.t, err)
	return tok
}

// Response is a GraphQL response.
type Response struct {
	Status     int
	Data       json.RawMessage `json:"data"`
	Errors     []Error         `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string { c, _ := e.Extensions["code"].(string); return c }

// Do posts a GraphQL request with token (none when ""). A BI key's query is registered for its
// tenant and sent by id, as BI keys must (registeredForBI).
func (s *Server) Do(token, query string, vars map[string]any) Response {
	s.t.Helper()
	request := map[string]any{"query": query, "variables": vars}
	if ext, ok := s.registeredForBI(token, query); ok {
		request = map[string]any{"extensions": ext, "variables": vars}
	}
	body, err := json.Marshal(request)
	require.NoError(s.t, err)
	req, err := http.NewRequest(http.MethodPost, s.URL+"/query", bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	return Decode(s.t, resp)
}

// Decode reads a GraphQL response from an HTTP response.
func Decode(t testing.TB, resp *http.Response) Response {
	t.Helper()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := Response{Status: resp.StatusCode}
	require.NoError(t, json.Unmarshal(raw, &out), "response body: %s", raw)
	return out
}

// MustData posts a request that must succeed and decodes its data into v.
func (s *Server) MustData(token, query string, vars map[string]any, v any) {
	s.t.Helper()
	r := s.Do(token, query, vars)
	require.Equal(s.t, http.StatusOK, r.Status)
	require.Empty(s.t, r.Errors, "query: %s", query)
	require.NoError(s.t, json.Unmarshal(r.Data, v))
}

// Fixture is a tenant with an admin to act as.
type Fixture struct {
	Tenant *store.Tenant
	Scope  store.Scope
	Admin  *store.Employee
	Token  string
}

// NewTenant creates a tenant with one ADMIN employee and a token for them.
func (s *Server) NewTenant(slug string) Fixture {
	s.t.Helper()
	ctx := context.Background()
	tenant, err := s.Store.CreateTenant(ctx, slug, slug+" Inc.")
	require.NoError(s.t, err)
	scope := store.Scope{TenantID: tenant.ID}
	admin, err := s.Store.CreateEmployee(ctx, scope, store.EmployeeParams{
		Name: Ptr("Admin of " + slug), Email: Ptr("admin@" + slug + ".example"), Role: Ptr(store.RoleAdmin)})
	require.NoError(s.t, err)
	scope.ActorID = admin.ID
	return Fixture{Tenant: tenant, Scope: scope, Admin: admin, Token: s.Token(tenant.ID, admin.ID, store.RoleAdmin)}
}

// Ptr returns a pointer to v (test fixtures).
func Ptr[T any](v T) *T { return &v }

// testWriter sends server logs to the test's log, shown when the test fails.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// LogBuffer collects a server's log lines (Opts.Log), written from its goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
