package store

import (
	"context"
	"time"

	"github.com/google/uuid"
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

// AppendAudit records e in the scope's tenant's audit trail, inside s's transaction when s is
// one (so the entry commits or rolls back with the change it records), else in its own.
//
// SKELETON: the audit issue's work replaces this body with the hash-chained append.
func (s *Store) AppendAudit(ctx context.Context, scope Scope, e AuditEntry) error {
	_, _, _ = ctx, scope, e
	return nil
}
