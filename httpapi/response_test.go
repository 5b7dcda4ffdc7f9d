package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The response bytes are json.Marshal's, HTML escaping included.
func TestAppendResponseWritesWhatJSONMarshalWrites(t *testing.T) {
	t.Parallel()
	yes := true
	for name, resp := range map[string]*graphql.Response{
		"Data":    {Data: json.RawMessage(`{"employees":{"nodes":[{"id":"1","name":"Ada <&> \u2028 Lovelace","n":null,"x":[1,2.5,true]}]}}`)},
		"Nothing": {Data: json.RawMessage(`null`)},
		"Plain":   {Data: json.RawMessage(`{"employees":{"nodes":[{"id":"1","name":"Ada Lovelace \u00e9","n":null}]}}`)},
		"Euro":    {Data: json.RawMessage("{\"name\":\"5 \u20ac\"}")},
		"LineSep": {Data: json.RawMessage("{\"name\":\"a\u2028b\u2029c\"}")},
		"Errors": {Data: json.RawMessage(`{"employee":null}`), Errors: gqlerror.List{{Message: "not <found>",
			Path: ast.Path{ast.PathName("employee"), ast.PathIndex(2)}, Extensions: map[string]any{"code": "NOT_FOUND"}}}},
		"Everything": {Data: json.RawMessage(`{"a":"b"}`), Label: "l", Path: ast.Path{ast.PathName("a")}, HasNext: &yes,
			Extensions: map[string]any{"cost": 3, "b": "<"}},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(resp)
			require.NoError(t, err)
			got, err := appendResponse(nil, resp)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
}

// A response refused before execution has no data entry (GraphQL over HTTP).
func TestAppendResponseWithoutDataHasNoDataEntry(t *testing.T) {
	t.Parallel()
	got, err := appendErrorResponse(nil, gqlerror.List{{Message: "no", Extensions: map[string]any{"code": "RATE_LIMITED"}}})
	require.NoError(t, err)
	require.JSONEq(t, `{"errors":[{"message":"no","extensions":{"code":"RATE_LIMITED"}}]}`, string(got))
	require.NotContains(t, string(got), `"data"`)
}
