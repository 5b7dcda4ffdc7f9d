package cost

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/workingtracker/api/internal/apperr"
)

// abusiveDocuments are the classic ways to make a GraphQL server work hard, each with the limit
// that must refuse it before validation.
func abusiveDocuments() []struct{ name, query, limit string } {
	var fragments strings.Builder
	fragments.WriteString("{ me { ...F0 } }")
	for i := range 40 { // 2^40 fields once expanded, all at one level
		fmt.Fprintf(&fragments, "\nfragment F%d on Employee { ...F%d ...F%d }", i, i+1, i+1)
	}
	fragments.WriteString("\nfragment F40 on Employee { id }")
	var aliasBomb strings.Builder
	aliasBomb.WriteString("{ me { ...A0 } }")
	for i := range 10 { // 2^11 aliases, 11 levels deep
		fmt.Fprintf(&aliasBomb, "\nfragment A%d on Employee { a: manager { ...A%d } b: manager { ...A%d } }", i, i+1, i+1)
	}
	aliasBomb.WriteString("\nfragment A10 on Employee { id }")
	var aliases strings.Builder
	aliases.WriteString("{ ")
	for i := range 1000 {
		fmt.Fprintf(&aliases, "a%d: __typename ", i)
	}
	aliases.WriteString("}")
	return []struct{ name, query, limit string }{
		{"1,000 aliases", aliases.String(), "aliases"},
		{"depth 50", "{ me { " + strings.Repeat("manager { ", 49) + "id" + strings.Repeat(" }", 49) + " } }", "depth"},
		{"10,000 tokens", "{ " + strings.Repeat("__typename ", 10_000) + "}", "tokens"},
		{"100 root fields", "{ " + strings.Repeat("me { id } ", 100) + "}", "rootFields"},
		{"directives on a field", "{ __typename" + strings.Repeat(" @include(if: true)", 50) + " }", "directives"},
		{"4,900 fields of one name", "{ me { " + strings.Repeat("id ", 4900) + "} }", "fields"},
		{"aliases multiplied by fragments", aliasBomb.String(), "aliases"},
		{"circular fragments", "{ me { ...A } } fragment A on Employee { manager { ...B } } fragment B on Employee { ...A }", ""},
		// Spreads that merge into one field once executed, but 2^40 to validate.
		{"fragments spread 2^40 times", fragments.String(), "fields"},
	}
}

// TestAbusiveDocumentsAreRefusedCheaply: each abusive document is refused (or, for the last,
// measured) by the document limits for little memory, before validation sees it.
func TestAbusiveDocumentsAreRefusedCheaply(t *testing.T) {
	// Not parallel: it measures the allocations of the process.
	limits := documentLimits{limits: DefaultDocumentLimits(), validated: lru.New[*ast.QueryDocument](10)}
	for _, doc := range abusiveDocuments() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := limits.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: doc.query})
		runtime.ReadMemStats(&after)
		switch doc.limit {
		case "":
			require.NotNil(t, err, doc.name)
			require.Equal(t, "GRAPHQL_VALIDATION_FAILED", err.Extensions["code"], doc.name)
		default:
			require.NotNil(t, err, doc.name)
			require.Equal(t, string(apperr.ComplexityLimit), err.Extensions["code"], doc.name)
			require.Equal(t, doc.limit, err.Extensions["limit"], doc.name)
		}
		// The largest document is ~110 KB of text; parsing the first 5,000 tokens of it and
		// walking the result stays within a few megabytes.
		allocated := after.TotalAlloc - before.TotalAlloc
		require.Less(t, allocated, uint64(8<<20), "%s allocated %d bytes", doc.name, allocated)
	}
}

func BenchmarkAbusiveDocuments(b *testing.B) {
	limits := documentLimits{limits: DefaultDocumentLimits(), validated: lru.New[*ast.QueryDocument](10)}
	for _, doc := range abusiveDocuments() {
		b.Run(strings.ReplaceAll(doc.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = limits.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: doc.query})
			}
		})
	}
}

// TestIntrospectionFitsTheDocumentLimits: the largest document real tools send (GraphiQL's and
// gqlgen's introspection query) passes, with its measurements pinned for the limits' comment.
func TestIntrospectionFitsTheDocumentLimits(t *testing.T) {
	t.Parallel()
	doc, err := parser.ParseQuery(&ast.Source{Input: introspection.Query})
	require.NoError(t, err)
	limits := documentLimits{limits: DefaultDocumentLimits()}
	require.Nil(t, limits.check(doc))
	s, err := (&shapeWalker{doc: doc, memo: map[string]shape{}, onPath: map[string]bool{}}).selections(doc.Operations[0].SelectionSet)
	require.NoError(t, err)
	t.Logf("introspection: depth %d, fields %d", s.depth, s.fields)
	require.LessOrEqual(t, s.fields*2, DefaultDocumentLimits().MaxFields, "room to spare")
	require.LessOrEqual(t, s.introspectionDepth+5, DefaultDocumentLimits().MaxIntrospectionDepth, "room to spare")
	require.Equal(t, 15, s.introspectionDepth, "the figure in DefaultDocumentLimits' comment")
	require.Zero(t, s.depth, "introspection is measured apart from application depth")
}

// TestDeepestApplicationQueriesFit: the deepest operations clients send (the playground's
// examples, the bench's nested page, a gateway's _entities with nested relations) pass the
// depth limit, while recursion through relations and introspection is refused.
func TestDeepestApplicationQueriesFit(t *testing.T) {
	t.Parallel()
	limits := documentLimits{limits: DefaultDocumentLimits()}
	measure := func(query string) (shape, *gqlerror.Error) {
		doc, err := parser.ParseQuery(&ast.Source{Input: query})
		require.NoError(t, err)
		s, err := (&shapeWalker{doc: doc, memo: map[string]shape{}, onPath: map[string]bool{}}).selections(doc.Operations[0].SelectionSet)
		require.NoError(t, err)
		return s, limits.check(doc)
	}
	for _, query := range []string{
		`{ employees(first: 50) { edges { node { id manager { department { name } }
			timeEntries(first: 20) { project { members { department { id } } } task { dependencies { project { id } } } } } } } }`,
		`query($r: [_Any!]!) { _entities(representations: $r) { ... on Employee { manager { manager { projects { tasks { assignee { department { id } } } } } } } } }`,
	} {
		s, refused := measure(query)
		require.Nil(t, refused, query)
		require.LessOrEqual(t, s.depth+2, DefaultDocumentLimits().MaxDepth, "room to spare: %s", query)
	}
	s, refused := measure("{ me { " + strings.Repeat("manager { ", 12) + "id" + strings.Repeat(" }", 12) + " } }")
	require.Equal(t, 14, s.depth)
	require.NotNil(t, refused)
	require.Equal(t, "depth", refused.Extensions["limit"])
	require.Equal(t, 12, refused.Extensions["maximum"])

	s, refused = measure(`{ __type(name: "Employee") { ` + strings.Repeat("fields { type { ", 10) + "name" + strings.Repeat(" } }", 10) + " } }")
	require.Equal(t, 22, s.introspectionDepth)
	require.NotNil(t, refused, "introspection recursion has its own bound")
	require.Equal(t, 20, refused.Extensions["maximum"])
}
