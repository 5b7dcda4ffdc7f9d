package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/workingtracker/api/internal/apperr"
)

// ListAuditLogsParams narrows ListAuditLogs; every filter given must match.
type ListAuditLogsParams struct {
	ActorID      *uuid.UUID
	Action       *string
	ResourceType *string
	ResourceID   *uuid.UUID
	// Range is a half-open interval on occurred_at; it prunes the monthly partitions read.
	Range TimeRange
}

type auditCursor struct {
	At  time.Time `json:"t"`
	Seq int64     `json:"s"`
}

// AuditLogCursor is the opaque cursor of l in ListAuditLogs' order.
func AuditLogCursor(l *AuditLog) string { return encodeCursor(auditCursor{l.OccurredAt, l.Seq}) }

const auditColumns = `a.tenant_id, a.id, a.seq, a.occurred_at, a.actor_type, a.actor_id, a.action, a.resource_type,
	a.resource_id, a.changed_fields, a.count, a.reason, a.request_id, a.client_ip, a.user_agent, a.hash, a.previous_hash`

func scanAuditLog(row pgx.Row) (*AuditLog, error) {
	var l AuditLog
	err := row.Scan(&l.TenantID, &l.ID, &l.Seq, &l.OccurredAt, &l.ActorType, &l.ActorID, &l.Action, &l.ResourceType,
		&l.ResourceID, &l.ChangedFields, &l.Count, &l.Reason, &l.RequestID, &l.ClientIP, &l.UserAgent, &l.Hash, &l.PreviousHash)
	if l.ChangedFields == nil {
		l.ChangedFields = []string{}
	}
	return &l, err
}

// Newest first: a backward scan of (tenant_id, occurred_at, seq) — the primary key, or the
// filter's index — which an ordered append over the monthly partitions stops early.
var auditList = keysetList[*AuditLog, auditCursor]{
	what: "audit logs", from: "audit_logs a", columns: auditColumns, order: "a.occurred_at DESC, a.seq DESC",
	after: func(c auditCursor) (string, []any) {
		return "(a.occurred_at, a.seq) < (?, ?)", []any{c.At, c.Seq}
	},
	scan: scanAuditLog,
}

// ListAuditLogs returns a page of the scope's tenant's audit trail matching filter, newest
// first. Who may read it is the caller's rule (ADMIN and AUDITOR, by the schema). Errors:
// BAD_USER_INPUT (to before from, a bad cursor or page size).
func (s *Store) ListAuditLogs(ctx context.Context, scope Scope, filter ListAuditLogsParams, page PageParams) (Page[*AuditLog], error) {
	if !filter.Range.From.IsZero() && !filter.Range.To.IsZero() && !filter.Range.To.After(filter.Range.From) {
		return Page[*AuditLog]{}, apperr.Invalid("to", "to must be after from")
	}
	w := &where{}
	w.add("a.tenant_id = ?", scope.TenantID)
	if filter.ActorID != nil {
		w.add("a.actor_id = ?", *filter.ActorID)
	}
	if filter.Action != nil {
		w.add("a.action = ?", *filter.Action)
	}
	if filter.ResourceType != nil {
		w.add("a.resource_type = ?", *filter.ResourceType)
	}
	if filter.ResourceID != nil {
		w.add("a.resource_id = ?", *filter.ResourceID)
	}
	if !filter.Range.From.IsZero() {
		w.add("a.occurred_at >= ?", filter.Range.From)
	}
	if !filter.Range.To.IsZero() {
		w.add("a.occurred_at < ?", filter.Range.To)
	}
	return auditList.page(scope.bind(ctx), s.pool, w, page)
}

// AuditTenant names a tenant whose chain audit verification walks.
type AuditTenant struct {
	ID   uuid.UUID
	Slug string
}

// AuditTenants lists every tenant, or the one of slug when it is not empty (NOT_FOUND when
// none has it). Not scoped: for the `audit verify` command.
func (s *Store) AuditTenants(ctx context.Context, slug string) ([]AuditTenant, error) {
	sql, args := `SELECT id, slug FROM tenants ORDER BY slug`, []any{}
	if slug != "" {
		sql, args = `SELECT id, slug FROM tenants WHERE slug = $1`, []any{slug}
	}
	out, err := collect(ctx, s.pool, "tenants", sql, args, func(r pgx.Row) (AuditTenant, error) {
		var t AuditTenant
		return t, r.Scan(&t.ID, &t.Slug)
	})
	if err == nil && slug != "" && len(out) == 0 {
		return nil, apperr.New(apperr.NotFound, "tenant %q not found", slug)
	}
	return out, err
}

// AuditBreak is the first entry where a tenant's chain does not hold.
type AuditBreak struct {
	TenantID uuid.UUID
	Seq      int64
	// ID is the entry's id (zero when the entry is missing).
	ID uuid.UUID
	// Problem says what is wrong, e.g. "hash does not match the entry" (edited), "sequence
	// 12 is missing" (deleted).
	Problem string
}

func (b *AuditBreak) Error() string {
	id := "-"
	if b.ID != uuid.Nil {
		id = b.ID.String()
	}
	return fmt.Sprintf("tenant %s: entry seq %d (id %s): %s", b.TenantID, b.Seq, id, b.Problem)
}

// AuditVerification is what VerifyAudit found in one tenant's chain.
type AuditVerification struct {
	// Entries were checked, from seq First to Last; Anchored: the chain starts at a retention
	// anchor rather than at its first entry.
	Entries     int64
	First, Last int64
	Anchored    bool
	// Break is the first broken entry (nil: the chain holds).
	Break *AuditBreak
}

