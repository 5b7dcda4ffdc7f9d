// Package cost bounds what one GraphQL operation may ask for and what a principal may spend:
// document limits checked before validation (tokens, depth, aliases, fields, root fields,
// directives; introspection refused where it is off), the price of an operation from the
// schema's demand-control directives (@cost, @listSize), and the budget gate that charges the
// price to the principal's GCRA budget (internal/ratelimit) and reports it in extensions.cost.
//
// It decides refusals and names them with apperr codes (COMPLEXITY_LIMIT, RATE_LIMITED with
// retryAfter, INTROSPECTION_DISABLED); it writes no HTTP: httpapi turns the codes into statuses
// and headers.
package cost
