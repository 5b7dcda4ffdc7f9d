package metrics_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/metrics"
)

// BenchmarkGraphQLExtension prices the extension per operation (a named query answered
// without errors): what every request pays for the GraphQL metrics.
func BenchmarkGraphQLExtension(b *testing.B) {
	g := metrics.NewGraphQL(prometheus.NewRegistry())
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{
		Operation: &ast.OperationDefinition{Name: "Team", Operation: ast.Query}})
	resp := &graphql.Response{Data: []byte(`{}`)}
	next := func(context.Context) graphql.ResponseHandler { return graphql.OneShot(resp) }
	b.ReportAllocs()
	for b.Loop() {
		g.InterceptOperation(ctx, next)(ctx)
	}
}
