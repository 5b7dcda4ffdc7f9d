package jobs

import (
	"errors"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/workingtracker/api/store"
)

// TenantArgs is embedded in the arguments of every job that concerns one tenant's rows: the
// job carries its tenant as a request's token does.
type TenantArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// ErrNoTenant cancels a tenant job inserted without a tenant: no retry would give it one.
var ErrNoTenant = errors.New("tenant job without tenant_id")

// TenantScope is the store scope a tenant job works in, as a request works in its principal's:
// every store call filters by the tenant and binds it for row-level security, so the job sees
// and writes that tenant's rows only. A job acts for the service, not for a person: the whole
// tenant is in reach and no write limits apply. A job without a tenant is cancelled.
func TenantScope(a TenantArgs) (store.Scope, error) {
	if a.TenantID == uuid.Nil {
		return store.Scope{}, river.JobCancel(ErrNoTenant)
	}
	return store.Scope{TenantID: a.TenantID}, nil
}
