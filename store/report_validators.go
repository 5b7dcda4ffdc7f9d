package store

import (
	"context"
	"fmt"
)

// ProjectsVersion is a digest of the scope's tenant's projects as a project hours report shows
// them (which projects exist, their names, statuses, budgets and billing, and when each last
// changed): it changes whenever one of them does. HTTP caching puts it in the validator of an
// operation that reads projectHoursReport, whose rows are the live project list beside the
// views' figures. It reads every project of the tenant (an index-only walk of a few hundred
// rows in practice), far less than the report.
func (s *Store) ProjectsVersion(ctx context.Context, scope Scope) (string, error) {
	var n int64
	var digest string
	err := s.pool.QueryRow(scope.bind(ctx), `SELECT count(*), coalesce(md5(string_agg(
			concat_ws('|', p.id, p.name, p.status, p.budget_hours, p.billable, p.updated_at), E'\n' ORDER BY p.id)), '')
		FROM projects p WHERE p.tenant_id = $1`, scope.TenantID).Scan(&n, &digest)
	if err != nil {
		return "", fmt.Errorf("read projects version: %w", err)
	}
	return fmt.Sprintf("%d:%s", n, digest), nil
}
