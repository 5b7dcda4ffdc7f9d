package graph

import (
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/store"
)

func scopeOf(p *auth.Principal) store.Scope {
	return store.Scope{TenantID: p.TenantID, ActorID: p.EmployeeID}
}
