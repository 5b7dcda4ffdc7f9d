package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/auth"
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

// NewScope is the scope of a request made by p: the employees its roles reach (read reach,
// computed here with one query for a manager's reporting line) and what it may write. The
// store applies both to every statement.
func NewScope(ctx context.Context, org Org, p *auth.Principal) (store.Scope, error) {
	scope := ScopeOf(p)
	switch EmployeeReach(p) {
	case ReachTenant:
	case ReachNone:
		scope.Visible = []uuid.UUID{}
	case ReachReports:
		reports, err := org.ReportsOf(ctx, scope, p.EmployeeID)
		if err != nil {
			return store.Scope{}, fmt.Errorf("reporting line: %w", err)
		}
		scope.Visible = append(reports, p.EmployeeID)
	case ReachSelf:
		scope.Visible = []uuid.UUID{p.EmployeeID}
	}
	scope.Writes = Writes(p, scope.Visible)
	return scope, nil
}

type scopeKey struct{}

// WithScope returns ctx carrying the request's scope.
func WithScope(ctx context.Context, s store.Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeFrom returns the request's scope, set once per operation after authentication.
func ScopeFrom(ctx context.Context) (store.Scope, bool) {
	s, ok := ctx.Value(scopeKey{}).(store.Scope)
	return s, ok
}

// Scopes computes a request's scope anew from its principal: a subscription, which outlives the
// reporting line it started with, re-reads its reach through it.
type Scopes struct{ Org Org }

// Scope is the scope of ctx's principal as the organisation stands now.
func (s Scopes) Scope(ctx context.Context) (store.Scope, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return store.Scope{}, errors.New("policy: no principal to scope")
	}
	return NewScope(ctx, s.Org, p)
}
