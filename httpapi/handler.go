package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/audit"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/blobs"
	"github.com/workingtracker/api/internal/cost"
	"github.com/workingtracker/api/internal/playground"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/internal/telemetry"
)

// Opts assembles the HTTP surface of the API.
type Opts struct {
	// GraphQL assembles the gqlgen server (schema, resolvers, loaders, limits); its Logger,
	// Development, Introspection and Budgets are filled from these options.
	GraphQL  graph.ServerOpts
	Verifier auth.TokenVerifier
	Logger   *slog.Logger
	// Development enables the playground (and "Did you mean …?" hints).
	Development bool
	// Introspection answers __schema and _service queries (federation composition, playground).
	Introspection bool
	// AllowedOrigins may call /query from a browser (CORS); none by default, and none means none.
	AllowedOrigins []string
	// Ready reports whether dependencies answer (readiness probe).
	Ready func(ctx context.Context) error
	// RateLimits are the query-cost budgets and the failed-authentication budgets; the zero
	// value keeps default tiers in process.
	RateLimits RateLimits
	// Websockets bound sockets waiting for connection_init; zero fields take the defaults.
	Websockets auth.WebsocketLimits
	// TracerProvider, when set, traces requests (continuing an incoming traceparent) and is
	// GraphQL's too unless that has its own; nil: no spans (an incoming traceparent's trace id
	// is still logged).
	TracerProvider trace.TracerProvider
	// Sockets, when set, tracks the open websockets so that shutdown closes them (going away);
	// without it they end only when their clients leave.
	Sockets *Sockets
	// AuthFailures counts refused authentications by reason (nil: not counted).
	AuthFailures auth.FailureCounter
	// Subscriptions cap each principal's websockets and subscriptions (per instance); zero
	// fields take the defaults.
	Subscriptions SubscriptionLimits
	// MaxUploadBytes bounds the files of a multipart request (MAX_UPLOAD_BYTES; default
	// DefaultMaxUploadBytes); its body may be that plus 1 MiB for the other parts.
	MaxUploadBytes int64
	// Blobs, when set, serves signed blob URLs at /blobs/ (a file:// bucket's screenshots).
	Blobs SignedBlobs
	// Exports, when set, streams reports at /export/ (productivity.csv, productivity.jsonl),
	// authenticated, scoped and budgeted like /query.
	Exports ReportExports
}

// RateLimits configures what requests may spend.
type RateLimits struct {
	// Limiter keeps the query-cost budgets (ratelimit.Failover over Redis, or ratelimit.Local).
	Limiter ratelimit.Limiter
	// IPLimiter keeps the per-address budgets for failed authentications, apart from Limiter's
	// so a flood of addresses cannot evict people's in-process budgets.
	IPLimiter ratelimit.Limiter
	Tiers     ratelimit.Tiers
	Metrics   *ratelimit.Metrics
	// TrustedProxyHops is how many proxies in front of the server append to X-Forwarded-For;
	// the client address is the one they saw. 0: the connection's peer is the client.
	TrustedProxyHops int
}

// WithDefaults fills what the options leave out.
func (opts Opts) WithDefaults() Opts {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Ready == nil {
		opts.Ready = func(context.Context) error { return nil }
	}
	g := &opts.GraphQL
	g.Logger, g.Development, g.Introspection = opts.Logger, opts.Development, opts.Introspection
	if g.TracerProvider == nil {
		g.TracerProvider = opts.TracerProvider
	}
	g.Budgets = cost.Budgets{Limiter: opts.RateLimits.Limiter, Tiers: opts.RateLimits.Tiers, Metrics: opts.RateLimits.Metrics}
	*g = g.WithDefaults()
	// The budgets' defaults, filled once, are the rate limits' too.
	opts.RateLimits.Limiter, opts.RateLimits.Tiers, opts.RateLimits.Metrics = g.Budgets.Limiter, g.Budgets.Tiers, g.Budgets.Metrics
	if opts.RateLimits.IPLimiter == nil {
		opts.RateLimits.IPLimiter = ratelimit.NewLocal(100_000)
	}
	opts.Websockets = opts.Websockets.WithDefaults()
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	return opts
}

// NewHandler serves /query (POST, GET, websocket), the playground at / (development), /healthz
// (liveness) and /readyz (readiness). Everything but the health checks needs credentials.
func NewHandler(opts Opts) http.Handler {
	opts = opts.WithDefaults()
	return newHandler(opts, graph.NewServer(opts.GraphQL))
}

// NewGraphQLServer is the gqlgen server NewHandler serves, with its transports but none of the
// chain in front: it expects the principal in the request context. For tests and benchmarks
// that install field middleware or time the GraphQL side alone.
func NewGraphQLServer(opts Opts) *handler.Server {
	opts = opts.WithDefaults()
	gql := graph.NewServer(opts.GraphQL)
	addTransports(gql, opts, newGuard(opts))
	return gql
}

func newGuard(opts Opts) *auth.AddressGuard {
	rl := opts.RateLimits
	return auth.NewAddressGuard(rl.IPLimiter, rl.Tiers.Unauthenticated, rl.Metrics, opts.AuthFailures)
}

