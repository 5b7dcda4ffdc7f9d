package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/workingtracker/api/internal/apperr"
)

// Operation types of persisted operations, as Apollo's persisted-query manifests spell them.
const (
	OperationQuery        = "query"
	OperationMutation     = "mutation"
	OperationSubscription = "subscription"
)

// Bounds of persisted operations (the migration checks the body's and the name's too).
const (
	MaxPersistedOperationBytes   = 32 << 10
	MaxPersistedOperationName    = 200
	MaxOperationsPerRegistration = 1000
	MaxPersistedOperationsListed = 1000
)

// PersistedOperation is an operation registered for a tenant's clients (a trusted document). Its
// ID is the SHA-256 of Body in lowercase hex; a row never changes but for its use times.
type PersistedOperation struct {
	bun.BaseModel `bun:"table:persisted_operations"`

	TenantID uuid.UUID `bun:"tenant_id,pk,type:uuid"`
	ID       string    `bun:"id,pk"`
	Name     string    `bun:"name,notnull"`
	// Type is OperationQuery, OperationMutation or OperationSubscription.
	Type string `bun:"type,notnull"`
	Body string `bun:"body,notnull"`
	// Version counts the bodies registered under Name in the tenant, from 1.
	Version int `bun:"version,notnull"`
	// RegisteredBy is the employee who registered it; nil when pushed from the command line.
	RegisteredBy *uuid.UUID `bun:"registered_by,type:uuid"`
	RegisteredAt time.Time  `bun:"registered_at,notnull"`
	// FirstUsedAt and LastUsedAt are recorded at most once a minute (TouchPersistedOperation).
	FirstUsedAt *time.Time `bun:"first_used_at"`
	LastUsedAt  *time.Time `bun:"last_used_at"`
}

// PersistedOperationParams is one operation to register: an entry of an Apollo persisted-query
// manifest.
type PersistedOperationParams struct {
	ID, Name, Type, Body string
}

