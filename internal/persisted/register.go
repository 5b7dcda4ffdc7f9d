package persisted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/store"
)

// RegistrationStore registers and lists operations (store.Store).
type RegistrationStore interface {
	RegisterPersistedOperations(ctx context.Context, scope store.Scope, ops []store.PersistedOperationParams) ([]*store.PersistedOperation, error)
	PersistedOperations(ctx context.Context, scope store.Scope, params store.PersistedOperationsParams) ([]*store.PersistedOperation, error)
}

// Registrar checks operations before the store registers them: registerOperations and
// `workingtracker operations push` register through it.
type Registrar struct {
	Store RegistrationStore
	// Schema, when set, validates every body against the schema served, so a manifest built
	// against another version of it is refused whole rather than failing at run time.
	Schema *ast.Schema
}

// RegisterOperations registers ops for the scope's tenant, all or none (see
// store.RegisterPersistedOperations). Each body must hash to its id and parse into one operation
// named name of type type (its fragments besides), valid against the schema; BAD_USER_INPUT
// names the first entry at fault (extensions.field "operations.<index>.<field>").
func (r Registrar) RegisterOperations(ctx context.Context, scope store.Scope, ops []store.PersistedOperationParams) ([]*store.PersistedOperation, error) {
	if len(ops) == 0 || len(ops) > store.MaxOperationsPerRegistration {
		return nil, apperr.Invalid("operations", "register 1 to %d operations at once", store.MaxOperationsPerRegistration)
	}
	for i, op := range ops {
		if err := r.check(i, op); err != nil {
			return nil, err
		}
	}
	return r.Store.RegisterPersistedOperations(ctx, scope, ops)
}

// PersistedOperations lists the tenant's registered operations.
func (r Registrar) PersistedOperations(ctx context.Context, scope store.Scope, params store.PersistedOperationsParams) ([]*store.PersistedOperation, error) {
	return r.Store.PersistedOperations(ctx, scope, params)
}

func (r Registrar) check(i int, op store.PersistedOperationParams) error {
	field := func(f string) string { return fmt.Sprintf("operations.%d.%s", i, f) }
	// The cheap checks first: no parsing of what is too large or does not match its id.
	if len(op.Body) == 0 || len(op.Body) > store.MaxPersistedOperationBytes {
		return apperr.Invalid(field("body"), "an operation's body must be 1 to %d bytes", store.MaxPersistedOperationBytes)
	}
	if op.ID != store.OperationID(op.Body) {
		return apperr.Invalid(field("id"), "the id of operation %d is not the SHA-256 (lowercase hex) of its body", i)
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: op.Body})
	if err != nil {
		return apperr.Invalid(field("body"), "operation %d does not parse: %s", i, gqlMessage(err))
	}
	if len(doc.Operations) != 1 {
		return apperr.Invalid(field("body"), "operation %d must hold exactly one operation (and its fragments)", i)
	}
	def := doc.Operations[0]
	switch {
	case def.Name == "" || def.Name != op.Name:
		return apperr.Invalid(field("name"), "operation %d must be a named operation whose name is %q", i, op.Name)
	case string(def.Operation) != op.Type:
		return apperr.Invalid(field("type"), "operation %d is a %s, not a %s", i, def.Operation, op.Type)
	}
	if r.Schema != nil {
		if errs := validator.Validate(r.Schema, doc); len(errs) > 0 {
			return apperr.Invalid(field("body"), "operation %d is not valid against the schema: %s", i, gqlMessage(errs[0]))
		}
	}
	return nil
}

func gqlMessage(err error) string {
	var list interface{ Unwrap() []error }
	if errors.As(err, &list) && len(list.Unwrap()) > 0 {
		err = list.Unwrap()[0]
	}
	return err.Error()
}

// ManifestFormat and ManifestVersion identify an Apollo persisted-query manifest, as Apollo's
// generate-persisted-query-manifest writes it.
const (
	ManifestFormat  = "apollo-persisted-query-manifest"
	ManifestVersion = 1
)

// maxManifestBytes bounds a manifest file: the most operations of the largest size.
const maxManifestBytes = int64(store.MaxOperationsPerRegistration) * (store.MaxPersistedOperationBytes + 1024)

// ParseManifest reads an Apollo persisted-query manifest:
// {"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id","name","type","body"}]}.
func ParseManifest(r io.Reader) ([]store.PersistedOperationParams, error) {
	var m struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		Operations []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	dec := json.NewDecoder(io.LimitReader(r, maxManifestBytes+1))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the manifest is not a JSON persisted-query manifest (or is over %d bytes): %w", maxManifestBytes, err)
	}
	if m.Format != ManifestFormat || m.Version != ManifestVersion {
		return nil, fmt.Errorf("the manifest must have \"format\": %q and \"version\": %d", ManifestFormat, ManifestVersion)
	}
	ops := make([]store.PersistedOperationParams, len(m.Operations))
	for i, op := range m.Operations {
		ops[i] = store.PersistedOperationParams{ID: op.ID, Name: op.Name, Type: op.Type, Body: op.Body}
	}
	return ops, nil
}
