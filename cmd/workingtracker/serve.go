package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/audit"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/config"
	"github.com/workingtracker/api/internal/cost"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/health"
	"github.com/workingtracker/api/internal/metrics"
	"github.com/workingtracker/api/internal/persisted"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/screenshots"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/internal/telemetry"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/migrations"
	"github.com/workingtracker/api/resolvers"
	"github.com/workingtracker/api/store"
)

func serve(ctx context.Context, e *env, logger *slog.Logger, stdout io.Writer, _ []string) error {
	if !e.cfg.Development() && !e.cfg.TrustedProxyHopsSet {
		// Behind a load balancer, 0 would make every client one address sharing one
		// failed-authentication budget; directly exposed, a guess would trust spoofed headers.
		return errors.New("TRUSTED_PROXY_HOPS is required in production: the number of proxies in front " +
			"of the server that append to X-Forwarded-For (0 when clients connect directly)")
	}
	e.cfg.ApplyRuntime()
	telemetry.RouteLibraryLogs(logger)
	tracing, err := telemetry.New(ctx, e.cfg.Tracing)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(flushCtx); err != nil {
			logger.Warn("flush traces", "err", err)
		}
	}()
	tp := tracing.Provider // nil when tracing is off: nothing is instrumented
	// One registry, passed to every subsystem that exports metrics (README, Metrics).
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tracers := []pgx.QueryTracer{metrics.NewStatements(registry)}
	if tp != nil {
		tracers = append(tracers, telemetry.PGXTracer(tp))
	}
	s, err := e.openStore(ctx, store.Opts{StatementTimeout: 30 * time.Second, Tracer: &multitracer.Tracer{QueryTracers: tracers}})
	if err != nil {
		return err
	}
	defer s.Close()
	// Personal data's keys: production refuses to start without PII_MASTER_KEY.
	keyring, err := e.openKeyring(s)
	if err != nil {
		return err
	}
	registry.MustRegister(metrics.NewPoolCollector(s.Pool().Stat))
	seeded := false
	if e.cfg.Development() {
		// Development starts from nothing: schema, then demo data if the database is empty.
		if _, err := migrateUp(ctx, s); err != nil {
			return err
		}
		res, ok, err := seed.RunWithPII(ctx, s.Pool(), seed.Scales["small"], time.Now(), keyring)
		if err != nil {
			return err
		}
		if seeded = ok; seeded {
			logger.Info("seeded demo data", "employees", res.Employees, "time_entries", res.TimeEntries)
		}
	}
	// Row-level security is the second line of tenant isolation; a role that bypasses it, or owns
	// the tables and may turn it off, would remove that line without a word. Development's
	// private cluster connects as its superuser.
	if !e.cfg.Development() {
		if err := checkServingRole(ctx, s); err != nil {
			return err
		}
	}
	// Partitions before serving, so a fresh database takes writes at once; afterwards the
	// leader's periodic job keeps them ahead.
	partitions := jobs.PartitionMaintenance{Store: s, Logger: logger, Observer: metrics.NewPartitions(registry)}
	if err := partitions.RunOnce(ctx); err != nil {
		return err
	}
	verifier, err := e.verifier(ctx)
	if err != nil {
		return err
	}
	bucket, err := e.openBlobs(ctx)
	if err != nil {
		return err
	}
	defer bucket.Close()
	if seeded {
		shots, err := seed.Screenshots(ctx, s.Pool(), bucket)
		if err != nil {
			return err
		}
		logger.Info("seeded demo screenshots", "screenshots", shots)
	}
	migrator, err := store.NewMigrator(s.DB(), migrations.FS)
	if err != nil {
		return err
	}
	// Ready while the database answers and its schema is at this binary's version (asked at
	// most every 10 s), Redis answers when configured, and until shutdown begins.
	ready := []func(context.Context) error{s.Ping, health.Cached(health.Migrations(migrator.Pending), 10*time.Second, nil)}
	rateMetrics := ratelimit.NewMetrics(registry)
	redisMetrics := metrics.NewRedis(registry)
	var limiter, ipLimiter ratelimit.Limiter = ratelimit.NewLocal(100_000), ratelimit.NewLocal(100_000)
	busOpts := events.BusOpts{Logger: logger, Observer: metrics.NewEvents(registry)}
	rdb, err := e.openRedis(redisMetrics, tp)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
		ready = append(ready, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
		shared := ratelimit.NewRedis(rdb)
		limiter = &ratelimit.Failover{Shared: shared, Local: limiter, Logger: logger, Metrics: rateMetrics}
		ipLimiter = &ratelimit.Failover{Shared: shared, Local: ipLimiter, Logger: logger, Metrics: rateMetrics}
		busOpts.Redis = rdb // screenshot events reach every instance's subscribers
	}
	// Automatic persisted queries are shared through Redis when it is configured.
	var apqCache persisted.Cache = persisted.NewLocalCache(0, e.cfg.Persisted.APQCacheTTL)
	if rdb != nil {
		apqCache = persisted.NewRedisCache(rdb, e.cfg.Persisted.APQCacheTTL)
	}
	if e.cfg.Persisted.TrustedDocuments == config.TrustedDocumentsOnly && e.cfg.Development() {
		logger.Warn("TRUSTED_DOCUMENTS=only is not enforced in development (the playground sends any query); BI keys still run registered operations only")
	}
	bus := events.NewBus(busOpts)
	defer bus.Close()
	// Jobs are worked in process unless WORKERS=0 (then `workingtracker worker` works them);
	// the client enqueues either way.
	jobClient, err := newJobs(e, s, bucket, bus, keyring, logger, jobs.NewMetrics(registry), e.cfg.Workers, tp)
	if err != nil {
		return err
	}
	// Deleting a time entry enqueues the deletion of its screenshots and their blobs.
	s.SetScreenshotCleanup(jobs.ScreenshotCleanup{Jobs: jobClient})
	metrics.NewJobQueue(registry, s, logger, jobs.Kinds()...)
	// The audit trail: entries know their actor and request; security events are aggregated
	// and flushed every minute, and once more on the way out (this defer runs before s closes).
	s.SetAuditOrigin(audit.Origin)
	securityEvents := audit.NewSecurityEvents(s, audit.SecurityEventsOpts{Logger: logger, Registerer: registry})
	eventsCtx, stopEvents := context.WithCancel(context.WithoutCancel(ctx))
	eventsDone := make(chan struct{})
	go func() { securityEvents.Run(eventsCtx); close(eventsDone) }()
	defer func() { stopEvents(); <-eventsDone }()
	// A terminated employee's tokens stop working within auth.DefaultAccountTTL.
	credentials := auth.Credentials{JWT: verifier, APIKey: auth.APIKeys(s), APIKeyPrefix: store.APIKeyPrefix,
		APIKeyWellFormed: store.APIKeyWellFormed, Accounts: auth.NewAccounts(s, auth.AccountsOpts{Inactive: securityEvents.InactiveAccount})}
	readiness := health.NewReadiness(ready...)
	sockets := httpapi.NewSockets()
	metrics.NewWebsockets(registry, sockets.Active)
	handler := httpapi.NewHandler(httpapi.Opts{
		GraphQL: graph.ServerOpts{
			Resolvers: resolvers.New(s, resolvers.Deps{
				BlobURLs: bucket,
				Events:   bus,
				Scopes:   policy.Scopes{Org: s},
				PII:      keyring,
				Uploads: screenshots.New(s, bucket, jobClient, screenshots.Opts{MaxBytes: e.cfg.Blobs.MaxUploadBytes,
					MaxPixels: e.cfg.Blobs.MaxUploadPixels, Logger: logger, Publisher: bus}),
				Operations: persisted.Registrar{Store: s, Schema: graph.NewExecutableSchema(graph.Config{}).Schema()},
			}),
			Persisted: persisted.New(persisted.Opts{Store: s, Cache: apqCache, RegisteredOnly: e.cfg.RegisteredOnly(), Logger: logger}),
			HTTPCache: s, // ETag and 304 for persisted GETs of reports
			Reader:    s,
			Org:       s,
			Loaders: loaders.Opts{Quiet: e.cfg.LoaderWait, ObserveBatch: metrics.NewLoaders(registry).ObserveBatch,
				CachedLastFours: keyring.CachedLastFours},
			DocumentLimits: cost.DocumentLimits{MaxDepth: e.cfg.MaxQueryDepth},
			Extensions:     []graphql.HandlerExtension{metrics.NewGraphQL(registry), audit.Extension{Events: securityEvents}},
			FieldSpans:     tracing.FieldSpans,
		},
		TracerProvider: tp,
		Verifier:       credentials,
		Logger:         logger,
		Development:    e.cfg.Development(),
		Introspection:  e.cfg.Introspection,
		AllowedOrigins: e.cfg.AllowedOrigins,
		Ready:          readiness.Check,
		RateLimits: httpapi.RateLimits{Limiter: limiter, IPLimiter: ipLimiter, Tiers: e.cfg.RateTiers, Metrics: rateMetrics,
			TrustedProxyHops: e.cfg.TrustedProxyHops},
		Websockets: auth.WebsocketLimits{InitTimeout: e.cfg.WebsocketInitTimeout, MaxPending: e.cfg.WebsocketMaxPending,
			MaxPendingPerClient: e.cfg.WebsocketMaxPendingPerClient},
		Sockets:      sockets,
		AuthFailures: metrics.NewAuth(registry),
		Subscriptions: httpapi.SubscriptionLimits{MaxConnections: e.cfg.WebsocketMaxPerPrincipal,
			MaxSubscriptions: e.cfg.MaxSubscriptionsPerPrincipal},
		MaxUploadBytes: e.cfg.Blobs.MaxUploadBytes,
		Blobs:          bucket,
		Exports:        s,
	})
	ln, err := net.Listen("tcp", e.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.cfg.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           metrics.NewHTTP(registry).Handler(handler),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	closeMetrics, err := serveMetrics(e, registry, stdout)
	if err != nil {
		return err
	}
	defer closeMetrics()
	if err := jobClient.Start(ctx); err != nil {
		return err
	}
	stopWorkers := sync.OnceValue(func() error { return jobClient.Shutdown(context.Background()) })
	defer stopWorkers() //nolint:errcheck // the error path's own error is the one to report

	base := "http://" + displayAddr(ln.Addr())
	if e.cfg.Development() {
		printDevTokens(ctx, e, s, stdout, base)
	}
	fmt.Fprintf(stdout, "listening on %s (GraphQL at %s/query)\n", base, base)
	logger.Info("serving", "addr", ln.Addr().String(), "env", e.cfg.Env)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return shutdown(logger, srv, readiness, sockets, e.cfg.ShutdownDrain, stopWorkers)
}

