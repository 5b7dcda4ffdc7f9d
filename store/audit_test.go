package store_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

type auditBundle struct {
	ctx    context.Context
	s      *store.Store
	url    string
	tenant *store.Tenant
	scope  store.Scope
}

func setupAudit(t *testing.T) auditBundle {
	t.Helper()
	ctx := context.Background()
	url := testdb.URL(t)
	s, err := store.Open(ctx, url, store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	return auditBundle{ctx: ctx, s: s, url: url, tenant: tenant, scope: store.Scope{TenantID: tenant.ID}}
}

// superuser runs fn as the server's superuser on the test's database: row-level security and
// (with session_replication_role) triggers do not bind it — the attacker the chain is for.
func superuser(t *testing.T, dbURL string, fn func(conn *pgx.Conn)) {
	t.Helper()
	ctx := context.Background()
	target, err := url.Parse(dbURL)
	require.NoError(t, err)
	admin, err := url.Parse(os.Getenv("TEST_DATABASE_URL"))
	require.NoError(t, err)
	admin.Path = target.Path
	conn, err := pgx.Connect(ctx, admin.String())
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `SET session_replication_role = replica`)
	require.NoError(t, err)
	fn(conn)
}

func appendN(t *testing.T, b auditBundle, scope store.Scope, n int) {
	t.Helper()
	for i := range n {
		actor := uuid.New()
		require.NoError(t, b.s.AppendAudit(b.ctx, scope, store.AuditEntry{ActorType: store.AuditActorEmployee, ActorID: &actor,
			Action: "updateEmployee", ResourceType: "Employee", ResourceID: &actor, ChangedFields: []string{"name", "email"},
			Reason: "", RequestID: "req-" + string(rune('a'+i))}))
	}
}

func TestAuditChainVerifies(t *testing.T) {
	t.Parallel()
	b := setupAudit(t)
	appendN(t, b, b.scope, 5)
	v, err := b.s.VerifyAudit(b.ctx, b.tenant.ID)
	require.NoError(t, err)
	require.Nil(t, v.Break)
	require.EqualValues(t, 5, v.Entries)
	require.EqualValues(t, 1, v.First)
	require.EqualValues(t, 5, v.Last)

	page, err := b.s.ListAuditLogs(b.ctx, b.scope, store.ListAuditLogsParams{}, store.PageParams{First: 10})
	require.NoError(t, err)
	require.Len(t, page.Rows, 5)
	require.EqualValues(t, 5, page.Rows[0].Seq, "newest first")
	require.Equal(t, store.GenesisAuditHash, page.Rows[4].PreviousHash)
	require.Equal(t, page.Rows[1].Hash, page.Rows[0].PreviousHash, "each entry chains from the one before")
	require.Equal(t, []string{"name", "email"}, page.Rows[0].ChangedFields)
	require.Equal(t, store.AuditHash(page.Rows[0]), page.Rows[0].Hash)
}

// An entry edited directly in the database and an entry deleted are both found, named by
// sequence and id; so is an entry deleted at the end of the chain (against the head).
func TestAuditVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		tamper  string
		seq     int64
		problem string
	}{
		{"ErrEdited", `UPDATE audit_logs SET changed_fields = '{hourlyRate}' WHERE tenant_id = $1 AND seq = 3`, 3, "edited"},
		{"ErrEditedAndRehashed", `UPDATE audit_logs SET action = 'nothing', hash = sha256(hash) WHERE tenant_id = $1 AND seq = 3`, 3, ""},
		{"ErrDeleted", `DELETE FROM audit_logs WHERE tenant_id = $1 AND seq = 3`, 3, "missing"},
		{"ErrDeletedLast", `DELETE FROM audit_logs WHERE tenant_id = $1 AND seq = 5`, 5, "missing at the end"},
		{"ErrDeletedFirst", `DELETE FROM audit_logs WHERE tenant_id = $1 AND seq = 1`, 1, "no retention anchor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupAudit(t)
			appendN(t, b, b.scope, 5)
			var id uuid.UUID
			superuser(t, b.url, func(conn *pgx.Conn) {
				_ = conn.QueryRow(b.ctx, `SELECT id FROM audit_logs WHERE tenant_id = $1 AND seq = $2`, b.tenant.ID, tc.seq).Scan(&id)
				tag, err := conn.Exec(b.ctx, tc.tamper, b.tenant.ID)
				require.NoError(t, err)
				require.EqualValues(t, 1, tag.RowsAffected())
			})
			v, err := b.s.VerifyAudit(b.ctx, b.tenant.ID)
			require.NoError(t, err)
			require.NotNil(t, v.Break, "tampering found")
			require.Equal(t, tc.seq, v.Break.Seq, v.Break.Error())
			require.Contains(t, v.Break.Problem, tc.problem)
			if tc.problem == "edited" {
				require.Equal(t, id, v.Break.ID)
			}
			require.Contains(t, v.Break.Error(), b.tenant.ID.String())
		})
	}
}

