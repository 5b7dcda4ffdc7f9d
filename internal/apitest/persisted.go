package apitest

import (
	"context"
	"strings"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/workingtracker/api/store"
)

// registeredForBI prepares a BI key's request: BI keys run registered operations only, so the
// query is registered for the key's tenant (as `operations push` would) and sent by id. Tests
// of what BI may do then go through the path BI tools take, role rules and row-level rules
// included. ok is false for every other token, and for text that does not parse (sent as it is).
func (s *Server) registeredForBI(token, query string) (extensions map[string]any, ok bool) {
	s.t.Helper()
	if !strings.HasPrefix(token, store.APIKeyPrefix) {
		return nil, false
	}
	ctx := context.Background()
	key, err := s.Store.AuthenticateAPIKey(ctx, token)
	if err != nil || key.Role != store.RoleBI {
		return nil, false
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil || len(doc.Operations) != 1 {
		return nil, false
	}
	id := store.OperationID(query)
	_, err = s.Store.RegisterPersistedOperations(ctx, store.Scope{TenantID: key.TenantID}, []store.PersistedOperationParams{{
		ID: id, Name: "apitest." + id[:16], Type: string(doc.Operations[0].Operation), Body: query}})
	require.NoError(s.t, err)
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": id}}, true
}
