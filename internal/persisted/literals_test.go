package persisted

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func TestHoldsStringLiterals(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]bool{
		`query { me { id } }`:                                false,
		`query($v: String) { a(value: $v) { id } }`:          false,
		`query { a(first: 3, on: true, e: SSN) { id } }`:     false,
		`query { a(value: "123-45-6789") { id } }`:           true,
		`query { a(value: """block""") { id } }`:             true,
		`query { a(in: {deep: [{x: "s"}]}) { id } }`:         true,
		`query($v: String = "dflt") { a(value: $v) { id } }`: true,
		`query { a { b @include(if: true) c @x(y: "s") } }`:  true,
		`query { ...F } fragment F on Q { a(v: "s") }`:       true,
		`query { ... on Q { a(v: "s") } }`:                   true,
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		require.NoError(t, err, q)
		require.Equal(t, want, holdsStringLiterals(doc), q)
	}
}
