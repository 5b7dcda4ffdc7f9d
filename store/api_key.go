package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/workingtracker/api/internal/apperr"
)

// APIKeyPrefix starts every API key secret, so a bearer token can be told from a JWT at a
// glance (and secret scanners can find leaked keys).
const APIKeyPrefix = "wtk_"

// apiKeySecretBytes of randomness follow the prefix, in unpadded base64url.
const apiKeySecretBytes = 32

// APIKeyWellFormed reports whether secret has the form keys are issued in, without a lookup:
// the prefix and 32 bytes of base64url.
func APIKeyWellFormed(secret string) bool {
	rest, ok := strings.CutPrefix(secret, APIKeyPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(apiKeySecretBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// Service principal roles an API key may carry.
const (
	RoleBI    = "BI"
	RoleAgent = "AGENT"
)

// APIKey is a service principal's credential. The secret itself is never stored.
type APIKey struct {
	bun.BaseModel `bun:"table:api_keys"`

	TenantID   uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID         uuid.UUID  `bun:"id,pk,type:uuid"`
	Name       string     `bun:"name,notnull"`
	Role       string     `bun:"role,notnull"`
	EmployeeID *uuid.UUID `bun:"employee_id,type:uuid"`
	SecretHash []byte     `bun:"secret_hash,notnull"`
	CreatedBy  *uuid.UUID `bun:"created_by,type:uuid"`
	CreatedAt  time.Time  `bun:"created_at,notnull"`
	ExpiresAt  *time.Time `bun:"expires_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	// The key's own query-cost budget, replacing its role's when set (both or neither).
	CostBudgetMaximum          *int `bun:"cost_budget_maximum"`
	CostBudgetRestorePerSecond *int `bun:"cost_budget_restore_per_second"`
}

// CostBudget is an API key's own query-cost budget.
type CostBudget struct {
	Maximum          int
	RestorePerSecond int
}

// CostBudget is the key's own budget, nil when it has the role's.
func (k *APIKey) CostBudget() *CostBudget {
	if k.CostBudgetMaximum == nil || k.CostBudgetRestorePerSecond == nil {
		return nil
	}
	return &CostBudget{Maximum: *k.CostBudgetMaximum, RestorePerSecond: *k.CostBudgetRestorePerSecond}
}

// APIKeyParams describe a key to create.
type APIKeyParams struct {
	Name       string
	Role       string
	EmployeeID *uuid.UUID
	ExpiresAt  *time.Time
	CostBudget *CostBudget
}

// Bounds of an API key's own budget (the migration checks them too).
const (
	MaxCostBudget      = 10_000_000
	MaxCostRestoreRate = 1_000_000
)

// CreateAPIKey creates a key and returns it with its secret, which exists nowhere else: the
// caller shows it once.
func (s *Store) CreateAPIKey(ctx context.Context, scope Scope, p APIKeyParams) (*APIKey, string, error) {
	var secret string
	k, err := inTx(ctx, s, scope, func(tx *Store) (*APIKey, error) {
		var err error
		var k *APIKey
		k, secret, err = tx.createAPIKey(ctx, scope, p)
		return k, err
	})
	return k, secret, err
}

func (s *Store) createAPIKey(ctx context.Context, scope Scope, p APIKeyParams) (*APIKey, string, error) {
	name := strings.TrimSpace(p.Name)
	switch {
	case name == "" || len(name) > 200:
		return nil, "", apperr.Invalid("name", "name must be 1 to 200 characters")
	case p.Role != RoleBI && p.Role != RoleAgent:
		return nil, "", apperr.Invalid("role", "an API key is for BI or AGENT")
	case p.Role == RoleAgent && p.EmployeeID == nil:
		return nil, "", apperr.Invalid("employeeId", "an AGENT key acts for an employee: give employeeId")
	case p.Role == RoleBI && p.EmployeeID != nil:
		return nil, "", apperr.Invalid("employeeId", "a BI key acts for no employee")
	case p.ExpiresAt != nil && !p.ExpiresAt.After(s.now()):
		return nil, "", apperr.Invalid("expiresAt", "expiresAt must be in the future")
	case p.CostBudget != nil && (p.CostBudget.Maximum < 1 || p.CostBudget.Maximum > MaxCostBudget):
		return nil, "", apperr.Invalid("costBudget.maximum", "costBudget.maximum must be between 1 and %d", MaxCostBudget)
	case p.CostBudget != nil && (p.CostBudget.RestorePerSecond < 1 || p.CostBudget.RestorePerSecond > MaxCostRestoreRate):
		return nil, "", apperr.Invalid("costBudget.restorePerSecond", "costBudget.restorePerSecond must be between 1 and %d", MaxCostRestoreRate)
	}
	if p.EmployeeID != nil {
		var status string
		err := s.db.NewSelect().Table("employees").Column("status").
			Where("tenant_id = ? AND id = ?", scope.TenantID, *p.EmployeeID).Scan(ctx, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "", &apperr.Error{Code: apperr.NotFound, Message: "employee not found", Field: "employeeId"}
		}
		if err != nil {
			return nil, "", translate(err, "employee")
		}
		if status == EmployeeTerminated {
			// authenticate_api_key would refuse the key at every use.
			return nil, "", apperr.Invalid("employeeId", "the employee is terminated: an agent cannot act for them")
		}
	}
	raw := make([]byte, apiKeySecretBytes)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", err
	}
	secret := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	k := &APIKey{TenantID: scope.TenantID, ID: newID(), Name: name, Role: p.Role, EmployeeID: p.EmployeeID,
		SecretHash: hashSecret(secret), CreatedAt: s.now().UTC(), ExpiresAt: p.ExpiresAt}
	if p.CostBudget != nil {
		k.CostBudgetMaximum, k.CostBudgetRestorePerSecond = &p.CostBudget.Maximum, &p.CostBudget.RestorePerSecond
	}
	if scope.ActorID != uuid.Nil {
		k.CreatedBy = &scope.ActorID
	}
	if _, err := s.db.NewInsert().Model(k).Exec(ctx); err != nil {
		return nil, "", translate(err, "api key")
	}
	return k, secret, nil
}

// APIKeys lists the tenant's keys, newest first.
func (s *Store) APIKeys(ctx context.Context, scope Scope) ([]*APIKey, error) {
	return inTx(ctx, s, scope, func(tx *Store) ([]*APIKey, error) {
		var keys []*APIKey
		err := tx.db.NewSelect().Model(&keys).ExcludeColumn("secret_hash").
			Where("tenant_id = ?", scope.TenantID).OrderExpr("created_at DESC, id").Scan(ctx)
		return keys, translate(err, "api keys")
	})
}

// RevokeAPIKey revokes a key at once; revoking twice keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, scope Scope, id uuid.UUID) (*APIKey, error) {
	return inTx(ctx, s, scope, func(tx *Store) (*APIKey, error) {
		k := new(APIKey)
		err := tx.db.NewUpdate().Model(k).Set("revoked_at = coalesce(revoked_at, ?)", tx.now().UTC()).
			Where("tenant_id = ? AND id = ?", scope.TenantID, id).
			Returning("tenant_id, id, name, role, employee_id, created_by, created_at, expires_at, revoked_at, last_used_at, " +
				"cost_budget_maximum, cost_budget_restore_per_second").
			Scan(ctx)
		return k, translate(err, "api key")
	})
}

// revokeEmployeeAPIKeys revokes the live keys acting for an employee (on termination).
func (s *Store) revokeEmployeeAPIKeys(ctx context.Context, scope Scope, employeeID uuid.UUID) error {
	_, err := s.db.NewUpdate().Model((*APIKey)(nil)).Set("revoked_at = ?", s.now().UTC()).
		Where("tenant_id = ? AND employee_id = ? AND revoked_at IS NULL", scope.TenantID, employeeID).Exec(ctx)
	return translate(err, "api keys")
}

// AuthenticateAPIKey finds the live key with this secret, in any tenant (the key names its
// tenant), through a function with the owner's rights: the one lookup row-level security must
// let cross tenants. NOT_FOUND covers unknown, revoked and expired keys alike, and AGENT keys of
// terminated employees. It reads on every
// request, so a revocation takes effect at once, and writes the last use at most once a minute.
func (s *Store) AuthenticateAPIKey(ctx context.Context, secret string) (*APIKey, error) {
	var k APIKey
	err := s.pool.QueryRow(ctx, `SELECT tenant_id, id, name, role, employee_id, expires_at,
		cost_budget_maximum, cost_budget_restore_per_second FROM authenticate_api_key($1)`,
		hashSecret(secret)).Scan(&k.TenantID, &k.ID, &k.Name, &k.Role, &k.EmployeeID, &k.ExpiresAt,
		&k.CostBudgetMaximum, &k.CostBudgetRestorePerSecond)
	if err != nil {
		return nil, translate(err, "api key")
	}
	return &k, nil
}

func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
