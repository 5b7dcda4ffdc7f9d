package cost

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/reqid"
)

// RevalidationCost is what an answer that runs no operation costs: a persisted GET answered
// 304 Not Modified (internal/httpcache) reads one or two small rows instead of running the
// report, so it pays a fixed point rather than the operation's price. It is still charged, so
// revalidations cannot be sent without end.
const RevalidationCost = 1

// ChargeFixed spends points from p's budget — the one BudgetGate charges operations to — for an
// answer that runs no operation. It returns nil when the budget pays; otherwise the refusal to
// answer with instead (RATE_LIMITED with retryAfter, which the transport answers 429, or an
// internal error). Budgets without a Limiter (a server without budgets) charge nothing.
func (b Budgets) ChargeFixed(ctx context.Context, p *auth.Principal, points int, logger *slog.Logger) graphql.ResponseHandler {
	if b.Limiter == nil {
		return nil
	}
	g := budgetGate{limits: b, logger: logger}
	key, limit := g.budgetFor(p)
	res, err := b.Limiter.Charge(ctx, key, limit, points)
	if err != nil {
		id := reqid.From(ctx)
		if ctx.Err() == nil {
			logger.ErrorContext(ctx, "charge the cost budget", "err", err, "request_id", id)
		}
		return refusal(&gqlerror.Error{Message: "internal error", Extensions: map[string]any{
			"code": string(apperr.Internal), "requestId": id}}, nil)
	}
	if !res.Allowed {
		if b.Metrics != nil {
			b.Metrics.Refusals.WithLabelValues("cost").Inc()
		}
		retry := auth.RetryAfterSeconds(res.RetryAfter)
		return refusal(&gqlerror.Error{
			Message:    fmt.Sprintf("rate limited: a revalidation costs %d points and %d are available; retry in %d s", points, res.Remaining, retry),
			Extensions: map[string]any{"code": string(apperr.RateLimited), "retryAfter": retry},
		}, nil)
	}
	return nil
}
