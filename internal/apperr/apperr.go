// Package apperr is the one error vocabulary of the application. Its codes are a public
// contract: they travel to clients as a GraphQL error's extensions.code, so clients branch on
// them and may show the message. Every code the server can emit is declared here, with the HTTP
// status that answers it when it refuses a whole request (HTTPStatus); anything that is not an
// *Error is internal and is never shown to a client.
//
// It owns no writing: the HTTP layer (httpapi) writes errors, the GraphQL error presenter
// (graph) turns an *Error into a GraphQL error.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error for clients. Values are stable; add, never rename.
type Code string

// Errors of a field or an operation: the request was understood, this part was refused.
const (
	BadUserInput    Code = "BAD_USER_INPUT"
	NotFound        Code = "NOT_FOUND"
	Conflict        Code = "CONFLICT"
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	// MFARequired asks the client to step up: authenticate with a second factor and retry.
	MFARequired Code = "MFA_REQUIRED"
	Internal    Code = "INTERNAL"
	// RateLimited: the caller's budget cannot pay for the operation now (extensions.retryAfter,
	// seconds; HTTP 429 with Retry-After).
	RateLimited Code = "RATE_LIMITED"
	// TooManySubscriptions: the principal holds as many subscriptions (or websockets) on this
	// instance as it may (extensions.maximum); end one first. The connection stays usable.
	TooManySubscriptions Code = "TOO_MANY_SUBSCRIPTIONS"
)

// Request errors: the document or the HTTP request itself cannot be executed. GraphQL over
// HTTP answers them 200 to clients that accept application/json and 4xx (with no data entry)
// to those that accept application/graphql-response+json.
const (
	// BadRequest: the body is not a GraphQL request at all (undecodable JSON, no query).
	BadRequest Code = "BAD_REQUEST"
	// RequestTooLarge: the body is over the limit (HTTP 413).
	RequestTooLarge Code = "REQUEST_TOO_LARGE"
	// ParseFailed and ValidationFailed are gqlgen's own codes for a document that does not
	// parse or does not validate against the schema (variables included).
	ParseFailed      Code = "GRAPHQL_PARSE_FAILED"
	ValidationFailed Code = "GRAPHQL_VALIDATION_FAILED"
	// ComplexityLimit: the document or its cost is over a limit (extensions.limit, maximum).
	ComplexityLimit Code = "COMPLEXITY_LIMIT"
	// IntrospectionDisabled: __schema or __type where introspection is off (production).
	IntrospectionDisabled Code = "INTROSPECTION_DISABLED"
)

// Persisted operations (automatic persisted queries and trusted documents, internal/persisted).
const (
	// PersistedQueryNotFound: the id (extensions.persistedQuery.sha256Hash, documentId) is
	// neither registered nor cached; an APQ client resends it with the query text. Apollo's
	// code, answered 200 as Apollo Server does, with the message "PersistedQueryNotFound".
	PersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
	// PersistedQueryHashMismatch: the query text's SHA-256 is not the id sent with it (400);
	// nothing is stored.
	PersistedQueryHashMismatch Code = "PERSISTED_QUERY_HASH_MISMATCH"
	// PersistedQueryRequired: this client may run only operations registered for its tenant
	// (BI keys; everyone under TRUSTED_DOCUMENTS=only), refused before parsing (400).
	PersistedQueryRequired Code = "PERSISTED_QUERY_REQUIRED"
)

// Codes lists every code, for the test that nothing emits an undeclared one.
func Codes() []Code {
	return []Code{BadUserInput, NotFound, Conflict, Unauthenticated, Forbidden, MFARequired, Internal,
		RateLimited, BadRequest, RequestTooLarge, ParseFailed, ValidationFailed, ComplexityLimit,
		IntrospectionDisabled, TooManySubscriptions, PersistedQueryNotFound, PersistedQueryHashMismatch,
		PersistedQueryRequired}
}

// IsDocumentError reports whether c refuses a GraphQL document before execution (it does not
// parse, validate or coerce its variables, or it is over a limit). GraphQL over HTTP answers
// these 200 to clients that accept application/json and 400, with no data entry, to those that
// accept application/graphql-response+json.
func (c Code) IsDocumentError() bool {
	switch c {
	case ParseFailed, ValidationFailed, ComplexityLimit, IntrospectionDisabled:
		return true
	}
	return false
}

// HTTPStatus is the status of a response refused with c before any data: authentication (401),
// budgets (429), bodies (400, 413), internal faults (500), document errors (400, see
// IsDocumentError). Every other code is a field error, answered 200 beside the data there is.
func (c Code) HTTPStatus() int {
	switch c {
	case Unauthenticated:
		return http.StatusUnauthorized
	case RateLimited:
		return http.StatusTooManyRequests
	case RequestTooLarge:
		return http.StatusRequestEntityTooLarge
	case BadRequest, PersistedQueryHashMismatch, PersistedQueryRequired:
		return http.StatusBadRequest
	case Internal:
		return http.StatusInternalServerError
	}
	if c.IsDocumentError() {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// Error is an error a client may see: a code to branch on and a message to show.
type Error struct {
	Code    Code
	Message string
	// Field names the input field at fault, when there is one (extensions.field).
	Field string
	// Extensions are further details for clients, added to the error's extensions beside code
	// and field (e.g. conflictingEntryId). Values must be safe to show.
	Extensions map[string]any
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Message: fmt.Sprintf(format, args...), Field: field}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }
