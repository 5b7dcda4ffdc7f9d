package lists

import (
	"context"
	"errors"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Intercepted reports whether the operation runs its fields through field middleware: an
// AroundFields, or an extension implementing graphql.FieldInterceptor (otelgqlgen's spans, for
// one). The fields tools/rewritelists writes out without graphql.ResolveField take
// ResolveField's path, gqlgen's own, when it does, so that such middleware sees every field;
// they take the fast path only when no middleware would have run.
//
// gqlgen's executor hands every operation the same pass-through function when no field
// interceptor is installed, and a closure of its own that calls the interceptors otherwise;
// comparing the code pointers tells the two apart in about two nanoseconds, with no allocation.
// graph's TestFieldMiddlewareSeesRewrittenFields fails if this stops holding.
func Intercepted(oc *graphql.OperationContext) bool {
	return codeOf(oc.ResolverMiddleware) != passThrough
}

// codeOf is the code pointer of f, as reflect.Value.Pointer reads it (a func value points to a
// closure record whose first word is the code pointer), in a fifth of its time: Intercepted runs
// once per rewritten field, thousands of times per page.
func codeOf(f graphql.FieldMiddleware) uintptr {
	closure := *(*unsafe.Pointer)(unsafe.Pointer(&f))
	if closure == nil {
		return 0
	}
	return *(*uintptr)(closure)
}

// passThrough is the code pointer of the field middleware gqlgen's executor installs when no
// extension intercepts fields.
var passThrough = passThroughMiddleware()

// passThroughMiddleware reads the field middleware of an operation context made by an executor
// with no field interceptor: the executor calls operation parameter mutators with the context it
// builds, before it parses anything (so no schema is needed), and the mutator stops it there.
func passThroughMiddleware() uintptr {
	e := executor.New(nil)
	var seen uintptr
	e.Use(captureMiddleware{seen: &seen})
	_, _ = e.CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{})
	if seen == 0 {
		panic("lists: gqlgen's executor did not show its field middleware to operation parameter mutators")
	}
	return seen
}

type captureMiddleware struct{ seen *uintptr }

var errCaptured = errors.New("captured")

func (captureMiddleware) ExtensionName() string                   { return "lists.captureMiddleware" }
func (captureMiddleware) Validate(graphql.ExecutableSchema) error { return nil }
func (c captureMiddleware) MutateOperationParameters(ctx context.Context, _ *graphql.RawParams) *gqlerror.Error {
	*c.seen = codeOf(graphql.GetOperationContext(ctx).ResolverMiddleware)
	return gqlerror.Wrap(errCaptured)
}