// VerifyAudit recomputes the tenant's chain in sequence order: each entry's hash from its
// fields and the previous entry's hash; sequences without a gap from 1, or from a retention
// anchor (whose hash the first remaining entry must chain from); every anchor whose entry still
// exists equal to it; and the head (the last sequence and hash the writers saw) equal to the
// last entry, so that an entry deleted at the end is found too. It reads through the pool as the
// tenant, row by row (memory does not grow with the chain), in one snapshot.
func (s *Store) VerifyAudit(ctx context.Context, tenantID uuid.UUID) (AuditVerification, error) {
	var v AuditVerification
	// One snapshot for anchors, head and entries: writers appending meanwhile are not seen.
	err := pgx.BeginTxFunc(Scope{TenantID: tenantID}.bind(ctx), s.pool,
		pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			var err error
			v, err = verifyAudit(ctx, tx, tenantID)
			return err
		})
	return v, err
}

func verifyAudit(ctx context.Context, db pgx.Tx, tenantID uuid.UUID) (AuditVerification, error) {
	var v AuditVerification
	brk := func(seq int64, id uuid.UUID, format string, args ...any) (AuditVerification, error) {
		v.Break = &AuditBreak{TenantID: tenantID, Seq: seq, ID: id, Problem: fmt.Sprintf(format, args...)}
		return v, nil
	}
	anchors := map[int64][]byte{}
	rows, err := db.Query(ctx, `SELECT seq, hash FROM audit_anchors WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return v, fmt.Errorf("read audit anchors: %w", err)
	}
	for rows.Next() {
		var seq int64
		var h []byte
		if err := rows.Scan(&seq, &h); err != nil {
			rows.Close()
			return v, fmt.Errorf("read audit anchors: %w", err)
		}
		anchors[seq] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return v, fmt.Errorf("read audit anchors: %w", err)
	}
	headSeq, headHash := int64(0), GenesisAuditHash
	err = db.QueryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1`, tenantID).Scan(&headSeq, &headHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("read audit head: %w", err)
	}

	rows, err = db.Query(ctx, `SELECT `+auditColumns+` FROM audit_logs a WHERE a.tenant_id = $1
		ORDER BY a.occurred_at, a.seq`, tenantID)
	if err != nil {
		return v, fmt.Errorf("read audit logs: %w", err)
	}
	defer rows.Close()
	var prev *AuditLog
	for rows.Next() {
		l, err := scanAuditLog(rows)
		if err != nil {
			return v, fmt.Errorf("read audit logs: %w", err)
		}
		v.Entries++
		switch {
		case prev == nil && l.Seq == 1:
			if !bytes.Equal(l.PreviousHash, GenesisAuditHash) {
				return brk(l.Seq, l.ID, "the first entry's previous hash is not the genesis hash")
			}
		case prev == nil:
			anchor, ok := anchors[l.Seq-1]
			if !ok {
				return brk(l.Seq-1, uuid.Nil, "entries 1 to %d are missing and no retention anchor covers them", l.Seq-1)
			}
			if !bytes.Equal(l.PreviousHash, anchor) {
				return brk(l.Seq, l.ID, "previous hash %s does not match the retention anchor of seq %d (%s)",
					short(l.PreviousHash), l.Seq-1, short(anchor))
			}
			v.Anchored = true
		case l.Seq == prev.Seq:
			return brk(l.Seq, l.ID, "sequence %d appears twice", l.Seq)
		case l.Seq != prev.Seq+1:
			return brk(prev.Seq+1, uuid.Nil, "entry is missing (the chain jumps from seq %d to %d)", prev.Seq, l.Seq)
		case !bytes.Equal(l.PreviousHash, prev.Hash):
			return brk(l.Seq, l.ID, "previous hash %s is not seq %d's hash %s", short(l.PreviousHash), prev.Seq, short(prev.Hash))
		}
		if want := AuditHash(l); !bytes.Equal(want, l.Hash) {
			return brk(l.Seq, l.ID, "hash does not match the entry's content (stored %s, computed %s): edited", short(l.Hash), short(want))
		}
		if a, ok := anchors[l.Seq]; ok && !bytes.Equal(a, l.Hash) {
			return brk(l.Seq, l.ID, "the retention anchor of this entry holds another hash")
		}
		if v.First == 0 {
			v.First = l.Seq
		}
		v.Last = l.Seq
		prev = l
	}
	if err := rows.Err(); err != nil {
		return v, fmt.Errorf("read audit logs: %w", err)
	}
	switch {
	case prev == nil && headSeq > 0:
		if a, ok := anchors[headSeq]; ok && bytes.Equal(a, headHash) {
			v.Anchored = true // everything was dropped by retention, and anchored
			return v, nil
		}
		return brk(headSeq, uuid.Nil, "the chain's head is at seq %d but no entry is left", headSeq)
	case prev != nil && headSeq != prev.Seq:
		return brk(prev.Seq+1, uuid.Nil, "entries %d to %d are missing at the end (the head is at %d)", prev.Seq+1, headSeq, headSeq)
	case prev != nil && !bytes.Equal(headHash, prev.Hash):
		return brk(prev.Seq, prev.ID, "the chain's head holds another hash for the last entry")
	}
	return v, nil
}

func short(h []byte) string {
	s := hex.EncodeToString(h)
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}
