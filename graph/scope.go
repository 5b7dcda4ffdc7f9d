package graph

import (
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/store"
)

// ScopeOf is the store scope of a request made by p: its tenant, acting as its employee.
func ScopeOf(p *auth.Principal) store.Scope {
	return store.Scope{TenantID: p.TenantID, ActorID: p.EmployeeID}
}
