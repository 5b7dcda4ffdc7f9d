package model

import (
	"bytes"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/workingtracker/api/internal/apperr"
)

// MarshalTime writes t as RFC 3339 in UTC, so every client sees one representation. The
// formatted time is digits, signs, ':', '.', 'T' and 'Z' only, so it is quoted as it is: no
// strconv.Quote (an escaping pass and two strings per timestamp, thousands on a nested page).
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [48]byte
		b := append(buf[:0], '"')
		b = t.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		// buf stays on the stack when w is the *bytes.Buffer gqlgen renders responses into.
		if out, ok := w.(*bytes.Buffer); ok {
			out.Write(b)
			return
		}
		_, _ = w.Write(bytes.Clone(b))
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
