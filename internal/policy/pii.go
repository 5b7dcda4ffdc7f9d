package policy

import (
	"context"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
)

// PIIView is how much of an employee's personal data (the fields declared @pii) a principal
// sees. Plaintext is never a view: it leaves the server only through revealEmployeePII and
// exportEmployeeData, each audited.
type PIIView int

const (
	// PIIHidden: null (the zero value, so that a field that finds no decision returns null).
	PIIHidden PIIView = iota
	// PIIMasked: the full mask ("***-**-****"), which needs no decryption.
	PIIMasked
	// PIILastFour: the mask ending in the value's last four characters ("***-**-6789").
	PIILastFour
)

// PIIViewOf is what p sees of the personal data of employee, a row it may read: the last four
// for HR, ADMIN and the employee themself; the full mask for the other roles that see people's
// rows (MANAGER, EMPLOYEE); nothing for AUDITOR (audit logs and reports, no personal data), for
// the service principals BI and AGENT, and for a principal with no role this service knows. A
// principal holding several roles gets the widest view among them.
func PIIViewOf(p *auth.Principal, employee uuid.UUID) PIIView {
	if p == nil {
		return PIIHidden
	}
	view := PIIHidden
	for _, role := range p.Roles {
		if !holds(p, role) {
			continue
		}
		var v PIIView
		switch role {
		case "ADMIN", "HR":
			v = PIILastFour
		case "MANAGER", "EMPLOYEE":
			v = PIIMasked
			if p.EmployeeID != uuid.Nil && p.EmployeeID == employee {
				v = PIILastFour
			}
		}
		view = max(view, v)
	}
	return view
}

// PIILastFourOfAll reports whether p sees the last four of every employee it may read (HR,
// ADMIN): reads of many rows then fetch the ciphertexts with them.
func PIILastFourOfAll(p *auth.Principal) bool {
	return p != nil && HasAnyRole(p, []string{"ADMIN", "HR"})
}

// LastFourShown reports whether the principal of ctx sees employee's last four (PIIViewOf), and
// the tenant whose keys decrypt them (the principal's): the resolver of a @pii field, reached
// for the last four, asks both in one look-up of the request's context.
func LastFourShown(ctx context.Context, employee uuid.UUID) (tenant uuid.UUID, shown bool) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok || PIIViewOf(p, employee) != PIILastFour {
		return uuid.Nil, false
	}
	return p.TenantID, true
}

// PIIViewIn is what the principal of ctx sees of employee's personal data (PIIViewOf): the
// @pii directive's decision.
func PIIViewIn(ctx context.Context, employee uuid.UUID) PIIView {
	p, _ := auth.PrincipalFrom(ctx)
	return PIIViewOf(p, employee)
}

// RequireExport admits a request for everything held about employee (GDPR access,
// exportEmployeeData): the employee themself, or HR or ADMIN with a second factor (without one
// they get MFA_REQUIRED, to step up). The service principals never: an API key is not the
// person. Whether the employee is in the principal's reach is the store's question (NOT_FOUND).
func RequireExport(ctx context.Context, employee uuid.UUID) (*auth.Principal, error) {
	p, err := RequireKnownRole(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Service && p.EmployeeID != uuid.Nil && p.EmployeeID == employee {
		return p, nil
	}
	if !HasAnyRole(p, []string{"ADMIN", "HR"}) {
		return nil, apperr.New(apperr.Forbidden, "your role does not allow this")
	}
	if !p.MFA {
		return nil, apperr.New(apperr.MFARequired, "this operation needs a second factor: sign in again with MFA and retry")
	}
	return p, nil
}