// The application role cannot change or remove entries: the grants refuse it, and the trigger
// refuses even the tables' owner.
func TestAuditLogsAreAppendOnly(t *testing.T) {
	t.Parallel()
	b := setupAudit(t)
	appendN(t, b, b.scope, 2)
	app, err := store.Open(b.ctx, testdb.AppRoleURL(t, b.url), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	for _, db := range []struct {
		name string
		s    *store.Store
	}{{"app role", app}, {"owner", b.s}} {
		for _, stmt := range []string{
			`UPDATE audit_logs SET action = 'x' WHERE tenant_id = $1`,
			`DELETE FROM audit_logs WHERE tenant_id = $1`,
			`DELETE FROM audit_heads WHERE tenant_id = $1`,
			`UPDATE audit_heads SET seq = 0 WHERE tenant_id = $1`,
			`TRUNCATE audit_logs`,
		} {
			err := testdb.AsTenant(b.ctx, db.s.Pool(), b.tenant.ID, func(tx pgx.Tx) error {
				if stmt == `TRUNCATE audit_logs` {
					_, err := tx.Exec(b.ctx, stmt)
					return err
				}
				_, err := tx.Exec(b.ctx, stmt, b.tenant.ID)
				return err
			})
			require.Error(t, err, "%s: %s", db.name, stmt)
			require.Regexp(t, "permission denied|append-only|only move forward", err.Error())
		}
	}
	// The app role writes entries through the store like the service.
	appendN(t, auditBundle{ctx: b.ctx, s: app, tenant: b.tenant, scope: b.scope}, b.scope, 1)
	v, err := b.s.VerifyAudit(b.ctx, b.tenant.ID)
	require.NoError(t, err)
	require.Nil(t, v.Break)
	require.EqualValues(t, 3, v.Entries)
}

// Concurrent writers of one tenant get consecutive sequences and one unbroken chain.
func TestAuditConcurrentWritersChain(t *testing.T) {
	t.Parallel()
	b := setupAudit(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				require.NoError(t, b.s.AppendAudit(b.ctx, b.scope, store.AuditEntry{Action: "createTimeEntry"}))
			}
		}()
	}
	wg.Wait()
	v, err := b.s.VerifyAudit(b.ctx, b.tenant.ID)
	require.NoError(t, err)
	require.Nil(t, v.Break)
	require.EqualValues(t, 40, v.Entries)
	require.EqualValues(t, 40, v.Last)
}

