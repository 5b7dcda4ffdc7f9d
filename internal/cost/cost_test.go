package cost_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/cost"
)

// TestOperationCost pins the cost rules on the real schema, each figure worked out by hand.
func TestOperationCost(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		{"scalars are free, an object costs 1", `{ me { id name email } }`, nil, 1},
		{"nested objects", `{ me { department { name } manager { name } } }`, nil, 3},
		{"introspection is free", `{ __typename __schema { types { name } } }`, nil, 0},
		{"rateLimit costs nothing", `{ rateLimit { currentlyAvailable maximumAvailable } }`, nil, 0},
		// connection 1 + 50 edges × (edge 1 + node 1 + department 1 + 20 entries × (entry 1 + project 1)).
		{"connection with a sized list inside", `{ employees(first: 50) { edges { node {
			department { name } timeEntries(first: 20) { project { name } } } } } }`, nil, 1 + 50*(1+1+1+20*2)},
		{"the slicing argument's default (20)", `{ employees { nodes { id } } }`, nil, 1 + 20},
		{"a variable slicing argument", `query($n: Int) { employees(first: $n) { nodes { id } } }`,
			map[string]any{"n": 7}, 1 + 7},
		// connection 1 + 20 projects × (1 + 50 assumed tasks × 1) + aggregates weighing 2 each.
		{"assumed list sizes and @cost", `{ projects { totalCount nodes { totalHours tasks { id } } } }`, nil,
			1 + 2 + 20*(1+2+50)},
		{"edges and nodes both pay", `{ timeEntries(first: 10) { edges { node { id } } nodes { id } } }`, nil,
			1 + 10*(1+1) + 10},
		{"a mutation's root costs 10", `mutation { stopTimer { id project { name } } }`, nil, 10 + 1},
		{"fragments add up", `{ me { ...F } employee(id: "00000000-0000-0000-0000-000000000001") { ...F } }
			fragment F on Employee { manager { id } }`, nil, 2 + 2},
		{"_entities is as long as its representations", `query($r: [_Any!]!) { _entities(representations: $r) {
			... on Employee { manager { id } } } }`, map[string]any{"r": []any{
			map[string]any{"__typename": "Employee", "id": "a"}, map[string]any{"__typename": "Employee", "id": "b"},
			map[string]any{"__typename": "Employee", "id": "c"}}}, 3 * (1 + 1)},
		{"a huge page is too expensive, not a wrap-around", `{ employees(first: 2147483647) { nodes { projects { id } } } }`,
			nil, 1 + math.MaxInt32*(1+20)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, errs := gqlparser.LoadQuery(schema, tc.query)
			require.Empty(t, errs)
			op := doc.Operations[0]
			vars, err := validator.VariableValues(schema, op, tc.vars)
			require.NoError(t, err)
			require.Equal(t, tc.want, cost.Price(schema, op, vars))
		})
	}
}

// TestFragmentBombCostsLinearTime: each fragment spreads the next twice, so the operation
// expands to 2^30 fields; memoised fragments price it in linear time, at the saturated maximum.
func TestFragmentBombCostsLinearTime(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	query := `{ me { ...F0 } }`
	for i := range 30 {
		query += fmt.Sprintf("\nfragment F%d on Employee { a: manager { ...F%d } b: manager { ...F%d } }", i, i+1, i+1)
	}
	query += "\nfragment F30 on Employee { id }"
	doc, errs := gqlparser.LoadQuery(schema, query)
	require.Empty(t, errs)
	require.Equal(t, 1+(1<<31)-2, cost.Price(schema, doc.Operations[0], nil))
}

// TestSizedFragmentBombCostsLinearTime: the same inside a connection, whose page size is handed
// down into the fragments (memoised per size too).
func TestSizedFragmentBombCostsLinearTime(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	query := `{ employees(first: 1) { ...F0 } }`
	for i := range 40 {
		query += fmt.Sprintf("\nfragment F%d on EmployeeConnection { ...F%d ...F%d }", i, i+1, i+1)
	}
	query += "\nfragment F40 on EmployeeConnection { nodes { id } }"
	doc, errs := gqlparser.LoadQuery(schema, query)
	require.Empty(t, errs)
	done := make(chan int)
	go func() { done <- cost.Price(schema, doc.Operations[0], nil) }()
	select {
	case cost := <-done:
		require.Equal(t, 1+(1<<40)*1, cost)
	case <-time.After(10 * time.Second): // linear: microseconds; exponential: days
		t.Fatal("pricing did not finish")
	}
}

// TestEveryListDeclaresItsSize: a list field without @listSize would be priced at the
// fallback of 100 items; every list in the schema says what it holds instead.
func TestEveryListDeclaresItsSize(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, typ := range schema.Types {
		if typ.BuiltIn || (typ.Kind != ast.Object && typ.Kind != ast.Interface) || typ.Name[0] == '_' {
			continue
		}
		for _, f := range typ.Fields {
			if f.Type.Elem == nil || f.Name[0] == '_' {
				continue
			}
			if def := schema.Types[f.Type.Elem.Name()]; def != nil && (def.Kind == ast.Scalar || def.Kind == ast.Enum) {
				continue // a list of scalars costs nothing whatever its size
			}
			if typ.Name != "Query" && typ.Name != "Mutation" && isConnectionList(f.Name) {
				continue // edges and nodes take their size from the connection field
			}
			require.NotNil(t, f.Directives.ForName("listSize"), "%s.%s is a list without @listSize", typ.Name, f.Name)
		}
	}
}

func isConnectionList(name string) bool { return name == "edges" || name == "nodes" }
