// Package audit feeds the tenant's audit trail (store.AppendAudit, hash-chained per tenant) from
// the request path:
//
//   - Mutations: Extension's root-field interceptor gives every mutation a pending entry
//     (store.PendingAudit: action = the field's name, changedFields = the names of the input
//     fields given, the resource its arguments name) in its context; the store appends it in the
//     mutation's first transaction that writes, just before it commits, unless that transaction
//     appended an explicit entry (pii.reveal, pii.export) of its own. No resolver code.
//   - Who and where: Origin fills an entry's actor (the employee, or the API key), request id,
//     client address and user agent (WithUserAgent, set by the HTTP layer) from the context.
//   - Security events: refusals — FORBIDDEN, MFA_REQUIRED and RATE_LIMITED responses, and
//     authentications refused for an inactive account — are counted in memory per tenant,
//     actor, kind and detail (SecurityEvents) and flushed periodically as one entry each with
//     their count, so a flood costs a bounded number of entries. Failures without a trustworthy
//     tenant (no token, a bad or expired one) are not written to any tenant's trail: they go to
//     the logs and workingtracker_auth_failures_total only.
package audit
