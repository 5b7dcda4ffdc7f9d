package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AuditPartition is a month of audit_logs.
type AuditPartition struct {
	Name       string
	Start, End time.Time
}

// AuditPartitionsDue lists the months of audit_logs that end at or before olderThan (never
// later than 30 days ago: the database clamps it), oldest first.
func (s *Store) AuditPartitionsDue(ctx context.Context, olderThan time.Time) ([]AuditPartition, error) {
	return collect(ctx, s.pool, "audit partitions", `SELECT partition, month_start, month_end FROM audit_partitions_due($1)`,
		[]any{olderThan}, func(r pgx.Row) (AuditPartition, error) {
			var p AuditPartition
			return p, r.Scan(&p.Name, &p.Start, &p.End)
		})
}

// EachAuditLog calls fn with each of the scope's tenant's entries that occurred in [from, to),
// in chain order, reading row by row; it returns how many there were.
func (s *Store) EachAuditLog(ctx context.Context, scope Scope, from, to time.Time, fn func(*AuditLog) error) (int64, error) {
	rows, err := s.pool.Query(scope.bind(ctx), `SELECT `+auditColumns+` FROM audit_logs a
		WHERE a.tenant_id = $1 AND a.occurred_at >= $2 AND a.occurred_at < $3 ORDER BY a.occurred_at, a.seq`, scope.TenantID, from, to)
	if err != nil {
		return 0, fmt.Errorf("read audit logs: %w", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		l, err := scanAuditLog(rows)
		if err != nil {
			return n, fmt.Errorf("read audit logs: %w", err)
		}
		if err := fn(l); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// AuditAnchor is where a tenant's chain resumes after retention dropped a month: the month's
// last entry (its sequence and hash), where the month was exported and how many entries it had.
type AuditAnchor struct {
	TenantID  uuid.UUID
	Seq       int64
	Hash      []byte
	Partition string
	ExportKey string
	Entries   int64
}

// AnchorAudit records a (idempotent: an anchor already recorded at that sequence stays).
func (s *Store) AnchorAudit(ctx context.Context, scope Scope, a AuditAnchor) error {
	_, err := inTx(unaudited(ctx), s, scope, func(tx *Store) (struct{}, error) {
		_, err := tx.db.NewRaw(`INSERT INTO audit_anchors (tenant_id, seq, hash, partition, export_key, entries)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, seq) DO NOTHING`,
			scope.TenantID, a.Seq, a.Hash, a.Partition, nonEmpty(a.ExportKey), a.Entries).Exec(ctx)
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("anchor audit chain: %w", err)
	}
	return nil
}

// DropAuditPartition detaches and drops partition (the database function drop_audit_partition,
// with its owner's rights: only a month AuditPartitionsDue lists for olderThan, and only once
// every tenant with entries in it has its anchor). It returns how many entries went with it.
func (s *Store) DropAuditPartition(ctx context.Context, partition string, olderThan time.Time) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT drop_audit_partition($1, $2)`, partition, olderThan).Scan(&n); err != nil {
		return 0, fmt.Errorf("drop %s: %w", partition, err)
	}
	return n, nil
}
