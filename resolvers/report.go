package resolvers

import (
	"context"

	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/store"
)

// ReportReader is what the report resolvers need of the store.
type ReportReader interface {
	// ProductivityReport and ProjectHoursReport read a page of a report within scope
	// (BAD_USER_INPUT naming the filter field at fault).
	ProductivityReport(ctx context.Context, scope store.Scope, p store.ProductivityParams, page store.PageParams) (store.Page[*store.ProductivityRow], error)
	ProjectHoursReport(ctx context.Context, scope store.Scope, p store.ProjectHoursParams, page store.PageParams) (store.Page[*store.ProjectHoursRow], error)
	// ReportFreshness says when the report views were refreshed and the next refresh is due.
	ReportFreshness(ctx context.Context) (store.ReportFreshness, error)
}

// reportScope is the scope reports read with: the request's, widened where policy.ReportReach
// says (an AUDITOR reads the tenant's reports).
func reportScope(ctx context.Context) (store.Scope, error) {
	s, err := scope(ctx)
	if err != nil {
		return s, err
	}
	p, err := policy.RequirePrincipal(ctx)
	if err != nil {
		return s, err
	}
	return policy.ReportScope(p, s), nil
}

// freshness reads the report views' freshness for a report connection.
func (r *Resolver) freshness(ctx context.Context) (*store.ReportFreshness, error) {
	f, err := r.store.ReportFreshness(ctx)
	if err != nil {
		return nil, err
	}
	return &f, nil
}
