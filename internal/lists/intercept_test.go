package lists_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/lists"
)

// operationContext is the operation context e creates, read by an operation context mutator
// (which is not a field interceptor itself).
func operationContext(t *testing.T, e *executor.Executor) *graphql.OperationContext {
	t.Helper()
	var oc *graphql.OperationContext
	e.Use(readContext{&oc})
	_, _ = e.CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{})
	if oc == nil {
		t.Fatal("no operation context")
	}
	return oc
}

type readContext struct{ oc **graphql.OperationContext }

func (readContext) ExtensionName() string                   { return "readContext" }
func (readContext) Validate(graphql.ExecutableSchema) error { return nil }
func (r readContext) MutateOperationParameters(ctx context.Context, _ *graphql.RawParams) *gqlerror.Error {
	*r.oc = graphql.GetOperationContext(ctx)
	return gqlerror.Errorf("stop")
}

type interceptor struct{}

func (interceptor) ExtensionName() string                   { return "interceptor" }
func (interceptor) Validate(graphql.ExecutableSchema) error { return nil }
func (interceptor) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	return next(ctx)
}

func TestIntercepted(t *testing.T) {
	t.Parallel()
	t.Run("NoFieldMiddleware", func(t *testing.T) {
		t.Parallel()
		e := executor.New(nil)
		e.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler { return next(ctx) })
		e.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler { return next(ctx) })
		if lists.Intercepted(operationContext(t, e)) {
			t.Error("Intercepted with no field middleware: rewritten fields would lose their fast path")
		}
	})
	t.Run("AroundFields", func(t *testing.T) {
		t.Parallel()
		e := executor.New(nil)
		e.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) })
		if !lists.Intercepted(operationContext(t, e)) {
			t.Error("not Intercepted with AroundFields")
		}
	})
	t.Run("FieldInterceptor", func(t *testing.T) {
		t.Parallel()
		e := executor.New(nil)
		e.Use(interceptor{})
		if !lists.Intercepted(operationContext(t, e)) {
			t.Error("not Intercepted with a FieldInterceptor extension")
		}
	})
}

func BenchmarkIntercepted(b *testing.B) {
	oc := &graphql.OperationContext{ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) }}
	n := 0
	for b.Loop() {
		if lists.Intercepted(oc) {
			n++
		}
	}
	_ = n
}
