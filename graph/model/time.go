package model

import (
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/workingtracker/api/internal/apperr"
)

// MarshalTime writes t as RFC 3339 in UTC, so every client sees one representation.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339Nano)))
	})
}

// UnmarshalTime reads an RFC 3339 date-time. A malformed value is the client's error
// (BAD_USER_INPUT), not an internal one.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, apperr.Invalid("", "a Time must be an RFC 3339 string such as 2026-11-24T09:00:00Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, apperr.Invalid("", "%q is not an RFC 3339 date-time such as 2026-11-24T09:00:00Z", s)
	}
	return t, nil
}
