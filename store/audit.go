package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/reqid"
)

// Audit actor types (AuditLog.actorType).
const (
	AuditActorEmployee = "EMPLOYEE"
	AuditActorAPIKey   = "API_KEY"
	AuditActorSystem   = "SYSTEM"
)

// AuditEntry is what a caller records in the audit trail; the store adds the tenant, the time,
// the sequence and the hash chain. It never holds a value of personal data: ChangedFields names
// fields only.
type AuditEntry struct {
	ActorType string
	// ActorID is the employee (EMPLOYEE) or the API key (API_KEY); nil for SYSTEM.
	ActorID       *uuid.UUID
	Action        string
	ResourceType  string
	ResourceID    *uuid.UUID
	ChangedFields []string
	// Count is how many occurrences an aggregated security event stands for (1 otherwise).
	Count     int
	Reason    string
	RequestID string
	ClientIP  string
	UserAgent string
}

// AuditLog is a stored entry of the audit trail (GraphQL AuditLog).
type AuditLog struct {
	TenantID      uuid.UUID
	ID            uuid.UUID
	Seq           int64
	OccurredAt    time.Time
	ActorType     string
	ActorID       *uuid.UUID
	Action        string
	ResourceType  *string
	ResourceID    *uuid.UUID
	ChangedFields []string
	Count         int
	Reason        *string
	RequestID     *string
	ClientIP      *string
	UserAgent     *string
	Hash          []byte
	PreviousHash  []byte
}

// Bounds of an entry's text (the table checks them too); a longer user agent is cut, a longer
// reason refused.
const (
	maxAuditAction    = 100
	maxAuditReason    = 1000
	maxAuditUserAgent = 512
	maxAuditRequestID = 128
	maxAuditClientIP  = 64
	maxAuditFields    = 100
)

// AuditOrigin says who and where an entry comes from, read from the request context: the
// actor (ActorType, ActorID), RequestID, ClientIP and UserAgent of the returned entry are used
// where the caller left them empty. internal/audit.Origin is the service's (the principal, the
// request id, the client address and the user agent); without one, the store records the
// scope's employee (or SYSTEM) and the request id.
type AuditOrigin func(ctx context.Context) AuditEntry

// SetAuditOrigin installs the origin of entries (the composition root, once, before serving).
func (s *Store) SetAuditOrigin(o AuditOrigin) { s.auditOrigin = o }

// PendingAudit is the entry a mutation in progress records generically (internal/audit puts it
// in the mutation's context): the first transaction of the mutation that writes and commits
// appends it, unless that transaction appended an explicit entry of its own (AppendAudit), which
// then stands for the mutation. Either way the mutation records one entry.
type PendingAudit struct {
	// Entry is the mutation's entry: Action its field name, ChangedFields the names of the input
	// fields given, the resource as its arguments name it (the transaction's result, when it
	// returns a resource, names it instead).
	Entry AuditEntry

	mu       sync.Mutex
	recorded bool
}

// Recorded reports whether an entry of the mutation has committed.
func (p *PendingAudit) Recorded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recorded
}

func (p *PendingAudit) markRecorded() {
	p.mu.Lock()
	p.recorded = true
	p.mu.Unlock()
}

type pendingAuditKey struct{}

// WithPendingAudit returns ctx carrying the pending entry of the mutation it runs.
func WithPendingAudit(ctx context.Context, p *PendingAudit) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, p)
}

// PendingAuditFrom returns the pending entry of ctx's mutation, if any.
func PendingAuditFrom(ctx context.Context) (*PendingAudit, bool) {
	p, ok := ctx.Value(pendingAuditKey{}).(*PendingAudit)
	return p, ok && p != nil
}

// unaudited marks the context of the store's own bookkeeping writes inside a mutation (blob
// intents, a tenant's first PII keyset): their transactions are not the mutation's change and
// must not carry its entry.
func unaudited(ctx context.Context) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, (*PendingAudit)(nil))
}

// txAudit is what one transaction has to record, written when its function returns, right
// before the commit: the tenant's chain is locked only for the end of the transaction.
type txAudit struct {
	tenant   uuid.UUID
	explicit []AuditEntry
	// resourceType and resourceID are the first resource a write of the transaction returned.
	resourceType string
	resourceID   *uuid.UUID
	pending      *PendingAudit
}

// noteResult remembers the resource a write of the transaction returned (the first one).
func (a *txAudit) noteResult(v any) {
	if a == nil || a.resourceType != "" {
		return
	}
	typ, id := auditResourceOf(v)
	if typ != "" {
		a.resourceType, a.resourceID = typ, id
	}
}

