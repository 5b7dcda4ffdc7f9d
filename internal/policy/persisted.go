package policy

import "github.com/workingtracker/api/internal/auth"

// RegisteredOperationsOnly reports whether p may run only the operations registered for its
// tenant (trusted documents): BI keys, whose dashboards run approved reports and nothing else,
// whatever TRUSTED_DOCUMENTS says for everyone else.
func RegisteredOperationsOnly(p *auth.Principal) bool {
	return HasAnyRole(p, []string{"BI"})
}
