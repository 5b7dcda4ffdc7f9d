// Package policy decides who may do what. Role rules are declared in the schema — @hasRole on
// the fields only some roles may use, @anyRole on those every principal of the tenant may — and
// enforced here, in one place (the directives graph wires are one call each into this package;
// CheckRootField refuses a root field that declares no rule, and applies the known-role rule to
// the entry points gqlgen adds, such as federation's _entities). Row-level rules are declared
// here too and handed to the store in the request's Scope (NewScope, once per operation), which
// filters by them:
//
// Read reach (EmployeeReach): whose rows — profiles, time entries, hours summed into
// Project.totalHours — a principal sees: ADMIN, HR and BI every employee of the tenant; a
// MANAGER themselves and everyone who reports to them, directly or not; EMPLOYEE, AGENT and
// AUDITOR themselves only; a principal with no role this service knows nobody.
//
// Write reach (Writes), beyond what the schema's role rules let a principal call:
//
//   - Projects: an ADMIN changes every project. A MANAGER changes a project — its fields, its
//     members and its tasks — when one of its members is in their read reach: themselves (the
//     projects they manage are those they are a member of, and a project a MANAGER creates
//     makes them its first member) or someone who reports to them. Nobody else changes
//     projects, whatever a future schema change lets them call.
//   - Members and assignees: only employees in the caller's read reach are added to or removed
//     from a project, or assigned a task (who must also be a member of the task's project);
//     reassigning or unassigning a task needs its current assignee in reach too.
//   - Employees: nobody changes their own hourlyRate; the identity fields of an ADMIN — name,
//     email, status and role — only an ADMIN with a second factor changes (so HR cannot change
//     an ADMIN's e-mail or status, and an ADMIN without MFA is asked to step up).
//
// A principal holding several roles gets the widest reach among them.
package policy

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/store"
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

// Fields (GraphQL input names of UpdateEmployeeInput) the write rules lock.
var (
	// Nobody sets their own pay.
	selfLockedFields = []string{"hourlyRate"}
	// Who an ADMIN is — and so who holds the tenant's highest role — only an ADMIN with a
	// second factor changes.
	adminIdentityFields = []string{"name", "email", "status", "role"}
)

// Writes are the row-level limits of p's writes (see the package documentation), given the
// employees its reads reach (visible, as in the store's Scope: nil for the whole tenant).
func Writes(p *auth.Principal, visible []uuid.UUID) store.WriteLimits {
	w := store.WriteLimits{SelfLocked: selfLockedFields, AdminLocked: adminIdentityFields, AdminRefusal: apperr.Forbidden}
	if HasAnyRole(p, []string{"ADMIN"}) {
		if p.MFA {
			w.AdminLocked = nil
		} else {
			w.AdminRefusal = apperr.MFARequired
		}
	}
	switch {
	case HasAnyRole(p, []string{"ADMIN"}):
		// every project
	case HasAnyRole(p, []string{"MANAGER"}):
		// Projects with a member in reach; with the whole tenant in reach (also HR) that is
		// every project.
		w.ProjectsOf = visible
		w.JoinCreatedProjects = visible != nil
	default:
		w.ProjectsOf = []uuid.UUID{}
	}
	return w
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