// auditResourceOf names a store result as an audit resource: its GraphQL type and id.
func auditResourceOf(v any) (string, *uuid.UUID) {
	switch r := v.(type) {
	case *Employee:
		if r != nil {
			return "Employee", &r.ID
		}
	case *Project:
		if r != nil {
			return "Project", &r.ID
		}
	case *Task:
		if r != nil {
			return "Task", &r.ID
		}
	case *TimeEntry:
		if r != nil {
			return "TimeEntry", &r.ID
		}
	case *APIKey:
		if r != nil {
			return "ApiKey", &r.ID
		}
	case *Screenshot:
		if r != nil {
			return "Screenshot", &r.ID
		}
	case *Department:
		if r != nil {
			return "Department", &r.ID
		}
	}
	return "", nil
}

// AppendAudit records e in the scope's tenant's audit trail, inside s's transaction when s is
// one (so the entry commits or rolls back with the change it records), else in its own. Inside
// a transaction the entry is written when the transaction's function returns, just before the
// commit, with any others of the transaction: the tenant's chain stays locked only that long. A
// mutation's transaction that appends an explicit entry gets no generic one (PendingAudit).
//
// ActorType, ActorID, RequestID, ClientIP and UserAgent left empty are filled from ctx (the
// store's AuditOrigin). Errors: BAD_USER_INPUT for an entry out of bounds (an action of 1..100
// characters, a reason of at most 1,000, at most 100 field names); a user agent over 512
// characters is cut.
func (s *Store) AppendAudit(ctx context.Context, scope Scope, e AuditEntry) error {
	e, err := s.completeAudit(ctx, scope, e)
	if err != nil {
		return err
	}
	if s.audit != nil {
		if scope.TenantID != s.audit.tenant {
			return errors.New("append audit: the entry's tenant is not the transaction's")
		}
		s.audit.explicit = append(s.audit.explicit, e)
		return nil
	}
	return s.InTx(ctx, scope, func(tx *Store) error { return tx.AppendAudit(ctx, scope, e) })
}

// completeAudit checks e and fills what the origin knows.
func (s *Store) completeAudit(ctx context.Context, scope Scope, e AuditEntry) (AuditEntry, error) {
	if scope.TenantID == uuid.Nil {
		return e, errors.New("append audit: no tenant")
	}
	if e.Action == "" || utf8.RuneCountInString(e.Action) > maxAuditAction {
		return e, apperr.Invalid("action", "an audit action has 1 to %d characters", maxAuditAction)
	}
	if utf8.RuneCountInString(e.Reason) > maxAuditReason {
		return e, apperr.Invalid("reason", "reason must be at most %d characters", maxAuditReason)
	}
	if len(e.ChangedFields) > maxAuditFields {
		return e, apperr.Invalid("changedFields", "at most %d field names", maxAuditFields)
	}
	if e.Count <= 0 {
		e.Count = 1
	}
	var origin AuditEntry
	if s.auditOrigin != nil {
		origin = s.auditOrigin(ctx)
	} else {
		origin = AuditEntry{ActorType: AuditActorSystem, RequestID: reqid.From(ctx)}
		if scope.ActorID != uuid.Nil {
			id := scope.ActorID
			origin.ActorType, origin.ActorID = AuditActorEmployee, &id
		}
	}
	if e.ActorType == "" {
		e.ActorType, e.ActorID = origin.ActorType, origin.ActorID
	}
	if e.ActorType == "" {
		e.ActorType = AuditActorSystem
	}
	if !slices.Contains([]string{AuditActorEmployee, AuditActorAPIKey, AuditActorSystem}, e.ActorType) {
		return e, fmt.Errorf("append audit: unknown actor type %q", e.ActorType)
	}
	if e.RequestID == "" {
		e.RequestID = origin.RequestID
	}
	if e.ClientIP == "" {
		e.ClientIP = origin.ClientIP
	}
	if e.UserAgent == "" {
		e.UserAgent = origin.UserAgent
	}
	e.RequestID = cut(e.RequestID, maxAuditRequestID)
	e.ClientIP = cut(e.ClientIP, maxAuditClientIP)
	e.UserAgent = cut(strings.ToValidUTF8(e.UserAgent, "\uFFFD"), maxAuditUserAgent)
	e.ChangedFields = slices.Clone(e.ChangedFields)
	return e, nil
}

// cut keeps the first n characters of v.
func cut(v string, n int) string {
	if utf8.RuneCountInString(v) <= n {
		return v
	}
	return string([]rune(v)[:n])
}

