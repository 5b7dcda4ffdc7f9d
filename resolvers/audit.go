package resolvers

import (
	"context"

	"github.com/workingtracker/api/graph/model"
	"github.com/workingtracker/api/store"
)

// AuditReader reads the audit trail.
type AuditReader interface {
	// ListAuditLogs returns a page of the scope's tenant's entries, newest first.
	ListAuditLogs(ctx context.Context, scope store.Scope, filter store.ListAuditLogsParams, page store.PageParams) (store.Page[*store.AuditLog], error)
}

func auditLogParams(f *model.AuditLogFilter) (store.ListAuditLogsParams, error) {
	var p store.ListAuditLogsParams
	if f == nil {
		return p, nil
	}
	var err error
	if p.ActorID, err = parseOptionalID("actorId", f.ActorID); err != nil {
		return p, err
	}
	if p.ResourceID, err = parseOptionalID("resourceId", f.ResourceID); err != nil {
		return p, err
	}
	p.Action, p.ResourceType = f.Action, f.ResourceType
	if f.From != nil {
		p.Range.From = *f.From
	}
	if f.To != nil {
		p.Range.To = *f.To
	}
	return p, nil
}
