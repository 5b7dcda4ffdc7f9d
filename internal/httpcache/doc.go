// Package httpcache gives persisted GETs of report operations HTTP validators: a strong ETag
// and Cache-Control derived from the freshness of what they read, and 304 Not Modified on a
// matching If-None-Match without running the operation.
//
// The HTTP transport (httpapi) attaches a Request to every GET whose operation was sent by id
// (internal/persisted: an APQ hash or a registered documentId) and writes the headers; the
// Gate, an operation interceptor installed after the document checks and before the cost
// budget, decides them:
//
//   - Classify reads the operation's selection (fragments included, @skip/@include ignored: a
//     field that may be selected counts) against an allow-list of fields whose values come
//     from the report views: productivityReport (without departmentId, which reads who is in
//     the department now) and projectHoursReport with their rows, edges, pageInfo and
//     freshness, and the project columns of a project hours row. Anything else — any other
//     field, Project.totalHours(live: true), a directive other than the role rules — reads
//     live data: the answer keeps Cache-Control: no-store and gets no ETag.
//   - The ETag is derived before execution from the tenant, the principal (employee or API
//     key), its roles, its row reach (the sorted Visible list of its scope, or "everyone"),
//     the operation's id, name and variables, the response's media type, the views'
//     refreshedAt and nextRefreshAt (store.ReportFreshness) and, for projectHoursReport, a
//     digest of the tenant's projects (store.ProjectsVersion). A refresh, a change of reach
//     (a manager gains a report) or of roles, another principal or another tenant: another tag.
//   - Cache-Control: private, max-age until the views' next refresh for productivityReport;
//     private, no-cache (revalidate every time) when the answer also shows live project rows.
//   - An answer that selects freshness.staleSeconds (which grows while nothing else changes)
//     gets a weak tag (W/"…"): the same figures, not the same bytes.
//
// A 304 is answered after authentication, the persisted-operation rules (BI keys run only
// registered operations), the document limits and the report fields' role rules, and costs
// cost.RevalidationCost from the principal's budget (a spent budget still answers 429). Tags
// are issued only on answers without errors.
package httpcache
