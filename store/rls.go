package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Row-level security is the second line of tenant isolation: every tenant table's policy admits
// only rows of the tenant named by the session setting app.tenant_id, so a query that forgot its
// tenant filter returns nothing rather than another tenant's rows. (Superusers bypass RLS: the
// service must connect as an ordinary role, as the tests do.)

type tenantKey struct{}

const tenantSetting = "wt.tenant" // CustomData key: the tenant a pooled connection is set to

// tenantPrepareConn sets app.tenant_id on a connection as it leaves the pool for a read: to the
// tenant the read's context carries (Scope.bind), or to none. A connection keeps its setting, so
// consecutive reads of one tenant cost no extra round trip.
func tenantPrepareConn(ctx context.Context, conn *pgx.Conn) (bool, error) {
	want := ""
	if id, ok := ctx.Value(tenantKey{}).(uuid.UUID); ok && id != uuid.Nil {
		want = id.String()
	}
	data := conn.PgConn().CustomData()
	if current, ok := data[tenantSetting].(string); ok && current == want {
		return true, nil
	}
	if _, err := conn.Exec(ctx, `SELECT set_config('app.tenant_id', $1, false)`, want); err != nil {
		return false, fmt.Errorf("set tenant: %w", err)
	}
	data[tenantSetting] = want
	return true, nil
}
