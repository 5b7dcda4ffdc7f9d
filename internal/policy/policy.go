// Package policy decides who may do what. Role rules are declared in the schema — @hasRole on
// the fields only some roles may use, @anyRole on those every principal of the tenant may — and
// enforced here, in one place. Row-level rules (own rows, reports' rows, the whole tenant) belong
// to the store, which filters by them.
package policy

import (
	"context"
	"slices"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
)

// People's roles come from their tokens; the service roles only from API keys, so a token
// claiming BI or AGENT gets neither.
var (
	personRoles  = []string{"ADMIN", "HR", "MANAGER", "EMPLOYEE", "AUDITOR"}
	serviceRoles = []string{"BI", "AGENT"}
)

// HasAnyRole reports whether p holds one of roles.
func HasAnyRole(p *auth.Principal, roles []string) bool {
	for _, r := range roles {
		if holds(p, r) {
			return true
		}
	}
	return false
}

// HeldRoles are the roles p holds here: a person's of personRoles, a service's of serviceRoles.
func HeldRoles(p *auth.Principal) []string {
	var out []string
	for _, r := range p.Roles {
		if holds(p, r) {
			out = append(out, r)
		}
	}
	return out
}

func holds(p *auth.Principal, role string) bool {
	valid := personRoles
	if p.Service {
		valid = serviceRoles
	}
	return slices.Contains(valid, role) && p.HasRole(role)
}

// RequireKnownRole returns the request's principal if it holds any role this service knows: a
// token whose roles claim is missing or misconfigured gets nothing.
func RequireKnownRole(ctx context.Context) (*auth.Principal, error) {
	p, err := RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if !HasAnyRole(p, personRoles) && !HasAnyRole(p, serviceRoles) {
		return nil, apperr.New(apperr.Forbidden, "your token carries no role this service knows")
	}
	return p, nil
}

// RequireAnyRole returns the request's principal if it holds one of roles. The refusal names
// no data, so it reveals nothing about what exists.
func RequireAnyRole(ctx context.Context, roles []string) (*auth.Principal, error) {
	p, err := RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if !HasAnyRole(p, roles) {
		return nil, apperr.New(apperr.Forbidden, "your role does not allow this")
	}
	return p, nil
}

// Reach is how far a principal's row-level view extends over employees.
type Reach int

const (
	// ReachSelf: the principal's own employee only (EMPLOYEE, AGENT, AUDITOR).
	ReachSelf Reach = iota
	// ReachReports: also everyone who reports to them, directly or not (MANAGER).
	ReachReports
	// ReachTenant: every employee of the tenant (ADMIN, HR, BI).
	ReachTenant
	// ReachNone: no employee (a principal with no role this service knows).
	ReachNone
)

// EmployeeReach is the widest reach among p's roles.
func EmployeeReach(p *auth.Principal) Reach {
	switch {
	case HasAnyRole(p, []string{"ADMIN", "HR", "BI"}):
		return ReachTenant
	case HasAnyRole(p, []string{"MANAGER"}):
		return ReachReports
	// An AUDITOR reads audit logs and reports, not people's data: only their own profile.
	case HasAnyRole(p, []string{"EMPLOYEE", "AGENT", "AUDITOR"}):
		return ReachSelf
	default:
		return ReachNone
	}
}

// RequireMFA returns the request's principal if its token shows a second factor.
func RequireMFA(ctx context.Context) (*auth.Principal, error) {
	p, err := RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.MFA {
		return nil, apperr.New(apperr.MFARequired, "this operation needs a second factor: sign in again with MFA and retry")
	}
	return p, nil
}

// RequirePrincipal returns the request's principal, or UNAUTHENTICATED.
func RequirePrincipal(ctx context.Context) (*auth.Principal, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, apperr.New(apperr.Unauthenticated, "authentication required")
	}
	return p, nil
}
