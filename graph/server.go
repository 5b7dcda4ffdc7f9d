package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/cost"
	"github.com/workingtracker/api/internal/httpcache"
	"github.com/workingtracker/api/internal/lists"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/internal/telemetry"
	"github.com/workingtracker/api/loaders"
)

// ServerOpts assembles the gqlgen server.
type ServerOpts struct {
	Resolvers ResolverRoot
	// Reader backs the per-request loaders.
	Reader loaders.Reader
	// Org answers row-level questions (a manager's reporting line).
	Org     policy.Org
	Loaders loaders.Opts
	Logger  *slog.Logger
	// Development turns on "Did you mean …?" hints, which map a schema production keeps
	// unintrospectable.
	Development bool
	// Introspection answers __schema and __type (federation composition, playground); off,
	// they are refused as INTROSPECTION_DISABLED.
	Introspection bool
	// Budgets are the query-cost budgets; the zero value keeps default tiers in process.
	Budgets cost.Budgets
	// DocumentLimits bound documents before validation; zero fields take the defaults.
	DocumentLimits cost.DocumentLimits
	// TracerProvider, when set, traces every operation (internal/telemetry's otelgqlgen
	// extensions) and loader batch (Loaders.Tracer, when that is unset). Nil: no tracing.
	TracerProvider trace.TracerProvider
	// FieldSpans adds a span per resolver field (OTEL_GRAPHQL_FIELD_SPANS); it installs a field
	// interceptor, so every field then takes gqlgen's ResolveField path (internal/lists).
	FieldSpans bool
	// Extensions are installed before every other (outermost): they see each operation and
	// response, refused ones included (metrics).
	Extensions []graphql.HandlerExtension
	// Persisted, when set, resolves operations sent by id (internal/persisted.Operations:
	// APQ and trusted documents) before the document limits check the text it fills in.
	Persisted graphql.HandlerExtension
	// HTTPCache, when set, gives persisted GETs of report operations validators and answers
	// their revalidations with 304 (internal/httpcache), before the budget: a 304 costs
	// cost.RevalidationCost, not the operation's price.
	HTTPCache httpcache.Store
}

