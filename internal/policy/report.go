package policy

import (
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/store"
)

// ReportRoles may read reports (productivityReport, projectHoursReport and the /export/
// downloads): every role but AGENT, the desktop agent, which records time and reads nothing
// of others. The schema's @hasRole on the report fields lists the same roles (a test compares).
var ReportRoles = []string{"ADMIN", "HR", "MANAGER", "EMPLOYEE", "AUDITOR", "BI"}

// ReportReach is whose figures a principal's reports sum: the time entries' reach
// (EmployeeReach: a MANAGER their reports' and their own, an EMPLOYEE their own), except that an
// AUDITOR reads the whole tenant's reports. Report rows carry figures and employee ids, never
// personal data, and an AUDITOR's profile reach stays their own, so a report's employee field
// reads null for them.
func ReportReach(p *auth.Principal) Reach {
	if HasAnyRole(p, []string{"AUDITOR"}) {
		return ReachTenant
	}
	return EmployeeReach(p)
}

// ReportScope is the scope a principal's reports read with: the request's scope s (its tenant,
// its reach), widened to the whole tenant when ReportReach says so.
func ReportScope(p *auth.Principal, s store.Scope) store.Scope {
	if ReportReach(p) == ReachTenant {
		s.Visible = nil
	}
	return s
}
