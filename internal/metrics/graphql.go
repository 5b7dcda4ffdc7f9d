package metrics

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/cost"
)

// MaxOperationNames bounds the operation label: the first this many distinct names of valid
// operations label their own series, later ones are "other".
const MaxOperationNames = 200

// Labels of operations that have no name of their own.
const (
	OperationAnonymous = "anonymous" // an unnamed operation
	OperationOther     = "other"     // past MaxOperationNames, or a document that did not validate
)

// Outcomes of an operation.
const (
	OutcomeOK      = "ok"      // no errors
	OutcomeError   = "error"   // errors (a partial result included), or a document that did not validate
	OutcomeRefused = "refused" // refused by a limit before it ran: RATE_LIMITED, COMPLEXITY_LIMIT
)

// nativeHistogram are the native-histogram settings of every histogram: a scraper that
// negotiates them gets high-resolution buckets, others the classic ones.
func nativeHistogram(opts prometheus.HistogramOpts) prometheus.HistogramOpts {
	opts.NativeHistogramBucketFactor = 1.1
	opts.NativeHistogramMaxBucketNumber = 160
	opts.NativeHistogramMinResetDuration = time.Hour
	return opts
}

// GraphQL is the gqlgen extension that counts and times operations; add it first
// (graph.ServerOpts.Extensions) so that it sees the responses of operations the budget gate
// refuses. It observes each operation once: a request refused before it ran (a document that
// does not parse or validate, or is over a document limit) through InterceptResponse, one that
// ran (or was refused by its budget) through InterceptOperation. A subscription is counted and
// timed by its first response; the errors of later events are counted too.
type GraphQL struct {
	names *boundedNames

	operations *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	cost       prometheus.Histogram
	requested  prometheus.Counter
	spent      prometheus.Counter
	codes      map[string]bool
}

var (
	_ graphql.HandlerExtension     = (*GraphQL)(nil)
	_ graphql.OperationInterceptor = (*GraphQL)(nil)
	_ graphql.ResponseInterceptor  = (*GraphQL)(nil)
)

// NewGraphQL registers the GraphQL metrics with reg.
func NewGraphQL(reg prometheus.Registerer) *GraphQL {
	g := &GraphQL{
		names: &boundedNames{max: MaxOperationNames, seen: map[string]struct{}{}},
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workingtracker_graphql_operations_total",
			Help: "GraphQL operations by operation name (bounded: anonymous, other past the cap), type (query, mutation, subscription, unknown) and outcome (ok, error, refused).",
		}, []string{"operation", "type", "outcome"}),
		duration: prometheus.NewHistogramVec(nativeHistogram(prometheus.HistogramOpts{
			Name:    "workingtracker_graphql_operation_duration_seconds",
			Help:    "Time from the start of a GraphQL operation (parsing) to its response, by operation name and type; subscriptions are not timed.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}), []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workingtracker_graphql_errors_total",
			Help: "GraphQL errors in responses by extensions.code (the codes of internal/apperr; OTHER for any other).",
		}, []string{"code"}),
		cost: prometheus.NewHistogram(nativeHistogram(prometheus.HistogramOpts{
			Name:    "workingtracker_graphql_query_cost",
			Help:    "The cost each priced operation requested (extensions.cost.requestedQueryCost), refused ones included.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
		})),
		requested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_graphql_cost_requested_total",
			Help: "Query cost points operations were priced at, refused ones included.",
		}),
		spent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_graphql_cost_spent_total",
			Help: "Query cost points spent from budgets (operations that were not refused).",
		}),
		codes: map[string]bool{},
	}
	for _, c := range apperr.Codes() {
		g.codes[string(c)] = true
		g.errors.WithLabelValues(string(c)) // every code is exported from the start, at 0
	}
	reg.MustRegister(g.operations, g.duration, g.errors, g.cost, g.requested, g.spent)
	return g
}

// ExtensionName implements graphql.HandlerExtension.
func (*GraphQL) ExtensionName() string { return "Metrics" }

