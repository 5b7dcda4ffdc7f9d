package cost

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/ratelimit"
	"github.com/workingtracker/api/internal/reqid"
)

// Budgets configures the query-cost budgets.
type Budgets struct {
	// Limiter keeps the budgets (ratelimit.Failover over Redis, or ratelimit.Local).
	Limiter ratelimit.Limiter
	Tiers   ratelimit.Tiers
	Metrics *ratelimit.Metrics
}

// costReport is extensions.cost: what the operation cost and what the budget holds now.
type costReport struct {
	RequestedQueryCost int             `json:"requestedQueryCost"`
	ThrottleStatus     model.RateLimit `json:"throttleStatus"`
}

// RequestedCost is what the operation was priced at (observation: logs and spans read it).
func (r *costReport) RequestedCost() int { return r.RequestedQueryCost }

// Requested is the price of the operation resp answers, as its extensions.cost reports it; false
// for a response refused before pricing.
func Requested(resp *graphql.Response) (int, bool) {
	if resp == nil {
		return 0, false
	}
	r, ok := resp.Extensions["cost"].(*costReport)
	if !ok {
		return 0, false
	}
	return r.RequestedQueryCost, true
}

// budgetGate prices each operation before it runs and spends the price from the principal's
// budget: an operation over the maximum cost is refused (COMPLEXITY_LIMIT), one the budget
// cannot pay is refused (RATE_LIMITED, HTTP 429 with Retry-After), and every other response
// reports the cost in extensions.cost. Websocket operations (subscription starts included) pass
// here the same way.
type budgetGate struct {
	limits Budgets
	schema graphql.ExecutableSchema
	logger *slog.Logger
}

// BudgetGate returns the operation interceptor that prices and charges every operation on
// schema, for the server's AroundOperations.
func BudgetGate(limits Budgets, schema graphql.ExecutableSchema, logger *slog.Logger) graphql.OperationMiddleware {
	return budgetGate{limits: limits, schema: schema, logger: logger}.aroundOperations
}

func (g budgetGate) aroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok { // authentication comes first on every transport; refuse rather than run unbudgeted
		return refusal(&gqlerror.Error{Message: "unauthenticated",
			Extensions: map[string]any{"code": string(apperr.Unauthenticated)}}, nil)
	}
	oc := graphql.GetOperationContext(ctx)
	cost := Price(g.schema.Schema(), oc.Operation, oc.Variables)
	if cost == 0 && !onlyAsksForBudget(oc.Operation) {
		// Every operation pays something, or free ones ({ __typename }, introspection) could
		// be sent without end; asking for the budget itself stays free.
		cost = 1
	}
	key, limit := g.budgetFor(p)
	maxCost := min(g.limits.Tiers.MaxQueryCost, limit.Burst)
	status := model.RateLimit{MaximumAvailable: limit.Burst, RestoreRate: limit.RestorePerSecond(), MaximumQueryCost: maxCost}

	charge := cost
	if cost > maxCost {
		charge = 0 // refused: only look at the budget, to report it
	}
	res, err := g.limits.Limiter.Charge(ctx, key, limit, charge)
	if err != nil {
		id := reqid.From(ctx)
		if ctx.Err() != nil { // the client left
			return refusal(&gqlerror.Error{Message: "request cancelled", Extensions: map[string]any{
				"code": string(apperr.BadRequest), "requestId": id}}, nil)
		}
		g.logger.ErrorContext(ctx, "charge the cost budget", "err", err, "request_id", id)
		return refusal(&gqlerror.Error{Message: "internal error", Extensions: map[string]any{
			"code": string(apperr.Internal), "requestId": id}}, nil)
	}
	status.CurrentlyAvailable = res.Remaining
	report := &costReport{RequestedQueryCost: cost, ThrottleStatus: status}
	if cost > maxCost {
		g.limits.Metrics.Refusals.WithLabelValues("complexity").Inc()
		return refusal(&gqlerror.Error{
			Message: fmt.Sprintf("the operation costs %s points, more than the maximum of %d: ask for fewer items (first) or fewer fields",
				countString(cost), maxCost),
			Extensions: map[string]any{"code": string(apperr.ComplexityLimit), "limit": "cost", "maximum": maxCost, "cost": cost},
		}, report)
	}
	if !res.Allowed {
		g.limits.Metrics.Refusals.WithLabelValues("cost").Inc()
		// The transport answers RATE_LIMITED with 429 and Retry-After from retryAfter.
		retry := auth.RetryAfterSeconds(res.RetryAfter)
		return refusal(&gqlerror.Error{
			Message: fmt.Sprintf("rate limited: the operation costs %d points and %d are available; retry in %d s",
				cost, res.Remaining, retry),
			Extensions: map[string]any{"code": string(apperr.RateLimited), "retryAfter": retry},
		}, report)
	}
	responses := next(withRateLimit(ctx, &status))
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp != nil {
			if resp.Extensions == nil {
				resp.Extensions = map[string]any{}
			}
			resp.Extensions["cost"] = report
		}
		return resp
	}
}

// Reported is the cost a response reports in extensions.cost (what the operation was priced
// at), for the cost metrics; false when it reports none (refused before it was priced).
func Reported(resp *graphql.Response) (int, bool) {
	if resp == nil {
		return 0, false
	}
	r, ok := resp.Extensions["cost"].(*costReport)
	if !ok || r == nil {
		return 0, false
	}
	return r.RequestedQueryCost, true
}

// budgetFor names the principal's budget and its size: an API key has one per key, a person
// one per tenant and employee.
func (g budgetGate) budgetFor(p *auth.Principal) (string, ratelimit.Limit) {
	limit := g.limits.Tiers.ForRoles(policy.HeldRoles(p))
	if b := p.CostBudget; b != nil {
		limit = ratelimit.PerSecond(b.Maximum, b.RestorePerSecond)
	}
	if p.Service {
		return "key:" + p.APIKeyID.String(), limit
	}
	return "user:" + p.TenantID.String() + ":" + p.EmployeeID.String(), limit
}

// onlyAsksForBudget reports whether op asks for rateLimit and nothing else (but __typename).
func onlyAsksForBudget(op *ast.OperationDefinition) bool {
	if op.Operation != ast.Query {
		return false
	}
	asks := false
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || (f.Name != "rateLimit" && f.Name != "__typename") {
			return false
		}
		asks = asks || f.Name == "rateLimit"
	}
	return asks
}

func refusal(err *gqlerror.Error, report *costReport) graphql.ResponseHandler {
	resp := &graphql.Response{Errors: gqlerror.List{err}}
	if report != nil {
		resp.Extensions = map[string]any{"cost": report}
	}
	return graphql.OneShot(resp)
}

type rateLimitKey struct{}

func withRateLimit(ctx context.Context, status *model.RateLimit) context.Context {
	return context.WithValue(ctx, rateLimitKey{}, status)
}

// RateLimitFrom is the request's budget after its charge (the rateLimit query).
func RateLimitFrom(ctx context.Context) (*model.RateLimit, bool) {
	s, ok := ctx.Value(rateLimitKey{}).(*model.RateLimit)
	return s, ok
}
