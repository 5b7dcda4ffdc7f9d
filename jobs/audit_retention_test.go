package jobs_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/fileblob"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// Retention exports a month wholly past AUDIT_RETENTION, anchors each tenant's chain at its end
// and drops it — as the application role, through the narrow owner's-rights functions — and
// `audit verify` still verifies what remains. Recent months stay; a second run does nothing.
func TestAuditRetentionExportsAnchorsAndDrops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testdb.URL(t)
	owner, err := store.Open(ctx, dbURL, store.Opts{})
	require.NoError(t, err)
	t.Cleanup(owner.Close)
	app, err := store.Open(ctx, testdb.AppRoleURL(t, dbURL), store.Opts{})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	acme, err := owner.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	globex, err := owner.CreateTenant(ctx, "globex", "Globex")
	require.NoError(t, err)

	// Two years ago, through a store whose clock says so (its month's partition is made on demand).
	old := time.Now().AddDate(-2, 0, 0)
	past, err := store.Open(ctx, testdb.AppRoleURL(t, dbURL), store.Opts{Now: func() time.Time { return old }})
	require.NoError(t, err)
	t.Cleanup(past.Close)
	for i := range 3 {
		require.NoError(t, past.AppendAudit(ctx, store.Scope{TenantID: acme.ID}, store.AuditEntry{Action: "createTask", Count: i + 1}))
	}
	require.NoError(t, past.AppendAudit(ctx, store.Scope{TenantID: globex.ID}, store.AuditEntry{Action: "createProject"}))
	for range 2 {
		require.NoError(t, app.AppendAudit(ctx, store.Scope{TenantID: acme.ID}, store.AuditEntry{Action: "updateTask"}))
	}
	partition := "audit_logs_" + old.UTC().Format("y2006m01")

	// The database refuses to drop what is not due, or what no anchor covers.
	_, err = app.DropAuditPartition(ctx, "audit_logs_"+time.Now().UTC().Format("y2006m01"), time.Now())
	require.ErrorContains(t, err, "older than the retention")
	_, err = app.DropAuditPartition(ctx, partition, time.Now().AddDate(0, 0, -400))
	require.ErrorContains(t, err, "no anchor")
	_, err = app.DropAuditPartition(ctx, "time_entries_"+old.UTC().Format("y2006m01"), time.Now())
	require.ErrorContains(t, err, "not a partition of audit_logs")

	// The retention's floor is the database's (audit_policy, 400 days by default): a caller
	// asking for a shorter one drops nothing newer, and the application role cannot lower it.
	_, err = app.Pool().Exec(ctx, `UPDATE audit_policy SET min_retention = interval '30 days'`)
	require.ErrorContains(t, err, "owner of the audit tables only")
	_, err = app.Pool().Exec(ctx, `DELETE FROM audit_policy`)
	require.ErrorContains(t, err, "owner of the audit tables only")
	recent := time.Now().AddDate(0, -3, 0)
	recentStore, err := store.Open(ctx, testdb.AppRoleURL(t, dbURL), store.Opts{Now: func() time.Time { return recent }})
	require.NoError(t, err)
	t.Cleanup(recentStore.Close)
	initech, err := owner.CreateTenant(ctx, "initech", "Initech")
	require.NoError(t, err)
	require.NoError(t, recentStore.AppendAudit(ctx, store.Scope{TenantID: initech.ID}, store.AuditEntry{Action: "createTask"}))
	due, err := app.AuditPartitionsDue(ctx, time.Now().AddDate(0, 0, -30))
	require.NoError(t, err)
	for _, p := range due {
		require.NotEqual(t, "audit_logs_"+recent.UTC().Format("y2006m01"), p.Name, "a month within the floor is never due")
	}

	bucket, err := fileblob.OpenBucket(t.TempDir(), &fileblob.Options{CreateDir: true, NoTempDir: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bucket.Close() })
	r := jobs.AuditRetention{Store: app, Exports: bucket, Retention: 400 * 24 * time.Hour}
	dropped, err := r.RunOnce(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 4, dropped)

	var exists bool
	require.NoError(t, owner.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, partition).Scan(&exists))
	require.False(t, exists, "the month is dropped")

	// The export holds the month's entries, hashes included.
	rd, err := bucket.NewReader(ctx, jobs.AuditExportKey(acme.ID, partition), nil)
	require.NoError(t, err)
	gz, err := gzip.NewReader(rd)
	require.NoError(t, err)
	var seqs []int64
	sc := bufio.NewScanner(gz)
	for sc.Scan() {
		var line struct {
			Seq    int64
			Action string
			Hash   string
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		require.Equal(t, "createTask", line.Action)
		require.Len(t, line.Hash, 64)
		seqs = append(seqs, line.Seq)
	}
	require.NoError(t, rd.Close())
	require.Equal(t, []int64{1, 2, 3}, seqs)

	for _, tc := range []struct {
		tenant  *store.Tenant
		entries int64
	}{{acme, 2}, {globex, 0}} {
		v, err := owner.VerifyAudit(ctx, tc.tenant.ID)
		require.NoError(t, err)
		require.Nil(t, v.Break, tc.tenant.Slug)
		require.True(t, v.Anchored, tc.tenant.Slug)
		require.Equal(t, tc.entries, v.Entries, tc.tenant.Slug)
	}
	// The chain goes on from the anchor, and the rest still verifies.
	require.NoError(t, app.AppendAudit(ctx, store.Scope{TenantID: globex.ID}, store.AuditEntry{Action: "updateProject"}))
	v, err := owner.VerifyAudit(ctx, globex.ID)
	require.NoError(t, err)
	require.Nil(t, v.Break)
	require.EqualValues(t, 2, v.First)

	dropped, err = r.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, dropped, "nothing more is due")
}
