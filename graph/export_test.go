package graph

import "net/http"

// NewUnguardedGraphQLHandler is the GraphQL server without document limits and budgets, for
// BenchmarkSecurityChain's baseline.
func NewUnguardedGraphQLHandler(opts ServerOpts) http.Handler {
	opts = opts.withDefaults()
	return newGraphQLHandler(opts, newFailureGuard(opts.RateLimits), false)
}
