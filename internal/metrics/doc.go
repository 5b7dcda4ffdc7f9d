// Package metrics holds the service's Prometheus instruments that plug in at the edges of the
// subsystems, each registered with the registry it is given (no global registry):
//
//   - GraphQL, a gqlgen extension: operations by name, type and outcome, their latency, errors
//     by extensions.code, and query cost requested and spent;
//   - HTTP, a middleware (promhttp's instrumentation): requests by handler and status code;
//   - Loaders: batch sizes per loader (loaders.Opts.ObserveBatch);
//   - Statements, a pgx QueryTracer, and PoolCollector over pgxpool.Stat: statement latency and
//     errors, connection pool use;
//   - Redis, a go-redis hook: command latency and errors;
//   - Auth: refused authentications by reason (auth.FailureCounter);
//   - Partitions: partitions created and months covered ahead (jobs.PartitionObserver);
//   - Websockets: open websockets.
//
// Every label takes its values from a bounded set: operation names are the first
// MaxOperationNames distinct names of valid operations, then "other"; nothing is ever labelled
// with a document, an id, an e-mail address or a tenant. README's Metrics section lists every
// metric.
package metrics
