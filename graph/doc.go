// Package graph is the GraphQL schema's generated code (gqlgen: generated.go, federation.go,
// model/; regenerate with `make generate`, which also applies tools/rewritelists) and the
// assembly of the gqlgen server around it (NewServer): the query cache, the operation checks
// and budgets of internal/cost, introspection or its refusal, the per-operation request scope
// (internal/policy) and loaders, the deny-by-default root-field rule, the directives' wiring
// (each a call into policy), error presentation and panic recovery.
//
// It owns no transports and no HTTP: httpapi adds the transports and the chain in front. It
// holds no rules: who may do what is internal/policy's, what an operation may cost
// internal/cost's, and SQL the store's.
package graph