// shutdownTimeout bounds a shutdown after the drain: requests in flight and websockets get this
// long to finish. With the default drain, 20 s in all, inside Kubernetes' default 30 s grace.
const shutdownTimeout = 15 * time.Second

// shutdown stops serving in the order load balancers and clients need: readiness fails first,
// requests keep being served for the drain period (the balancer notices and stops sending),
// then the listener closes and requests in flight finish while every websocket is closed with
// 1001 (going away: its client reconnects to another instance) and running jobs get
// WORKER_SHUTDOWN_TIMEOUT to finish before they are cancelled and returned to the queue.
func shutdown(logger *slog.Logger, srv *http.Server, readiness *health.Readiness, sockets *httpapi.Sockets,
	drain time.Duration, stopWorkers func() error,
) error {
	readiness.Drain()
	logger.Info("shutting down: readiness fails, draining", "drain", drain.String())
	time.Sleep(drain)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	socketsClosed := make(chan error, 1)
	go func() { socketsClosed <- sockets.Close(ctx) }()
	workersStopped := make(chan error, 1)
	go func() { workersStopped <- stopWorkers() }()
	err := srv.Shutdown(ctx)
	if sockErr := <-socketsClosed; sockErr != nil {
		logger.Warn("websockets still open at the shutdown deadline", "open", sockets.Active())
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		err = fmt.Errorf("shutdown: %w", err)
	} else {
		err = nil
	}
	err = errors.Join(err, <-workersStopped)
	if err == nil {
		logger.Info("stopped")
	}
	return err
}

