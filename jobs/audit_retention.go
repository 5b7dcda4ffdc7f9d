package jobs

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gocloud.dev/blob"

	"github.com/workingtracker/api/store"
)

// AuditStore is what audit retention needs of the store.
type AuditStore interface {
	AuditPartitionsDue(ctx context.Context, olderThan time.Time) ([]store.AuditPartition, error)
	AuditTenants(ctx context.Context, slug string) ([]store.AuditTenant, error)
	EachAuditLog(ctx context.Context, scope store.Scope, from, to time.Time, fn func(*store.AuditLog) error) (int64, error)
	AnchorAudit(ctx context.Context, scope store.Scope, a store.AuditAnchor) error
	DropAuditPartition(ctx context.Context, partition string, olderThan time.Time) (int64, error)
}

// AuditExports is where dropped months are exported (the blob bucket).
type AuditExports interface {
	NewWriter(ctx context.Context, key string, opts *blob.WriterOptions) (*blob.Writer, error)
}

// AuditRetention drops the months of the audit trail wholly older than Retention, oldest first:
// for each month and each tenant with entries in it, it exports the entries as gzipped JSON
// lines to `tenants/<tenant>/audit/<partition>.jsonl.gz` in the bucket (a blob write commits
// on close: a run killed midway leaves no partial export), records an anchor (the month's last
// sequence and hash, so `audit verify` verifies what remains from it), then has the database
// detach and drop the partition (drop_audit_partition, with the owner's rights, which refuses a
// month without every tenant's anchor). A run killed at any point is resumed by the next one:
// exports are rewritten with the same entries, anchors are kept, the drop comes last. The
// leader inserts it daily (AuditRetentionArgs).
type AuditRetention struct {
	Store AuditStore
	// Exports receives the exports; without it nothing is dropped.
	Exports   AuditExports
	Retention time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
	// Every is the period (default 24h).
	Every time.Duration
}

// AuditExportKey is where a tenant's entries of a dropped partition are exported.
func AuditExportKey(tenant uuid.UUID, partition string) string {
	return fmt.Sprintf("tenants/%s/audit/%s.jsonl.gz", tenant, partition)
}

// auditExportLine is one exported entry: the stored fields, hashes in hex (as auditLogs shows
// them), enough to recompute each hash (store.AuditHash).
type auditExportLine struct {
	TenantID      uuid.UUID  `json:"tenantId"`
	ID            uuid.UUID  `json:"id"`
	Seq           int64      `json:"seq"`
	OccurredAt    time.Time  `json:"occurredAt"`
	ActorType     string     `json:"actorType"`
	ActorID       *uuid.UUID `json:"actorId"`
	Action        string     `json:"action"`
	ResourceType  *string    `json:"resourceType"`
	ResourceID    *uuid.UUID `json:"resourceId"`
	ChangedFields []string   `json:"changedFields"`
	Count         int        `json:"count"`
	Reason        *string    `json:"reason"`
	RequestID     *string    `json:"requestId"`
	ClientIP      *string    `json:"clientIp"`
	UserAgent     *string    `json:"userAgent"`
	PreviousHash  string     `json:"previousHash"`
	Hash          string     `json:"hash"`
}

// RunOnce drops every month due now; it returns how many entries went.
func (r AuditRetention) RunOnce(ctx context.Context) (int64, error) {
	if r.Exports == nil {
		return 0, errors.New("audit retention: no export bucket: nothing is dropped")
	}
	if r.Retention <= 0 {
		return 0, errors.New("audit retention: no retention period")
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	cutoff := now().Add(-r.Retention)
	parts, err := r.Store.AuditPartitionsDue(ctx, cutoff)
	if err != nil || len(parts) == 0 {
		return 0, err
	}
	tenants, err := r.Store.AuditTenants(ctx, "")
	if err != nil {
		return 0, err
	}
	var dropped int64
	for _, p := range parts {
		for _, t := range tenants {
			if err := r.exportAndAnchor(ctx, t.ID, p); err != nil {
				return dropped, err
			}
		}
		n, err := r.Store.DropAuditPartition(ctx, p.Name, cutoff)
		if err != nil {
			return dropped, err
		}
		dropped += n
		if r.Logger != nil {
			r.Logger.InfoContext(ctx, "dropped an audit month", "partition", p.Name, "entries", n)
		}
	}
	return dropped, nil
}

// exportAndAnchor exports tenant's entries of p and anchors its chain at the last of them.
func (r AuditRetention) exportAndAnchor(ctx context.Context, tenant uuid.UUID, p store.AuditPartition) error {
	scope := store.Scope{TenantID: tenant}
	key := AuditExportKey(tenant, p.Name)
	var last *store.AuditLog
	var w *blob.Writer
	var gz *gzip.Writer
	var enc *json.Encoder
	ctx, cancel := context.WithCancel(ctx) // cancelling abandons the blob write
	defer cancel()
	n, err := r.Store.EachAuditLog(ctx, scope, p.Start, p.End, func(l *store.AuditLog) error {
		if w == nil {
			var err error
			if w, err = r.Exports.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/x-ndjson",
				ContentEncoding: "gzip"}); err != nil {
				return fmt.Errorf("export %s: %w", key, err)
			}
			gz = gzip.NewWriter(w)
			enc = json.NewEncoder(gz)
		}
		last = l
		return enc.Encode(auditExportLine{TenantID: l.TenantID, ID: l.ID, Seq: l.Seq, OccurredAt: l.OccurredAt,
			ActorType: l.ActorType, ActorID: l.ActorID, Action: l.Action, ResourceType: l.ResourceType, ResourceID: l.ResourceID,
			ChangedFields: l.ChangedFields, Count: l.Count, Reason: l.Reason, RequestID: l.RequestID, ClientIP: l.ClientIP,
			UserAgent: l.UserAgent, PreviousHash: hex.EncodeToString(l.PreviousHash), Hash: hex.EncodeToString(l.Hash)})
	})
	if err != nil {
		return err
	}
	if last == nil {
		return nil // no entries of this tenant in the month
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("export %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("export %s: %w", key, err)
	}
	return r.Store.AnchorAudit(ctx, scope, store.AuditAnchor{TenantID: tenant, Seq: last.Seq, Hash: last.Hash,
		Partition: p.Name, ExportKey: key, Entries: n})
}

// AuditRetentionArgs is the periodic retention job. It concerns every tenant (each is read and
// anchored in its own scope).
type AuditRetentionArgs struct{}

// Kind names the job in river_job.
func (AuditRetentionArgs) Kind() string { return "audit_retention" }

// InsertOpts: a few attempts; the next day tries again.
func (AuditRetentionArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

type auditRetentionWorker struct {
	river.WorkerDefaults[AuditRetentionArgs]
	r AuditRetention
}

func (w *auditRetentionWorker) Work(ctx context.Context, _ *river.Job[AuditRetentionArgs]) error {
	_, err := w.r.RunOnce(ctx)
	return err
}

// Timeout: a month of a large tenant is exported in one run.
func (w *auditRetentionWorker) Timeout(*river.Job[AuditRetentionArgs]) time.Duration {
	return time.Hour
}

func (r AuditRetention) periodicJob() *river.PeriodicJob {
	every := r.Every
	if every <= 0 {
		every = 24 * time.Hour
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return AuditRetentionArgs{}, nil },
		&river.PeriodicJobOpts{ID: AuditRetentionArgs{}.Kind(), RunOnStart: true})
}
