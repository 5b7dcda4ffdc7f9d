package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/store"
)

// apiKeySessionCap bounds a connection authenticated by an API key: keys are checked on every
// HTTP request, but a websocket is authenticated once.
const apiKeySessionCap = 5 * time.Minute

// APIKeyStore looks API keys up.
type APIKeyStore interface {
	AuthenticateAPIKey(ctx context.Context, secret string) (*store.APIKey, error)
}

// APIKeys authenticates API keys against keys: a key's principal holds the key's role (BI or
// AGENT), in the key's tenant, acting for the key's employee (agents).
func APIKeys(keys APIKeyStore) APIKeyAuthenticator {
	return func(ctx context.Context, secret string) (*Principal, error) {
		k, err := keys.AuthenticateAPIKey(ctx, secret)
		if apperr.Is(err, apperr.NotFound) {
			return nil, fmt.Errorf("%w: unknown, revoked or expired API key", ErrUnauthenticated)
		}
		if err != nil {
			return nil, err
		}
		// A service principal's websocket lives at most five minutes past a revocation.
		p := &Principal{TenantID: k.TenantID, Roles: []string{k.Role}, Service: true, APIKeyID: k.ID,
			ExpiresAt: time.Now().Add(apiKeySessionCap)}
		if b := k.CostBudget(); b != nil {
			p.CostBudget = &CostBudget{Maximum: b.Maximum, RestorePerSecond: b.RestorePerSecond}
		}
		if k.EmployeeID != nil {
			p.EmployeeID = *k.EmployeeID
		}
		if k.ExpiresAt != nil && k.ExpiresAt.Before(p.ExpiresAt) {
			p.ExpiresAt = *k.ExpiresAt
		}
		return p, nil
	}
}