// OperationID is the id of a body: its SHA-256 in lowercase hex.
func OperationID(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

// checkOperations refuses a registration the table would refuse, naming the entry at fault
// (field "operations.<index>.<name>"), and one that lists an id twice with different names.
func checkOperations(ops []PersistedOperationParams) error {
	if len(ops) == 0 || len(ops) > MaxOperationsPerRegistration {
		return apperr.Invalid("operations", "register 1 to %d operations at once", MaxOperationsPerRegistration)
	}
	names := make(map[string]string, len(ops))
	for i, op := range ops {
		field := func(f string) string { return fmt.Sprintf("operations.%d.%s", i, f) }
		switch {
		case len(op.Body) == 0 || len(op.Body) > MaxPersistedOperationBytes:
			return apperr.Invalid(field("body"), "an operation's body must be 1 to %d bytes", MaxPersistedOperationBytes)
		case op.ID != OperationID(op.Body):
			return apperr.Invalid(field("id"), "the id of operation %d is not the SHA-256 (lowercase hex) of its body", i)
		case op.Name == "" || len([]rune(op.Name)) > MaxPersistedOperationName:
			return apperr.Invalid(field("name"), "an operation's name must be 1 to %d characters", MaxPersistedOperationName)
		case op.Type != OperationQuery && op.Type != OperationMutation && op.Type != OperationSubscription:
			return apperr.Invalid(field("type"), "an operation's type is query, mutation or subscription")
		}
		if prev, ok := names[op.ID]; ok && prev != op.Name {
			return apperr.Invalid(field("name"), "operation %d repeats an id under another name", i)
		}
		names[op.ID] = op.Name
	}
	return nil
}

// RegisterPersistedOperations registers ops for the scope's tenant, all or none, and returns
// them in the order given. An id registered already is kept as it is (registering a manifest
// again changes nothing); a new body under a known name gets the name's next version.
// BAD_USER_INPUT names the entry at fault (an id that is not its body's SHA-256, a size over the
// bounds); CONFLICT when another registration of the same name commits first (retry).
func (s *Store) RegisterPersistedOperations(ctx context.Context, scope Scope, ops []PersistedOperationParams) ([]*PersistedOperation, error) {
	if err := checkOperations(ops); err != nil {
		return nil, err
	}
	return inTx(ctx, s, scope, func(tx *Store) ([]*PersistedOperation, error) {
		out := make([]*PersistedOperation, 0, len(ops))
		done := make(map[string]*PersistedOperation, len(ops))
		for _, p := range ops {
			if op, ok := done[p.ID]; ok {
				out = append(out, op)
				continue
			}
			op, err := tx.registerOperation(ctx, scope, p)
			if err != nil {
				return nil, err
			}
			done[p.ID] = op
			out = append(out, op)
		}
		return out, nil
	})
}

func (s *Store) registerOperation(ctx context.Context, scope Scope, p PersistedOperationParams) (*PersistedOperation, error) {
	existing := new(PersistedOperation)
	err := s.db.NewSelect().Model(existing).Where("tenant_id = ? AND id = ?", scope.TenantID, p.ID).Scan(ctx)
	if err == nil {
		return existing, nil
	}
	if err = translate(err, "persisted operation"); !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	var version int
	if err := s.db.NewSelect().Table("persisted_operations").ColumnExpr("coalesce(max(version), 0) + 1").
		Where("tenant_id = ? AND name = ?", scope.TenantID, p.Name).Scan(ctx, &version); err != nil {
		return nil, translate(err, "persisted operation")
	}
	op := &PersistedOperation{TenantID: scope.TenantID, ID: p.ID, Name: p.Name, Type: p.Type, Body: p.Body,
		Version: version, RegisteredAt: s.now().UTC()}
	if scope.ActorID != uuid.Nil {
		op.RegisteredBy = &scope.ActorID
	}
	if _, err := s.db.NewInsert().Model(op).Exec(ctx); err != nil {
		return nil, translate(err, "persisted operation "+p.Name)
	}
	return op, nil
}

// PersistedOperationsParams narrows PersistedOperations; zero fields do not filter.
type PersistedOperationsParams struct {
	Name *string
	// Limit bounds the rows (default and maximum MaxPersistedOperationsListed).
	Limit int
}

// PersistedOperations lists the tenant's operations by name, newest version first.
func (s *Store) PersistedOperations(ctx context.Context, scope Scope, params PersistedOperationsParams) ([]*PersistedOperation, error) {
	limit := params.Limit
	if limit <= 0 || limit > MaxPersistedOperationsListed {
		limit = MaxPersistedOperationsListed
	}
	return inTx(ctx, s, scope, func(tx *Store) ([]*PersistedOperation, error) {
		var ops []*PersistedOperation
		q := tx.db.NewSelect().Model(&ops).Where("tenant_id = ?", scope.TenantID)
		if params.Name != nil {
			q = q.Where("name = ?", *params.Name)
		}
		err := q.OrderExpr("name, version DESC").Limit(int64(limit)).Scan(ctx)
		return ops, translate(err, "persisted operations")
	})
}

// PersistedOperation is the tenant's operation with this id, or NOT_FOUND. One indexed read
// through the pool (the request path of every run by id).
func (s *Store) PersistedOperation(ctx context.Context, scope Scope, id string) (*PersistedOperation, error) {
	op := &PersistedOperation{TenantID: scope.TenantID, ID: id}
	err := s.pool.QueryRow(scope.bind(ctx), `SELECT name, type, body, version, registered_by, registered_at,
		first_used_at, last_used_at FROM persisted_operations WHERE tenant_id = $1 AND id = $2`, scope.TenantID, id).
		Scan(&op.Name, &op.Type, &op.Body, &op.Version, &op.RegisteredBy, &op.RegisteredAt, &op.FirstUsedAt, &op.LastUsedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "persisted operation not found")
	}
	if err != nil {
		return nil, fmt.Errorf("read persisted operation: %w", err)
	}
	return op, nil
}

// TouchPersistedOperation records a run of the operation: its first use, and its last unless
// that was recorded less than a minute ago (then it writes nothing).
func (s *Store) TouchPersistedOperation(ctx context.Context, scope Scope, id string) error {
	now := s.now().UTC()
	_, err := s.pool.Exec(scope.bind(ctx), `UPDATE persisted_operations
		SET last_used_at = $3::timestamptz, first_used_at = coalesce(first_used_at, $3::timestamptz)
		WHERE tenant_id = $1 AND id = $2 AND (last_used_at IS NULL OR last_used_at < $3::timestamptz - interval '1 minute')`,
		scope.TenantID, id, now)
	if err != nil {
		return fmt.Errorf("record use of persisted operation: %w", err)
	}
	return nil
}