// commitAudit writes the transaction's entries: its explicit ones, or else the pending entry of
// the mutation it belongs to when the transaction wrote anything (a read-only transaction of a
// mutation is not its change). It runs last in the transaction.
func (s *Store) commitAudit(ctx context.Context) error {
	a := s.audit
	entries := a.explicit
	if p, ok := PendingAuditFrom(ctx); ok && !p.Recorded() {
		a.pending = p
		if len(entries) == 0 {
			var wrote bool
			if err := s.db.NewRaw(`SELECT pg_current_xact_id_if_assigned() IS NOT NULL`).Scan(ctx, &wrote); err != nil {
				return fmt.Errorf("append audit: %w", err)
			}
			if !wrote {
				a.pending = nil
				return nil
			}
			e, err := s.completeAudit(ctx, Scope{TenantID: a.tenant}, p.Entry)
			if err != nil {
				return err
			}
			if a.resourceType != "" {
				e.ResourceType, e.ResourceID = a.resourceType, a.resourceID
			}
			entries = []AuditEntry{e}
		}
	}
	if len(entries) == 0 {
		return nil
	}
	return s.writeAudit(ctx, a.tenant, entries)
}

// committed is told the transaction committed: its mutation's entry is recorded.
func (a *txAudit) committed() {
	if a.pending != nil {
		a.pending.markRecorded()
	}
}

// writeAudit appends entries to tenant's chain: it locks the tenant's head (only writers of
// this tenant wait), chains the entries from it and writes them with the new head in one
// statement. Two round trips under the lock, then the commit.
func (s *Store) writeAudit(ctx context.Context, tenant uuid.UUID, entries []AuditEntry) error {
	// InTx made sure of the month's partition before it began (maintenance keeps months ahead).
	now := s.now().UTC().Truncate(time.Microsecond)
	var head struct {
		seq  int64
		hash []byte
		at   *time.Time
	}
	lock := func() error {
		return s.db.NewRaw(`SELECT seq, hash, occurred_at FROM audit_heads WHERE tenant_id = ? FOR UPDATE`, tenant).
			Scan(ctx, &head.seq, &head.hash, &head.at)
	}
	err := lock()
	if errors.Is(err, sql.ErrNoRows) {
		// The tenant's first entry: create its head, then lock it like any other.
		if _, err = s.db.NewRaw(`INSERT INTO audit_heads (tenant_id) VALUES (?) ON CONFLICT DO NOTHING`, tenant).Exec(ctx); err == nil {
			err = lock()
		}
	}
	if err != nil {
		return fmt.Errorf("lock audit head: %w", err)
	}
	// Time never goes back within a tenant's chain (clocks of instances differ): seq order is
	// time order, which retention relies on.
	at := now
	if head.at != nil && head.at.After(at) {
		at = head.at.UTC()
	}
	var b strings.Builder
	b.WriteString(`WITH ins AS (INSERT INTO audit_logs (tenant_id, seq, occurred_at, id, actor_type, actor_id, action,
		resource_type, resource_id, changed_fields, count, reason, request_id, client_ip, user_agent, previous_hash, hash) VALUES `)
	args := make([]any, 0, len(entries)*17+4)
	prev := head.hash
	seq := head.seq
	for i, e := range entries {
		seq++
		l := AuditLog{TenantID: tenant, ID: newID(), Seq: seq, OccurredAt: at, ActorType: e.ActorType, ActorID: e.ActorID,
			Action: e.Action, ResourceType: nonEmpty(e.ResourceType), ResourceID: e.ResourceID, ChangedFields: e.ChangedFields,
			Count: e.Count, Reason: nonEmpty(e.Reason), RequestID: nonEmpty(e.RequestID), ClientIP: nonEmpty(e.ClientIP),
			UserAgent: nonEmpty(e.UserAgent), PreviousHash: prev}
		if l.ChangedFields == nil {
			l.ChangedFields = []string{}
		}
		l.Hash = AuditHash(&l)
		prev = l.Hash
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, l.TenantID, l.Seq, l.OccurredAt, l.ID, l.ActorType, l.ActorID, l.Action, l.ResourceType, l.ResourceID,
			pgdialect.Array(l.ChangedFields), l.Count, l.Reason, l.RequestID, l.ClientIP, l.UserAgent, l.PreviousHash, l.Hash)
	}
	b.WriteString(`) UPDATE audit_heads SET seq = ?, hash = ?, occurred_at = ? WHERE tenant_id = ?`)
	args = append(args, seq, prev, at, tenant)
	if _, err := s.db.NewRaw(b.String(), args...).Exec(ctx); err != nil {
		return translate(err, "audit entry")
	}
	return nil
}

func nonEmpty(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}
