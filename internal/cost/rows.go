package cost

import (
	"context"
	"fmt"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
)

// ExportRowsPerPoint is how many rows of a streamed export one cost point buys. A row of a
// GraphQL report page costs 1 (an object), and resolving it is most of that; an export row is
// one cursor row formatted as a line, so it is priced a hundredth: a year of daily rows for
// 2,000 employees (~520,000) costs ~5,200, within a person's and a BI key's budget, where pages
// of 100 would cost 100 times that.
const ExportRowsPerPoint = 100

// RowsCost is the price of an export of n rows: 1, plus a point per ExportRowsPerPoint rows.
func RowsCost(n int) int {
	return 1 + (n+ExportRowsPerPoint-1)/ExportRowsPerPoint
}

// Charge spends cost points from p's budget as the budget gate does for an operation: the same
// budget (per person, or per API key), the same maximum (MAX_QUERY_COST, or the budget's size if
// smaller). A price over the maximum is refused with COMPLEXITY_LIMIT (extensions maximum and
// cost) and spends nothing; one the budget cannot pay now is refused with RATE_LIMITED
// (extensions retryAfter, in seconds, for HTTP 429 and Retry-After). status is the budget after
// the charge. err is a failure to reach the budget (not the client's fault).
func (b Budgets) Charge(ctx context.Context, p *auth.Principal, points int) (status model.RateLimit, refusal *apperr.Error, err error) {
	g := budgetGate{limits: b}
	key, limit := g.budgetFor(p)
	maxCost := min(b.Tiers.MaxQueryCost, limit.Burst)
	status = model.RateLimit{MaximumAvailable: limit.Burst, RestoreRate: limit.RestorePerSecond(), MaximumQueryCost: maxCost}
	charge := points
	if points > maxCost {
		charge = 0
	}
	res, err := b.Limiter.Charge(ctx, key, limit, charge)
	if err != nil {
		return status, nil, fmt.Errorf("charge the cost budget: %w", err)
	}
	status.CurrentlyAvailable = res.Remaining
	if points > maxCost {
		b.Metrics.Refusals.WithLabelValues("complexity").Inc()
		return status, &apperr.Error{Code: apperr.ComplexityLimit,
			Message:    fmt.Sprintf("the export costs %d points, more than the maximum of %d: ask for a shorter range, a coarser groupBy or fewer employees", points, maxCost),
			Extensions: map[string]any{"limit": "cost", "maximum": maxCost, "cost": points}}, nil
	}
	if !res.Allowed {
		b.Metrics.Refusals.WithLabelValues("cost").Inc()
		retry := auth.RetryAfterSeconds(res.RetryAfter)
		return status, &apperr.Error{Code: apperr.RateLimited,
			Message:    fmt.Sprintf("rate limited: the export costs %d points and %d are available; retry in %d s", points, res.Remaining, retry),
			Extensions: map[string]any{"retryAfter": retry}}, nil
	}
	return status, nil, nil
}
