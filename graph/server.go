package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/lists"
	"github.com/workingtracker/api/internal/playground"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/loaders"
)

// ServerOpts assembles the HTTP surface of the API.
type ServerOpts struct {
	Resolvers ResolverRoot
	// Reader backs the per-request loaders.
	Reader loaders.Reader
	// Org answers row-level questions (a manager's reporting line).
	Org      Org
	Loaders  loaders.Opts
	Verifier auth.TokenVerifier
	Logger   *slog.Logger
	// Development enables the playground.
	Development bool
	// Introspection answers __schema and _service queries (federation composition, playground).
	Introspection bool
	// AllowedOrigins may call /query from a browser (CORS); none by default.
	AllowedOrigins []string
	// Ready reports whether dependencies answer (readiness probe).
	Ready func(ctx context.Context) error
	// RateLimits are the query-cost budgets; the zero value keeps default tiers in process.
	RateLimits RateLimits
	// DocumentLimits bound documents before validation; zero fields take DefaultDocumentLimits'.
	DocumentLimits DocumentLimits
	// Websockets bound sockets waiting for connection_init; zero fields take
	// DefaultWebsocketLimits'.
	Websockets WebsocketLimits
}

// withDefaults fills what the options leave out.
func (opts ServerOpts) withDefaults() ServerOpts {
	rl := &opts.RateLimits
	if rl.Limiter == nil {
		rl.Limiter = ratelimit.NewLocal(100_000)
	}
	if rl.IPLimiter == nil {
		rl.IPLimiter = ratelimit.NewLocal(100_000)
	}
	if rl.Tiers.MaxQueryCost == 0 {
		rl.Tiers = ratelimit.DefaultTiers()
	}
	if rl.Metrics == nil {
		rl.Metrics = ratelimit.NewMetrics(prometheus.NewRegistry()) // counted, not exported
	}
	if opts.Loaders.BeforeWait == nil {
		// The generated code runs list elements and resolver fields one after another
		// (internal/lists): a load about to wait starts the rest, so that they join its batch.
		opts.Loaders.BeforeWait = lists.BeforeWait
	}
	d, def := &opts.DocumentLimits, DefaultDocumentLimits()
	for _, f := range []struct {
		v   *int
		def int
	}{{&d.MaxTokens, def.MaxTokens}, {&d.MaxDepth, def.MaxDepth},
		{&d.MaxAliases, def.MaxAliases}, {&d.MaxRootFields, def.MaxRootFields},
		{&d.MaxDirectivesPerField, def.MaxDirectivesPerField}, {&d.MaxFields, def.MaxFields},
		{&d.MaxIntrospectionDepth, def.MaxIntrospectionDepth},
		{&opts.Websockets.MaxPending, DefaultWebsocketLimits().MaxPending},
		{&opts.Websockets.MaxPendingPerClient, DefaultWebsocketLimits().MaxPendingPerClient}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if opts.Websockets.InitTimeout <= 0 {
		opts.Websockets.InitTimeout = DefaultWebsocketLimits().InitTimeout
	}
	return opts
}

// NewHTTPHandler serves /query (POST, GET, websocket), the playground at / (development),
// /healthz (liveness) and /readyz (readiness). Everything but the health checks needs a token.
func NewHTTPHandler(opts ServerOpts) http.Handler {
	opts = opts.withDefaults()
	mux := http.NewServeMux()
	guard := newFailureGuard(opts.RateLimits)
	gql := newGraphQLHandler(opts, guard, true)
	corsPolicy := crossOrigin(opts.AllowedOrigins)
	pending := newPendingSockets(opts.Websockets, guard)
	mux.Handle("/query", apiHeaders(corsPolicy(limitBody(maxRequestBytes,
		auth.Middleware(opts.Verifier, guard, pending.gate(throttleStatus(gql)))))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		setAPIHeaders(w.Header())
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		setAPIHeaders(w.Header())
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := opts.Ready(ctx); err != nil {
			opts.Logger.WarnContext(ctx, "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if opts.Development {
		mux.Handle("/", playground.Handler(playground.Opts{
			Title:                "Working Tracker API",
			Endpoint:             "/query",
			SubscriptionEndpoint: "/query",
			AssetsPrefix:         "/",
		}))
	}
	return reqid.Middleware(accessLog(opts.Logger, recoverPanics(opts.Logger,
		withClientAddress(opts.RateLimits.TrustedProxyHops, opts.Logger, securityHeaders(mux)))))
}

// crossOrigin lets browsers from the allowed origins call the API; tokens travel in a header,
// never in cookies, so credentials are not allowed across origins. No origins means none:
// rs/cors reads an empty list as "every origin", so then no CORS headers are sent at all.
func crossOrigin(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", reqid.Header},
		ExposedHeaders: []string{reqid.Header},
		MaxAge:         600,
	}).Handler
}

// securityHeaders are sent with every response. The playground sends its own
// Content-Security-Policy; API responses get apiHeaders' stricter one.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// Browsers ignore it over plain HTTP; behind TLS it pins HTTPS for two years.
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		next.ServeHTTP(w, r)
	})
}