func newHandler(opts Opts, gql *handler.Server) http.Handler {
	rl := opts.RateLimits
	guard := newGuard(opts)
	addTransports(gql, opts, guard)
	pending := auth.NewPendingSockets(opts.Websockets, guard)

	var api http.Handler = gql
	if opts.Sockets != nil {
		api = opts.Sockets.track(api)
	}
	mux := http.NewServeMux()
	limits := bodyLimits{json: maxRequestBytes, multipart: opts.MaxUploadBytes + uploadAllowance}
	mux.Handle("/query", apiHeaders(crossOrigin(opts.AllowedOrigins)(limitBody(limits, upgrades(websocketOrigins(opts.AllowedOrigins,
		authenticate(opts.Verifier, guard, opts.Logger, pendingSockets(pending, api))))))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		setAPIHeaders(w.Header())
		writeBody(w, mediaJSON, http.StatusOK, []byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		setAPIHeaders(w.Header())
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := opts.Ready(ctx); err != nil {
			opts.Logger.WarnContext(ctx, "not ready", "err", err)
			writeBody(w, mediaJSON, http.StatusServiceUnavailable, []byte(`{"status":"unavailable"}`))
			return
		}
		writeBody(w, mediaJSON, http.StatusOK, []byte(`{"status":"ok"}`))
	})
	if opts.Blobs != nil {
		mux.Handle(blobs.SignedPath, serveBlobs(opts.Blobs, opts.Logger))
	}
	if opts.Exports != nil {
		mux.Handle("/export/", apiHeaders(crossOrigin(opts.AllowedOrigins)(authenticate(opts.Verifier, guard, opts.Logger,
			serveExports(opts.Exports, opts.GraphQL.Org, opts.GraphQL.Budgets, opts.Logger)))))
	}
	if opts.Development {
		mux.Handle("/", playground.Handler(playground.Opts{
			Title:                "Working Tracker API",
			Endpoint:             "/query",
			SubscriptionEndpoint: "/query",
			AssetsPrefix:         "/",
		}))
	}
	return telemetry.HTTPHandler(reqid.Middleware(accessLog(opts.Logger, recoverPanics(opts.Logger,
		withClientAddress(rl.TrustedProxyHops, opts.Logger, audit.UserAgentMiddleware(securityHeaders(mux)))))), opts.TracerProvider)
}

// addTransports gives the gqlgen server its transports: websockets (graphql-transport-ws and
// graphql-ws, authenticated at connection_init), Server-Sent Events, OPTIONS, multipart uploads
// and GraphQL over HTTP; and the per-principal caps of websockets and subscriptions.
func addTransports(gql *handler.Server, opts Opts, guard auth.FailureGuard) {
	initConnection := auth.WebsocketInit(opts.Verifier, guard, opts.Websockets.AccountRecheck)
	caps := newPrincipalCaps(opts.Subscriptions)
	gql.AroundOperations(caps.aroundOperations)
	// The library checks Origin too (same host, or the CORS allowlist) after websocketOrigins.
	var sockets transport.WebsocketImplementation = transport.CoderWebsocketImplementation{
		AcceptOptions: websocket.AcceptOptions{OriginPatterns: opts.AllowedOrigins}}
	if opts.Sockets != nil {
		sockets = goingAwayWebsockets{inner: sockets, goingAway: opts.Sockets.goingAway}
	}
	initWebsocket := func(ctx context.Context, payload map[string]any) (context.Context, error) {
		ctx, err := initConnection(ctx, payload)
		if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
			id := reqid.From(ctx)
			opts.Logger.ErrorContext(ctx, "websocket authentication could not be checked", "err", err, "request_id", id)
			return ctx, fmt.Errorf("the service cannot check credentials right now; retry shortly (request id %s)", id)
		}
		if err != nil {
			return ctx, err
		}
		return caps.admitConnection(ctx)
	}
	// graphql-transport-ws: a transport of our own, for the memory of an open connection.
	gql.AddTransport(transportWS{origins: opts.AllowedOrigins, initTimeout: opts.Websockets.InitTimeout,
		init: initWebsocket, sockets: opts.Sockets, logger: opts.Logger})
	// graphql-ws (legacy), and upgrades that name no subprotocol.
	gql.AddTransport(transport.Websocket{
		Implementation:        sockets,
		KeepAlivePingInterval: 10 * time.Second,
		InitTimeout:           opts.Websockets.InitTimeout,
		// The acknowledgement carries no payload: connection_init's holds the token, and
		// nothing of it is echoed back.
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx, err := initWebsocket(ctx, payload)
			return ctx, nil, err
		},
		// Read and write failures are a client going away, not the server's fault.
		ErrorFunc: func(ctx context.Context, err error) {
			opts.Logger.DebugContext(ctx, "websocket", "err", err, "request_id", reqid.From(ctx))
		},
	})
	gql.AddTransport(transport.Options{})
	// Before graphqlHTTP, which takes every other request.
	gql.AddTransport(sseTransport{inner: transport.SSE{KeepAlivePingInterval: 10 * time.Second}, watch: initConnection, caps: caps})
	gql.AddTransport(multipartHTTP{})
	gql.AddTransport(graphqlHTTP{})
}
