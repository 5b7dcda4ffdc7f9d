package telemetry

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/ravilushqa/otelgqlgen"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of the operation span, beside otelgqlgen's.
const (
	AttrOperationType = attribute.Key("graphql.operation.type")
	AttrOperationName = attribute.Key("graphql.operation.name")
	// AttrCost is the operation's requested cost (extensions.cost.requestedQueryCost).
	AttrCost = attribute.Key("graphql.cost.requested")
	// AttrOutcome is "ok", or "error" when the response carries errors.
	AttrOutcome = attribute.Key("graphql.outcome")
	// AttrErrorCodes are the distinct extensions.code of the response's errors.
	AttrErrorCodes = attribute.Key("graphql.error.codes")
)

// GraphQLExtensions trace GraphQL operations through otelgqlgen: a span per operation, named
// after it (its type when it has no name), with its type, name, requested cost, outcome and
// error codes, and with fieldSpans a span per resolver field. None with a nil provider.
//
// They must be the server's first extensions: the operation span wraps the whole operation chain,
// so an operation refused by the budget gate (RATE_LIMITED, COMPLEXITY_LIMIT: it never reaches
// gqlgen's response interceptors) is traced with its outcome too.
//
// otelgqlgen's Tracer is a field interceptor as soon as it is installed, and installing one
// sends every field through gqlgen's field middleware (lists.Intercepted: the rewritten fast
// paths are skipped). So the Tracer is never installed itself: operation spans use its response
// interception from an operation interceptor, and only fieldSpans adds its field interception.
func GraphQLExtensions(tp trace.TracerProvider, fieldSpans bool) []graphql.HandlerExtension {
	if tp == nil {
		return nil
	}
	t := otelgqlgen.Middleware(otelgqlgen.WithTracerProvider(tp), otelgqlgen.WithoutVariables(),
		// Resolver fields only: a span per scalar read would dwarf the work it measures.
		otelgqlgen.WithCreateSpanFromFields(func(fc *graphql.FieldContext) bool { return fc.IsResolver }))
	exts := []graphql.HandlerExtension{operationSpans{t}}
	if fieldSpans {
		exts = append(exts, fieldSpanExtension{t})
	}
	return exts
}

// costReporter is extensions.cost (internal/cost's report).
type costReporter interface{ RequestedCost() int }

type operationSpans struct{ t otelgqlgen.Tracer }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationSpans{}

func (operationSpans) ExtensionName() string                   { return "OpenTelemetryOperations" }
func (operationSpans) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationSpans) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil {
			return responses(ctx)
		}
		if oc.OperationName == "" && oc.Operation.Name == "" {
			ctx = otelgqlgen.SetOperationName(ctx, string(oc.Operation.Operation))
		}
		return o.t.InterceptResponse(ctx, func(ctx context.Context) *graphql.Response {
			resp := responses(ctx)
			if span := trace.SpanFromContext(ctx); span.IsRecording() {
				span.SetAttributes(operationAttributes(oc, resp)...)
			}
			return resp
		})
	}
}

func operationAttributes(oc *graphql.OperationContext, resp *graphql.Response) []attribute.KeyValue {
	attrs := []attribute.KeyValue{AttrOperationType.String(string(oc.Operation.Operation))}
	if oc.Operation.Name != "" {
		attrs = append(attrs, AttrOperationName.String(oc.Operation.Name))
	}
	if resp == nil {
		return attrs
	}
	if c, ok := resp.Extensions["cost"].(costReporter); ok {
		attrs = append(attrs, AttrCost.Int(c.RequestedCost()))
	}
	if len(resp.Errors) == 0 {
		return append(attrs, AttrOutcome.String("ok"))
	}
	return append(attrs, AttrOutcome.String("error"), AttrErrorCodes.StringSlice(ErrorCodes(resp.Errors)))
}

// ErrorCodes are the distinct extensions.code of errs, in order of first appearance (at most 10).
func ErrorCodes(errs gqlerror.List) []string {
	var codes []string
	for _, e := range errs {
		c, _ := e.Extensions["code"].(string)
		if c == "" {
			continue
		}
		known := false
		for _, k := range codes {
			known = known || k == c
		}
		if !known && len(codes) < 10 {
			codes = append(codes, c)
		}
	}
	return codes
}

// fieldSpanExtension is otelgqlgen's field interception alone.
type fieldSpanExtension struct{ t otelgqlgen.Tracer }

var _ graphql.FieldInterceptor = fieldSpanExtension{}

func (fieldSpanExtension) ExtensionName() string                   { return "OpenTelemetryFields" }
func (fieldSpanExtension) Validate(graphql.ExecutableSchema) error { return nil }
func (f fieldSpanExtension) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	return f.t.InterceptField(ctx, next)
}
