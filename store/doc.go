// Package store is the only place that speaks SQL: bun models (the domain types, autobound by
// gqlgen), queries and transactions over PostgreSQL, partition upkeep, and the translation of
// PostgreSQL errors into apperr codes (a unique violation is CONFLICT).
//
// Every method takes the request's Scope explicitly and applies it: the tenant to every
// statement (and to row-level security, through the session's app.tenant_id), and the read and
// write reach that internal/policy computed. The store applies the filters it is given; it
// decides no rule and knows nothing of GraphQL or HTTP.
package store
