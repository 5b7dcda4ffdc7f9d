package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/reqid"
)

// authenticate puts the request's principal in its context, or refuses it: 401 for missing or
// bad credentials, 429 once the client address's failures are spent (auth.Authenticate decides
// both). A websocket upgrade may instead carry its token in connection_init (browsers cannot
// set headers on websockets): it passes through unauthenticated, to pendingSockets and the
// websocket transport.
//
// A check that could not be made (the database does not answer) is the server's fault, not the
// client's: 503 with a request id, logged, and not counted as a failure.
func authenticate(v auth.TokenVerifier, guard auth.FailureGuard, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" && isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := auth.Authenticate(r.Context(), v, guard, header)
		if err != nil {
			var refused *auth.RefusedError
			if !errors.As(err, &refused) {
				writeUnavailable(w, r, logger, err)
				return
			}
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

// writeUnavailable answers a request the server could not judge (a dependency failed): 503 with
// the request id to quote; the cause goes to the log only. A client that left gets nothing.
func writeUnavailable(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if r.Context().Err() != nil {
		return
	}
	id := reqid.From(r.Context())
	logger.ErrorContext(r.Context(), "authentication could not be checked", "err", err, "request_id", id)
	writeRefusal(w, refusal{code: apperr.Internal, status: http.StatusServiceUnavailable,
		message: "the service cannot check credentials right now; retry shortly", extensions: map[string]any{"requestId": id}})
}

// isWebsocketUpgrade reports a websocket opening handshake (RFC 6455 section 4.1).
func isWebsocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header, "Connection", "upgrade") && r.Header.Get("Sec-WebSocket-Key") != "" &&
		r.Header.Get("Sec-WebSocket-Version") == "13"
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// upgrades refuses, in the API's error shape, a request asking to switch protocols that is not a
// websocket handshake: gqlgen's websocket transport claims every request with an Upgrade header
// and would answer it in its own words.
func upgrades(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" && !isWebsocketUpgrade(r) {
			writeRefusal(w, refusal{code: apperr.BadRequest,
				message: "only websocket upgrades are served here (GET with the RFC 6455 handshake headers)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
