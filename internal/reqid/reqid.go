// Package reqid gives every request an id that ties its logs, traces and client-visible errors
// together.
package reqid

import (
	"context"
	"net/http"
	"regexp"

	"github.com/google/uuid"
)

// Header carries the id in both directions.
const Header = "X-Request-ID"

type ctxKey struct{}

// From returns the request's id, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// An incoming id is kept only when it is short and plain (a gateway's uuid, ULID or
// "host:counter"), so it cannot inject into logs or headers; anything else is replaced.
var acceptable = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Middleware assigns the id (keeping a well-formed incoming one from a gateway) and echoes it.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !acceptable.MatchString(id) {
			id = uuid.NewString()
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}
