package audit

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/store"
)

type userAgentKey struct{}

// WithUserAgent returns ctx carrying the request's user agent, for the audit trail.
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, ua)
}

// UserAgent is ctx's user agent ("" when none was recorded).
func UserAgent(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return ua
}

// UserAgentMiddleware records each request's User-Agent header in its context (the store cuts
// it to 512 characters when it records it).
func UserAgentMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ua := r.Header.Get("User-Agent"); ua != "" {
			r = r.WithContext(WithUserAgent(r.Context(), ua))
		}
		next.ServeHTTP(w, r)
	})
}

// Origin is the store's AuditOrigin (store.SetAuditOrigin): the request's principal — an
// employee, or for a service principal its API key — or SYSTEM outside a request, its request
// id, client address (auth.ClientAddress, as the HTTP layer determined it) and user agent.
func Origin(ctx context.Context) store.AuditEntry {
	e := store.AuditEntry{ActorType: store.AuditActorSystem, RequestID: reqid.From(ctx),
		ClientIP: auth.ClientAddress(ctx), UserAgent: UserAgent(ctx)}
	if p, ok := auth.PrincipalFrom(ctx); ok {
		e.ActorType, e.ActorID = actorOf(p)
	}
	return e
}

func actorOf(p *auth.Principal) (string, *uuid.UUID) {
	if p.Service {
		id := p.APIKeyID
		return store.AuditActorAPIKey, &id
	}
	id := p.EmployeeID
	return store.AuditActorEmployee, &id
}
