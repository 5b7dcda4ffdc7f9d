package audit

import (
	"context"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/store"
)

// Extension is the GraphQL side of the audit trail: it gives every mutation its pending entry,
// and tells Events of every refusal an operation's response carries. Install it among
// graph.ServerOpts.Extensions (outermost), so that it sees refusals decided before execution
// (a spent budget) as well.
type Extension struct {
	// Events receives the security events (nil: none are recorded).
	Events *SecurityEvents
}

var (
	_ graphql.HandlerExtension     = Extension{}
	_ graphql.RootFieldInterceptor = Extension{}
	_ graphql.OperationInterceptor = Extension{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "Audit" }

// Validate implements graphql.HandlerExtension.
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptRootField puts a mutation's pending entry in its context (store.WithPendingAudit).
func (Extension) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	rc := graphql.GetRootFieldContext(ctx)
	if rc == nil || rc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	op := graphql.GetOperationContext(ctx)
	if op.Operation == nil || op.Operation.Operation != ast.Mutation {
		return next(ctx)
	}
	return next(store.WithPendingAudit(ctx, &store.PendingAudit{Entry: MutationEntry(rc.Field.Field, op.Variables)}))
}

// MutationEntry is the generic entry of the mutation field f: action its name; changedFields the
// names of the fields given in its input-object arguments (an explicit null included: it clears
// a field), or, when it has none, the names of its other arguments given; the resource the
// argument `id` (of the type the field returns, when it returns an object) or the first `<type>Id` argument names. Values
// are never recorded. The store replaces the resource with the one the transaction's write
// returns, when it returns one.
func MutationEntry(f *ast.Field, vars map[string]any) store.AuditEntry {
	e := store.AuditEntry{Action: f.Name, ChangedFields: []string{}}
	args := f.ArgumentMap(vars)
	var resourceArg string
	idOf := func(name string) *uuid.UUID {
		v, _ := args[name].(string)
		id, err := uuid.Parse(v)
		if err != nil {
			return nil
		}
		return &id
	}
	if id := idOf("id"); id != nil {
		e.ResourceID, resourceArg = id, "id"
		if f.Definition != nil && !isScalar(f.Definition.Type.Name()) {
			e.ResourceType = f.Definition.Type.Name()
		}
	} else {
		for _, a := range f.Arguments {
			if id := idOf(a.Name); id != nil && strings.HasSuffix(a.Name, "Id") && len(a.Name) > 2 {
				e.ResourceType = strings.ToUpper(a.Name[:1]) + strings.TrimSuffix(a.Name[1:], "Id")
				e.ResourceID, resourceArg = id, a.Name
				break
			}
		}
	}
	var inputs, others []string
	for _, a := range f.Arguments {
		v, given := args[a.Name]
		if !given {
			continue
		}
		if obj, ok := v.(map[string]any); ok {
			for k := range obj {
				inputs = append(inputs, k)
			}
			continue
		}
		if a.Name != resourceArg {
			others = append(others, a.Name)
		}
	}
	if inputs == nil {
		inputs = others
	}
	slices.Sort(inputs)
	e.ChangedFields = append(e.ChangedFields, slices.Compact(inputs)...)
	return e
}

func isScalar(name string) bool {
	return slices.Contains([]string{"ID", "String", "Int", "Float", "Boolean", "Time", "JSON", "Upload"}, name)
}

// InterceptOperation tells Events of the refusals in each response of the operation.
func (x Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	if x.Events == nil {
		return h
	}
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp != nil && len(resp.Errors) > 0 {
			x.Events.Refusals(ctx, resp.Errors)
		}
		return resp
	}
}

// kindOf is the security event of a refusal's code ("" for other codes).
func kindOf(code string) string {
	switch apperr.Code(code) {
	case apperr.Forbidden:
		return KindPermissionDenied
	case apperr.MFARequired:
		return KindMFARequired
	case apperr.RateLimited:
		return KindRateLimited
	}
	return ""
}
