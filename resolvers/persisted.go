package resolvers

import (
	"context"
	"errors"

	"github.com/workingtracker/api/store"
)

// PersistedOperations registers and lists the tenant's persisted operations (trusted
// documents): internal/persisted.Registrar, which checks each body before the store registers it.
type PersistedOperations interface {
	// RegisterOperations registers ops, all or none; BAD_USER_INPUT names the entry at fault.
	RegisterOperations(ctx context.Context, scope store.Scope, ops []store.PersistedOperationParams) ([]*store.PersistedOperation, error)
	PersistedOperations(ctx context.Context, scope store.Scope, params store.PersistedOperationsParams) ([]*store.PersistedOperation, error)
}

var errNoOperations = errors.New("persisted operations are not configured (resolvers.Deps.Operations)")