// A writer holding one tenant's chain does not hold up another tenant's writers: the lock is
// the tenant's head row, not the table.
func TestAuditTenantsDoNotBlockEachOther(t *testing.T) {
	t.Parallel()
	b := setupAudit(t)
	other, err := b.s.CreateTenant(b.ctx, "globex", "Globex")
	require.NoError(t, err)
	appendN(t, b, b.scope, 1)
	appendN(t, b, store.Scope{TenantID: other.ID}, 1)

	locked := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	// Hold acme's head for update in a transaction of our own.
	go func() {
		done <- testdb.AsTenant(b.ctx, b.s.Pool(), b.tenant.ID, func(tx pgx.Tx) error {
			if _, err := tx.Exec(b.ctx, `SELECT FROM audit_heads WHERE tenant_id = $1 FOR UPDATE`, b.tenant.ID); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	require.NoError(t, b.s.AppendAudit(ctx, store.Scope{TenantID: other.ID}, store.AuditEntry{Action: "fast"}),
		"globex writes while acme's chain is held")
	short, cancelShort := context.WithTimeout(b.ctx, 300*time.Millisecond)
	defer cancelShort()
	err = b.s.AppendAudit(short, b.scope, store.AuditEntry{Action: "waits"})
	require.Error(t, err, "acme's own writers wait for its chain")
	close(release)
	require.NoError(t, <-done)
	for _, tenant := range []uuid.UUID{b.tenant.ID, other.ID} {
		v, err := b.s.VerifyAudit(b.ctx, tenant)
		require.NoError(t, err)
		require.Nil(t, v.Break)
	}
}

// A transaction that rolls back leaves no entry; one that appends explicitly records it with
// its change.
func TestAuditEntryCommitsWithItsTransaction(t *testing.T) {
	t.Parallel()
	b := setupAudit(t)
	boom := errors.New("boom")
	err := b.s.InTx(b.ctx, b.scope, func(tx *store.Store) error {
		require.NoError(t, tx.AppendAudit(b.ctx, b.scope, store.AuditEntry{Action: "pii.reveal"}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	page, err := b.s.ListAuditLogs(b.ctx, b.scope, store.ListAuditLogsParams{}, store.PageParams{First: 10})
	require.NoError(t, err)
	require.Empty(t, page.Rows)

	err = b.s.AppendAudit(b.ctx, b.scope, store.AuditEntry{Action: "pii.reveal", Reason: string(make([]rune, 1001))})
	var appErr *apperr.Error
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, apperr.BadUserInput, appErr.Code)
}

// Filters and pagination of the trail, newest first, never across tenants.
func TestListAuditLogsFiltersAndPages(t *testing.T) {
	t.Parallel()
	b := setupAudit(t)
	other, err := b.s.CreateTenant(b.ctx, "globex", "Globex")
	require.NoError(t, err)
	actor, resource := uuid.New(), uuid.New()
	for i := range 7 {
		e := store.AuditEntry{Action: "createTask"}
		if i%2 == 0 {
			e.ActorType, e.ActorID = store.AuditActorEmployee, &actor
			e.Action, e.ResourceType, e.ResourceID = "updateTask", "Task", &resource
		}
		require.NoError(t, b.s.AppendAudit(b.ctx, b.scope, e))
	}
	require.NoError(t, b.s.AppendAudit(b.ctx, store.Scope{TenantID: other.ID}, store.AuditEntry{Action: "updateTask"}))

	var seen []int64
	after := ""
	for {
		page, err := b.s.ListAuditLogs(b.ctx, b.scope, store.ListAuditLogsParams{}, store.PageParams{First: 3, After: after})
		require.NoError(t, err)
		for _, l := range page.Rows {
			require.Equal(t, b.tenant.ID, l.TenantID)
			seen = append(seen, l.Seq)
		}
		if !page.HasNextPage {
			break
		}
		after = store.AuditLogCursor(page.Rows[len(page.Rows)-1])
	}
	require.Equal(t, []int64{7, 6, 5, 4, 3, 2, 1}, seen)

	action := "updateTask"
	for _, f := range []store.ListAuditLogsParams{{ActorID: &actor}, {Action: &action}, {ResourceID: &resource},
		{ResourceType: ptr("Task"), ResourceID: &resource}} {
		page, err := b.s.ListAuditLogs(b.ctx, b.scope, f, store.PageParams{First: 10})
		require.NoError(t, err)
		require.Len(t, page.Rows, 4, "%+v", f)
	}
	page, err := b.s.ListAuditLogs(b.ctx, b.scope, store.ListAuditLogsParams{Range: store.TimeRange{To: time.Now().Add(-time.Hour)}},
		store.PageParams{First: 10})
	require.NoError(t, err)
	require.Empty(t, page.Rows)
	_, err = b.s.ListAuditLogs(b.ctx, b.scope, store.ListAuditLogsParams{Range: store.TimeRange{From: time.Now(), To: time.Now().Add(-time.Hour)}},
		store.PageParams{First: 10})
	require.Error(t, err)
}