// serveMetrics serves registry on METRICS_ADDR, unless it is off.
func serveMetrics(e *env, registry *prometheus.Registry, stdout io.Writer) (func(), error) {
	if e.cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	metricsLn, err := net.Listen("tcp", e.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on METRICS_ADDR %s: %w", e.cfg.MetricsAddr, err)
	}
	metricsSrv := &http.Server{Handler: promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
		ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() { _ = metricsSrv.Serve(metricsLn) }()
	fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", displayAddr(metricsLn.Addr()))
	return func() { _ = metricsSrv.Close() }, nil
}

// checkServingRole refuses a database role that row-level security does not fully bind.
func checkServingRole(ctx context.Context, s *store.Store) error {
	role, err := s.CheckRole(ctx)
	if err != nil {
		return err
	}
	const deploy = "run `migrate up` as the schema's owner and serve as an ordinary role granted SELECT, INSERT, UPDATE, DELETE " +
		"on the tables and EXECUTE on the functions (README, Deploying)"
	switch {
	case role.BypassesRowSecurity:
		return fmt.Errorf("the database role %q is a superuser or bypasses row-level security: %s", role.Role, deploy)
	case len(role.OwnedTenantTables) > 0:
		return fmt.Errorf("the database role %q owns tenant tables (%s) and could turn their row-level security off: %s",
			role.Role, strings.Join(role.OwnedTenantTables, ", "), deploy)
	case len(role.UnprotectedTenantTables) > 0:
		return fmt.Errorf("tenant tables without enabled and forced row-level security (%s): every tenant table needs both, "+
			"as the migrations give them", strings.Join(role.UnprotectedTenantTables, ", "))
	}
	return nil
}

func printDevTokens(ctx context.Context, e *env, s *store.Store, stdout io.Writer, base string) {
	fmt.Fprintf(stdout, "development tokens for tenant %q, valid 8h (more with `APP_ENV=development %s token --help`):\n",
		seed.DemoTenant, os.Args[0])
	for _, role := range []string{store.RoleAdmin, store.RoleHR, store.RoleManager, store.RoleEmployee, store.RoleAuditor} {
		tok, err := mintWith(ctx, s, e.devSignerPath(), seed.DemoTenant, role, "", false, 8*time.Hour)
		if err != nil {
			fmt.Fprintf(stdout, "  %-8s (none: %v)\n", role, err)
			continue
		}
		fmt.Fprintf(stdout, "  %-8s %s\n", role, tok)
	}
	fmt.Fprintf(stdout, "playground: %s/  (append #token=<token> to pre-fill the Authorization header)\n", base)
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
		return a.String()
	}
	return a.String()
}