// Validate implements graphql.HandlerExtension.
func (*GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

type observedKey struct{}

// InterceptOperation implements graphql.OperationInterceptor.
func (g *GraphQL) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	start := oc.Stats.OperationStart
	if start.IsZero() {
		start = time.Now()
	}
	name, typ := g.names.admit(oc.Operation), operationType(oc.Operation)
	responses := next(context.WithValue(ctx, observedKey{}, true))
	first := true
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp == nil {
			return nil
		}
		if first {
			first = false
			g.observe(name, typ, resp, start, typ != string(ast.Subscription))
		} else {
			g.countErrors(resp)
		}
		return resp
	}
}

// InterceptResponse implements graphql.ResponseInterceptor: it observes the responses of
// requests refused before their operation ran, which never reach InterceptOperation.
func (g *GraphQL) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || ctx.Value(observedKey{}) != nil {
		return resp
	}
	name, typ, start := OperationOther, "unknown", time.Now()
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		// A name is only looked up here: documents that do not validate never add one.
		name, typ = g.names.lookup(oc.Operation), operationType(oc.Operation)
		if !oc.Stats.OperationStart.IsZero() {
			start = oc.Stats.OperationStart
		}
	}
	g.observe(name, typ, resp, start, true)
	return resp
}

func (g *GraphQL) observe(name, typ string, resp *graphql.Response, start time.Time, timed bool) {
	outcome := g.countErrors(resp)
	g.operations.WithLabelValues(name, typ, outcome).Inc()
	if timed {
		g.duration.WithLabelValues(name, typ).Observe(time.Since(start).Seconds())
	}
	if c, ok := cost.Reported(resp); ok {
		g.cost.Observe(float64(c))
		g.requested.Add(float64(c))
		if outcome != OutcomeRefused {
			g.spent.Add(float64(c))
		}
	}
}

// countErrors counts resp's errors by code and returns the response's outcome.
func (g *GraphQL) countErrors(resp *graphql.Response) string {
	outcome := OutcomeOK
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		if !g.codes[code] {
			code = "OTHER"
		}
		g.errors.WithLabelValues(code).Inc()
		switch {
		case code == string(apperr.RateLimited) || code == string(apperr.ComplexityLimit):
			outcome = OutcomeRefused
		case outcome == OutcomeOK:
			outcome = OutcomeError
		}
	}
	return outcome
}

func operationType(op *ast.OperationDefinition) string {
	if op == nil {
		return "unknown"
	}
	return string(op.Operation)
}

// boundedNames hands out operation labels: an operation's own name while fewer than max have
// been seen, then OperationOther for new ones. Names come from parsed documents, so they are
// GraphQL names (letters, digits, underscores) and never contain values.
type boundedNames struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

// admit labels a valid operation, remembering its name while there is room.
func (b *boundedNames) admit(op *ast.OperationDefinition) string {
	if op == nil {
		return OperationOther
	}
	if op.Name == "" {
		return OperationAnonymous
	}
	if label := b.lookup(op); label != OperationOther {
		return label
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[op.Name]; ok {
		return op.Name
	}
	if len(b.seen) >= b.max || !isName(op.Name) {
		return OperationOther
	}
	b.seen[op.Name] = struct{}{}
	return op.Name
}

// lookup labels an operation by a name already admitted, without admitting a new one.
func (b *boundedNames) lookup(op *ast.OperationDefinition) string {
	if op == nil {
		return OperationOther
	}
	if op.Name == "" {
		return OperationAnonymous
	}
	b.mu.RLock()
	_, ok := b.seen[op.Name]
	b.mu.RUnlock()
	if ok {
		return op.Name
	}
	return OperationOther
}

// isName reports whether s is a GraphQL name of at most 100 characters (the parser only
// produces those; this keeps the promise should the name come from elsewhere).
func isName(s string) bool {
	if len(s) == 0 || len(s) > 100 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	return !slices.ContainsFunc([]byte(s), func(c byte) bool {
		return !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
	})
}