// apiHeaders marks JSON API responses as nothing a browser should render or frame.
func apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setAPIHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

func setAPIHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
}

// NewGraphQLHandler is the gqlgen server: transports, caches, extensions, error handling, and the
// per-operation loaders. It expects an authenticated principal in the request context (or, for
// websockets, authenticates the connection_init payload itself).
func NewGraphQLHandler(opts ServerOpts) *handler.Server {
	opts = opts.withDefaults()
	return newGraphQLHandler(opts, newFailureGuard(opts.RateLimits), true)
}

// newGraphQLHandler builds the server; unguarded leaves out the document limits and budgets,
// for the benchmark that prices them (BenchmarkSecurityChain).
func newGraphQLHandler(opts ServerOpts, guard auth.FailureGuard, guarded bool) *handler.Server {
	opts = opts.withDefaults()
	schema := NewExecutableSchema(Config{Resolvers: opts.Resolvers, Directives: Directives()})
	srv := handler.New(schema)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		InitFunc:              websocketAuth(opts.Verifier, guard),
		InitTimeout:           opts.Websockets.InitTimeout,
		// Read and write failures are a client going away, not the server's fault.
		ErrorFunc: func(ctx context.Context, err error) {
			opts.Logger.DebugContext(ctx, "websocket", "err", err, "request_id", reqid.From(ctx))
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(jsonPOST{}) // transport.POST, writing responses with less copying

	queries := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queries)
	// Documents are bounded before validation, whose work grows with them; the parser stops at
	// the token limit.
	srv.SetParserTokenLimit(opts.DocumentLimits.MaxTokens)
	if guarded {
		srv.Use(documentLimits{limits: opts.DocumentLimits, validated: queries, onRefuse: func(string) {
			opts.RateLimits.Metrics.Refusals.WithLabelValues("document").Inc()
		}})
	}
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(newIntrospectionRefusal())
	}
	// "Did you mean …?" hints map a schema that production keeps unintrospectable.
	srv.SetDisableSuggestion(!opts.Development)
	// The budget comes first: a refused operation costs nothing more (no request scope, which
	// may query the reporting line).
	if guarded {
		srv.AroundOperations(budgetGate{limits: opts.RateLimits, schema: schema, logger: opts.Logger}.aroundOperations)
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if p, ok := auth.PrincipalFrom(ctx); ok {
			scope, err := NewRequestScope(ctx, opts.Org, p)
			if err != nil {
				id := reqid.From(ctx)
				opts.Logger.ErrorContext(ctx, "request scope", "err", err, "request_id", id)
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{Message: "internal error",
					Extensions: map[string]any{"code": string(apperr.Internal), "requestId": id}}}})
			}
			ctx = WithRequestScope(ctx, scope)
			ctx = loaders.WithLoaders(ctx, loaders.New(opts.Reader, scope, opts.Loaders))
		}
		return next(ctx)
	})
	// Deny by default: a root field that declares no rule is refused, so a new field cannot be
	// exposed by forgetting one (the schema test catches it before it ships).
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if err := checkDeclaredRule(ctx, graphql.GetRootFieldContext(ctx)); err != nil {
			graphql.AddError(ctx, err)
			return graphql.Null
		}
		return next(ctx)
	})
	// Mutations run one after another and change what loaders would have cached: each gets
	// fresh loaders, so a later mutation's result never shows data from before an earlier one.
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if op := graphql.GetOperationContext(ctx); op.Operation != nil && op.Operation.Operation == ast.Mutation {
			if scope, ok := RequestScope(ctx); ok {
				ctx = loaders.WithLoaders(ctx, loaders.New(opts.Reader, scope, opts.Loaders))
			}
		}
		return next(ctx)
	})
	srv.SetErrorPresenter(errorPresenter(opts.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		opts.Logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v), "request_id", reqid.From(ctx),
			"stack", string(debug.Stack()))
		return errors.New("panic")
	})
	return srv
}

// errorPresenter shows clients the code and message of *apperr.Error, and keeps the parser's and
// validator's own codes; anything else is internal: logged in full, shown as "internal error"
// with the request id to quote.
func errorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var appErr *apperr.Error
		if errors.As(err, &appErr) {
			gqlErr.Message = appErr.Message
			gqlErr.Extensions = map[string]any{"code": string(appErr.Code)}
			for k, v := range appErr.Extensions {
				gqlErr.Extensions[k] = v
			}
			if appErr.Field != "" {
				gqlErr.Extensions["field"] = appErr.Field
			}
			return gqlErr
		}
		if len(gqlErr.Path) > 0 && gqlErr.Path[0] == ast.PathName("_entities") && isRepresentationError(err) {
			gqlErr.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
			return gqlErr
		}
		var own *gqlerror.Error
		if errors.As(err, &own) && own.Err == nil {
			// gqlgen's own words about the request (parse, validation, undecodable body): safe
			// to show, and the client's to fix.
			if code, _ := gqlErr.Extensions["code"].(string); code == "" {
				if gqlErr.Extensions == nil {
					gqlErr.Extensions = map[string]any{}
				}
				gqlErr.Extensions["code"] = codeBadRequest
			}
			return gqlErr
		}
		id := reqid.From(ctx)
		logger.ErrorContext(ctx, "internal error", "err", err, "request_id", id, "path", gqlErr.Path.String())
		return &gqlerror.Error{
			Message:    "internal error",
			Path:       gqlErr.Path,
			Locations:  gqlErr.Locations,
			Extensions: map[string]any{"code": string(apperr.Internal), "requestId": id},
		}
	}
}