// WithDefaults fills what the options leave out.
func (opts ServerOpts) WithDefaults() ServerOpts {
	b := &opts.Budgets
	if b.Limiter == nil {
		b.Limiter = ratelimit.NewLocal(100_000)
	}
	if b.Tiers.MaxQueryCost == 0 {
		b.Tiers = ratelimit.DefaultTiers()
	}
	if b.Metrics == nil {
		b.Metrics = ratelimit.NewMetrics(prometheus.NewRegistry()) // counted, not exported
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Loaders.BeforeWait == nil {
		// The generated code runs list elements and resolver fields one after another
		// (internal/lists): a load about to wait starts the rest, so that they join its batch.
		opts.Loaders.BeforeWait = lists.BeforeWait
	}
	if opts.Loaders.Tracer == nil && opts.TracerProvider != nil {
		opts.Loaders.Tracer = opts.TracerProvider.Tracer("github.com/workingtracker/api/loaders")
	}
	opts.DocumentLimits = opts.DocumentLimits.WithDefaults()
	return opts
}

// NewServer is the gqlgen server: schema, caches, extensions, operation checks, the
// per-operation request scope and loaders, error presentation and panic recovery. It has no
// transports: the HTTP layer (httpapi) adds them, and it expects an authenticated principal in
// every operation's context.
func NewServer(opts ServerOpts) *handler.Server {
	return newServer(opts.WithDefaults(), true)
}

// NewServerWithoutLimits is NewServer without document limits and budgets: the baseline of the
// benchmark that prices them (BenchmarkSecurityChain). Never serve it.
func NewServerWithoutLimits(opts ServerOpts) *handler.Server {
	return newServer(opts.WithDefaults(), false)
}

func newServer(opts ServerOpts, limited bool) *handler.Server {
	schema := NewExecutableSchema(Config{Resolvers: opts.Resolvers, Directives: Directives()})
	srv := handler.New(schema)
	// First, so that the operation span covers the whole chain (refusals included), then the
	// given extensions (metrics), which see every operation and response too.
	for _, ext := range append(telemetry.GraphQLExtensions(opts.TracerProvider, opts.FieldSpans), opts.Extensions...) {
		srv.Use(ext)
	}
	if opts.Persisted != nil {
		srv.Use(opts.Persisted)
	}
	queries := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queries)
	// Documents are bounded before validation, whose work grows with them; the parser stops at
	// the token limit.
	srv.SetParserTokenLimit(opts.DocumentLimits.MaxTokens)
	if limited {
		srv.Use(cost.NewDocumentLimits(opts.DocumentLimits, queries, func(string) {
			opts.Budgets.Metrics.Refusals.WithLabelValues("document").Inc()
		}))
	}
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(cost.NewIntrospectionRefusal())
	}
	srv.SetDisableSuggestion(!opts.Development)
	if opts.HTTPCache != nil {
		budgets := opts.Budgets
		if !limited {
			budgets = cost.Budgets{}
		}
		srv.AroundOperations(httpcache.New(httpcache.Opts{Store: opts.HTTPCache, Org: opts.Org, Budgets: budgets,
			Logger: opts.Logger}).AroundOperations)
	}
	// The budget comes first: a refused operation costs nothing more (no request scope, which
	// may query the reporting line).
	if limited {
		srv.AroundOperations(cost.BudgetGate(opts.Budgets, schema, opts.Logger))
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if p, ok := auth.PrincipalFrom(ctx); ok {
			// internal/httpcache's gate computes it first for persisted GETs (from the same
			// principal, the same way): once per operation either way.
			scope, computed := policy.ScopeFrom(ctx)
			if !computed {
				var err error
				if scope, err = policy.NewScope(ctx, opts.Org, p); err != nil {
					id := reqid.From(ctx)
					opts.Logger.ErrorContext(ctx, "request scope", "err", err, "request_id", id)
					return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{Message: "internal error",
						Extensions: map[string]any{"code": string(apperr.Internal), "requestId": id}}}})
				}
			}
			ctx = policy.WithScope(ctx, scope)
			// A subscription's loaders are built per event (below): the operation's would be
			// held, unused, for as long as it runs.
			if op := graphql.GetOperationContext(ctx); op.Operation == nil || op.Operation.Operation != ast.Subscription {
				ctx = loaders.WithLoaders(ctx, loaders.New(opts.Reader, scope, opts.Loaders))
			}
		}
		return next(ctx)
	})
	// Deny by default: a root field that declares no rule is refused, so a new field cannot be
	// exposed by forgetting one (the schema test catches it before it ships).
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if rc := graphql.GetRootFieldContext(ctx); rc != nil && rc.Field.Field != nil {
			if err := policy.CheckRootField(ctx, rc.Field.Name, rc.Field.Definition); err != nil {
				graphql.AddError(ctx, err)
				return graphql.Null
			}
		}
		return next(ctx)
	})
	// A subscription sends each event's object through fresh loaders (built per event, not per
	// connection): the operation's loaders would cache what the previous event read.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if graphql.HasOperationContext(ctx) {
			if op := graphql.GetOperationContext(ctx); op.Operation != nil && op.Operation.Operation == ast.Subscription {
				if scope, ok := policy.ScopeFrom(ctx); ok {
					ctx = loaders.WithLoaders(ctx, loaders.New(opts.Reader, scope, opts.Loaders))
				}
			}
		}
		return next(ctx)
	})
	// Mutations run one after another and change what loaders would have cached: each gets
	// fresh loaders, so a later mutation's result never shows data from before an earlier one.
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if op := graphql.GetOperationContext(ctx); op.Operation != nil && op.Operation.Operation == ast.Mutation {
			if scope, ok := policy.ScopeFrom(ctx); ok {
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
				gqlErr.Extensions["code"] = string(apperr.BadRequest)
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
