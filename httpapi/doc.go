// Package httpapi is the HTTP layer of the API: the middleware chain every request passes
// (request id, access log, panic recovery, client address, security headers, CORS, body limit,
// authentication, the bound on websockets waiting to authenticate), the GraphQL transports
// (POST and GET as GraphQL over HTTP specifies them, websockets), the health checks, and the one
// writer of HTTP error bodies and statuses.
//
// A refusal is decided where it happens and written once: authentication refusals by the
// authenticating middleware, refusals of an operation (a spent budget, a document over a limit)
// by the GraphQL transport from the error's code (apperr.Code.HTTPStatus). Nothing patches a
// status on the way back out.
//
// It holds no rules of its own: who the caller is comes from internal/auth, what an operation
// costs and may do from internal/cost and internal/policy (through the gqlgen server that graph
// assembles), and the codes from internal/apperr.
package httpapi