// isRepresentationError reports the generated federation code's complaints about _entities
// representations (unknown __typename, missing key field): a gateway or client sent them, so
// they are bad input, not server faults. The generated code wraps only some in sentinels; the
// rest are recognised by their text, which TestFederation pins.
func isRepresentationError(err error) bool {
	if errors.Is(err, ErrUnknownType) || errors.Is(err, ErrTypeNotFound) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"unknown type: ", "undefined in schema", "__typename must be"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// codeBadRequest marks a request the server could not read as GraphQL at all.
const codeBadRequest = "BAD_REQUEST"

// websocketAuth authenticates a websocket's connection_init, through the same checks and
// failure guard as a request's header. The acknowledgement carries no payload: the init
// payload holds the token, and nothing is echoed back.
func websocketAuth(v auth.TokenVerifier, guard auth.FailureGuard) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		if p, ok := auth.PrincipalFrom(ctx); ok {
			return untilExpiry(ctx, p), nil, nil // authenticated by the upgrade request's header
		}
		initialised(ctx)
		header := payload.Authorization()
		if _, ok := auth.BearerToken(header); !ok {
			if t, isString := payload["authToken"].(string); isString && t != "" {
				header = "Bearer " + t
			}
		}
		p, err := auth.Authenticate(ctx, v, guard, header)
		if err != nil {
			refused := &auth.RefusedError{Message: "invalid or expired token"}
			errors.As(err, &refused)
			if refused.RetryAfter > 0 {
				return ctx, nil, fmt.Errorf("rate limited: too many failed authentications from this address; retry in %d s",
					auth.RetryAfterSeconds(refused.RetryAfter))
			}
			if header == "" {
				return ctx, nil, errors.New("unauthenticated: send {\"Authorization\": \"Bearer <token>\"} in connection_init")
			}
			return ctx, nil, errors.New("unauthenticated: " + refused.Message)
		}
		return untilExpiry(auth.WithPrincipal(ctx, p), p), nil, nil
	}
}

// untilExpiry ends a websocket connection when its token expires: a connection carries queries
// and mutations too, and must not outlive the credentials that opened it.
func untilExpiry(ctx context.Context, p *auth.Principal) context.Context {
	if p.ExpiresAt.IsZero() {
		return ctx
	}
	ctx, cancel := context.WithDeadline(ctx, p.ExpiresAt)
	context.AfterFunc(ctx, cancel) // releases the timer as soon as the connection ends
	return ctx
}

// maxRequestBytes bounds a GraphQL request body: documents and variables of real clients are a
// few kilobytes; anything near this is abuse.
const maxRequestBytes = 1 << 20

func limitBody(n int64, next http.Handler) http.Handler {
	tooLarge := func(w http.ResponseWriter) {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errors": []map[string]any{{
			"message":    fmt.Sprintf("request body too large: the limit is %d bytes", n),
			"extensions": map[string]any{"code": "REQUEST_TOO_LARGE"},
		}}})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			tooLarge(w)
			return
		}
		if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
			// Unannounced length (chunked): read up to the limit to tell a large body apart.
			body, err := io.ReadAll(io.LimitReader(r.Body, n+1))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []map[string]any{{
					"message": "could not read the request body", "extensions": map[string]any{"code": codeBadRequest},
				}}})
				return
			}
			if int64(len(body)) > n {
				tooLarge(w)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// WriteHeader passes the first status on and drops later ones: a refused websocket upgrade is
// answered by the websocket library and then again by gqlgen, and net/http would log the
// second as a superfluous call.
func (r *statusRecorder) WriteHeader(code int) {
	if r.wrote {
		return
	}
	r.wrote = true
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (websocket hijack, flush).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recoverPanics answers a panic outside gqlgen (whose own recover covers resolvers) with a
// bare 500 and logs it with the request id, instead of net/http's dropped connection and
// stack on stderr.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			id := reqid.From(r.Context())
			logger.ErrorContext(r.Context(), "panic in HTTP handler", "panic", fmt.Sprint(v), "request_id", id,
				"stack", string(debug.Stack()))
			writeJSON(w, http.StatusInternalServerError, map[string]any{"errors": []map[string]any{{
				"message": "internal error", "extensions": map[string]any{"code": string(apperr.Internal), "requestId": id},
			}}})
		}()
		next.ServeHTTP(w, r)
	})
}

func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.LogAttrs(r.Context(), slog.LevelDebug, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)), slog.String("request_id", reqid.From(r.Context())))
	})
}
