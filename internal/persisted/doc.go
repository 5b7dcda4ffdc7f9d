// Package persisted runs GraphQL operations by id: Apollo's automatic persisted queries (APQ)
// and trusted documents (operations an ADMIN registered for the tenant's clients).
//
// A request names its operation by id with extensions.persistedQuery {version: 1, sha256Hash}
// (Apollo's protocol, over POST and GET) or with documentId (the GraphQL-over-HTTP persisted
// documents draft, "sha256:<hex>" or the bare hex). The id is the SHA-256 of the operation's
// text, in lowercase hex. Operations (the gqlgen extension) resolves it before the document is
// parsed, so everything after — document limits, validation, the cost budget, the role
// directives and the row-level rules — applies to a persisted operation exactly as to its text:
//
//   - an id registered for the principal's tenant runs its registered body;
//   - otherwise, for clients that may send text, the APQ cache of the tenant (Redis when
//     configured, shared by the instances; an in-process LRU otherwise): a miss answers
//     PERSISTED_QUERY_NOT_FOUND ("PersistedQueryNotFound", HTTP 200, as Apollo Server answers),
//     and the client resends the id with the text, which is stored once the operation is
//     admitted (parsed, validated, not a mutation over GET) if its SHA-256 is the id — text
//     that does not hash to its id is refused with PERSISTED_QUERY_HASH_MISMATCH and stored
//     nowhere;
//   - BI keys, and every principal under TRUSTED_DOCUMENTS=only, run registered operations of
//     their tenant and nothing else: text without a registered id, or an id not registered, is
//     refused with PERSISTED_QUERY_REQUIRED before parsing, and nothing is cached for them.
//
// The APQ cache is kept per tenant: whether an id is known reveals that someone sent that exact
// text, and texts may carry literals, so one tenant cannot probe another's.
//
// Registrar validates operations (the id is the body's hash, the body parses into one named
// operation of the given name and type, and validates against the schema) before the store
// registers them, for registerOperations and `workingtracker operations push` alike;
// ParseManifest reads Apollo's persisted-query manifests.
package persisted
