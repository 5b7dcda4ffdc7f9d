package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
)

// authenticate puts the request's principal in its context, or refuses it: 401 for missing or
// bad credentials, 429 once the client address's failures are spent (auth.Authenticate decides
// both). A websocket upgrade may instead carry its token in connection_init (browsers cannot
// set headers on websockets): it passes through unauthenticated, to pendingSockets and the
// websocket transport.
func authenticate(v auth.TokenVerifier, guard auth.FailureGuard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" && isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := auth.Authenticate(r.Context(), v, guard, header)
		if err != nil {
			refused := &auth.RefusedError{Message: "invalid or expired token"}
			errors.As(err, &refused)
			if refused.RetryAfter > 0 {
				seconds := auth.RetryAfterSeconds(refused.RetryAfter)
				writeRefusal(w, refusal{code: apperr.RateLimited, retryAfter: seconds,
					message: fmt.Sprintf("too many failed authentications from this address; retry in %d s", seconds)})
				return
			}
			writeRefusal(w, refusal{code: apperr.Unauthenticated, message: refused.Message})
			return
		}
		if rec := observed(w); rec != nil {
			rec.tenantID = p.TenantID.String()
			if p.Service {
				rec.principalID = "key:" + p.APIKeyID.String()
			} else {
				rec.principalID = p.EmployeeID.String()
			}
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// pendingSockets admits a websocket upgrade without credentials only while the bounds on
// sockets waiting for connection_init allow (429 otherwise), and charges one that ends without
// it as a failed authentication.
func pendingSockets(pending *auth.PendingSockets, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.PrincipalFrom(r.Context()); ok || !isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, done, ok := pending.Admit(r.Context())
		if !ok {
			writeRefusal(w, refusal{code: apperr.RateLimited, retryAfter: 5,
				message: "too many websockets waiting for connection_init"})
			return
		}
		defer done()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func isWebsocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
