package httpapi

import (
	"net/http"

	"github.com/workingtracker/api/graph"
)

// NewBareGraphQLHandler is the GraphQL server with its transports but without the chain, the
// document limits and the budgets: BenchmarkSecurityChain's baseline.
func NewBareGraphQLHandler(opts Opts) http.Handler {
	opts = opts.WithDefaults()
	gql := graph.NewServerWithoutLimits(opts.GraphQL)
	addTransports(gql, opts, newGuard(opts))
	return gql
}
