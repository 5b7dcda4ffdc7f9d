package main

import (
	"go/ast"
	"go/token"
	"slices"
)

// Resolver fields with one directive (Employee.ssn and the other fields declared @pii: 200 per
// page of 50 employees). gqlgen runs such a field's directive as a middleware chain inside
// graphql.ResolveField, built for every field of every row: the chain's closure, a closure per
// directive, the `next` that wraps the resolver, besides ResolveField's own. resolverField writes
// them out as it does for a field without directives, with the directive compiled in, not
// skipped: the generated code runs gqlgen's own directive closure (its arguments unmarshalled,
// the "not implemented" check, the call of ec.Directives.D with obj and the resolver as next)
// once, immediately, on the field's context, and handles its result as ResolveField does (an
// error, a nil, a value of the field's type, or a Marshaler returned by the directive in its
// place). The field's resolver is the directive's next: it runs only if, and with the context
// with which, the directive calls it.
//
// Only a single directive is rewritten (a chain of several keeps ResolveField: none exists in
// the schema to check the order against), and only on a scalar whose marshaller never reads the
// context (neverNull): ResolveField marshals with the context the directive passed to next,
// which the rewritten code does not keep.

// singleDirective recognises gqlgen's middleware chain for one directive,
//
//	func(ctx context.Context, next graphql.Resolver) graphql.Resolver {
//		directive0 := next
//		directive1 := func(ctx context.Context) (any, error) {
//			… // arguments unmarshalled, ec.Directives.D checked for nil
//			return ec.Directives.D(ctx, obj, directive0, args…)
//		}
//		next = directive1
//		return next
//	}
//
// and returns directive1. ok is false for a chain of another length; drift describes a chain of
// one directive in another shape.
func singleDirective(chain ast.Expr) (directive *ast.FuncLit, ok bool, drift string) {
	lit, isLit := chain.(*ast.FuncLit)
	if !isLit || len(lit.Type.Params.List) != 2 {
		return nil, false, "its directive chain is not `func(ctx, next) graphql.Resolver`"
	}
	body := lit.Body.List
	var directives int
	for _, stmt := range body {
		if assign, isAssign := stmt.(*ast.AssignStmt); isAssign && assign.Tok == token.DEFINE && len(assign.Lhs) == 1 {
			if _, isFunc := assign.Rhs[0].(*ast.FuncLit); isFunc {
				directives++
			}
		}
	}
	if directives != 1 {
		return nil, false, "" // several directives: kept on ResolveField
	}
	if len(body) != 4 || !assigns(body[0], token.DEFINE, "directive0", "next") ||
		!assigns(body[2], token.ASSIGN, "next", "directive1") {
		return nil, false, "its directive chain is not `directive0 := next; directive1 := func…; next = directive1; return next`"
	}
	if ret, isRet := body[3].(*ast.ReturnStmt); !isRet || len(ret.Results) != 1 || !isIdent(ret.Results[0], "next") {
		return nil, false, "its directive chain does not end with `return next`"
	}
	def, _ := body[1].(*ast.AssignStmt)
	if !isIdent(def.Lhs[0], "directive1") {
		return nil, false, "its directive chain does not define directive1"
	}
	directive = def.Rhs[0].(*ast.FuncLit)
	if len(directive.Type.Params.List) != 1 || len(directive.Type.Params.List[0].Names) != 1 ||
		directive.Type.Params.List[0].Names[0].Name != "ctx" || len(directive.Body.List) == 0 {
		return nil, false, "its directive is not `func(ctx context.Context) (any, error)`"
	}
	last, isRet := directive.Body.List[len(directive.Body.List)-1].(*ast.ReturnStmt)
	if !isRet || len(last.Results) != 1 {
		return nil, false, "its directive does not end with `return ec.Directives.D(ctx, obj, directive0, …)`"
	}
	call, isCall := last.Results[0].(*ast.CallExpr)
	if !isCall || !directiveCall(call) || len(call.Args) < 3 ||
		!isIdent(call.Args[0], "ctx") || !isIdent(call.Args[1], "obj") || !isIdent(call.Args[2], "directive0") {
		return nil, false, "its directive does not end with `return ec.Directives.D(ctx, obj, directive0, …)`"
	}
	// Nothing but the directive's own closure may see next: the rewritten code binds directive0
	// to the resolver alone.
	uses := 0
	ast.Inspect(directive.Body, func(n ast.Node) bool {
		if isIdent(n, "next") {
			uses++
		}
		return true
	})
	if uses != 0 {
		return nil, false, "its directive refers to next"
	}
	return directive, true, ""
}

// inPlaceDirectives are the directives whose fields resolve in place, and build their field
// context only to report an error. @pii is on the four personal data fields of every employee
// (200 per page of 50): its function (graph's pii) answers the hidden and masked views from the
// row, and the fields' resolver (resolvers' piiField), reached for the last four, reads the
// masked forms the keyring cached for the row's version or waits for the one batch of
// PIICiphertexts. So for each of them, besides the closure the directive's next needs, gqlgen's
// way cost a field context, the context
// carrying it, the object's pending entry and its closure — six allocations for a value that is
// most often at hand. What makes that safe is the contract of both functions, checked by graph's
// tests (TestPIIMaskingByRole on both paths; the error path of TestPIISwappedCiphertextsFailClearly):
//
//   - neither reads the field's context (graphql.GetFieldContext) nor marks it non-null, so the
//     object's context serves them, and the field context built for an error or a panic has
//     what ResolveField's would (its NonNull never set);
//   - neither waits but for a loader's batch. The object runs them once its loop has queued its
//     resolver fields (fieldsPass), with the context lists.Fields.InPlaceFields gives: a wait's
//     BeforeWait starts those fields, and the enclosing lists' other elements, on goroutines of
//     their own, so their batches run alongside its own rather than after it
//     (TestInPlaceFieldHandsOffTheObjectsQueuedFields);
//   - the directive's next is lists.Proceed, which captures nothing (a closure binding the
//     resolver to obj was one more allocation per field): a directive that lets the field
//     resolve calls it with its own context and returns what it returned, unchanged, and
//     never reads the value; the generated code then calls the resolver with that context.
var inPlaceDirectives = []string{"Pii"}

// directiveName is D of the `return ec.Directives.D(…)` that ends directive (singleDirective).
func directiveName(directive *ast.FuncLit) string {
	last := directive.Body.List[len(directive.Body.List)-1].(*ast.ReturnStmt)
	return last.Results[0].(*ast.CallExpr).Fun.(*ast.SelectorExpr).Sel.Name
}

// directiveCall reports whether call is ec.Directives.D(…).
func directiveCall(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	root, ok := sel.X.(*ast.SelectorExpr)
	return ok && root.Sel.Name == "Directives" && isIdent(root.X, "ec")
}

// assigns reports whether stmt is `lhs <tok> rhs` for two identifiers.
func assigns(stmt ast.Stmt, tok token.Token, lhs, rhs string) bool {
	a, ok := stmt.(*ast.AssignStmt)
	return ok && a.Tok == tok && len(a.Lhs) == 1 && len(a.Rhs) == 1 && isIdent(a.Lhs[0], lhs) && isIdent(a.Rhs[0], rhs)
}

func isIdent(n ast.Node, name string) bool {
	id, ok := n.(*ast.Ident)
	return ok && id.Name == name
}

// contextFree reports whether marshaller never reads ctx but to report a null (neverNull).
func contextFree(marshaller string) bool { return slices.Contains(neverNull, marshaller) }
