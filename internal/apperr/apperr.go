// Package apperr is the one error type of the application. Its codes are a public contract: they
// travel to clients as a GraphQL error's extensions.code, so clients branch on them and may show
// the message. Anything that is not an *Error is internal and is never shown to a client.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for clients. Values are stable; add, never rename.
type Code string

const (
	BadUserInput    Code = "BAD_USER_INPUT"
	NotFound        Code = "NOT_FOUND"
	Conflict        Code = "CONFLICT"
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	// MFARequired asks the client to step up: authenticate with a second factor and retry.
	MFARequired Code = "MFA_REQUIRED"
	Internal    Code = "INTERNAL"
)

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
