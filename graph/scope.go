package graph

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/store"
)

// ScopeOf is the tenant-wide store scope of p: its tenant, acting as its employee, with no
// row-level limit. Requests use RequestScope, which adds the limit.
func ScopeOf(p *auth.Principal) store.Scope {
	return store.Scope{TenantID: p.TenantID, ActorID: p.EmployeeID}
}

// Org answers the one question row-level rules ask of the organisation.
type Org interface {
	ReportsOf(ctx context.Context, scope store.Scope, managerID uuid.UUID) ([]uuid.UUID, error)
}

// NewRequestScope is the scope of a request made by p: the employees its roles reach.
func NewRequestScope(ctx context.Context, org Org, p *auth.Principal) (store.Scope, error) {
	scope := ScopeOf(p)
	switch policy.EmployeeReach(p) {
	case policy.ReachTenant:
	case policy.ReachNone:
		scope.Visible = []uuid.UUID{}
	case policy.ReachReports:
		reports, err := org.ReportsOf(ctx, scope, p.EmployeeID)
		if err != nil {
			return store.Scope{}, fmt.Errorf("reporting line: %w", err)
		}
		scope.Visible = append(reports, p.EmployeeID)
	case policy.ReachSelf:
		scope.Visible = []uuid.UUID{p.EmployeeID}
	}
	scope.Writes = policy.Writes(p, scope.Visible)
	return scope, nil
}

type scopeKey struct{}

// WithRequestScope returns ctx carrying the request's scope.
func WithRequestScope(ctx context.Context, s store.Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// RequestScope returns the request's scope, set once per operation after authentication.
func RequestScope(ctx context.Context) (store.Scope, bool) {
	s, ok := ctx.Value(scopeKey{}).(store.Scope)
	return s, ok
}
