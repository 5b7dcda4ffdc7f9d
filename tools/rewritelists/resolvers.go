package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"slices"
	"strings"
)

// Resolver fields without arguments (and without directives, or with one: directives.go). Every such field (TimeEntry.project, ~1,000
// per nested page, Employee.department, …) went through graphql.ResolveField: five closures
// built per call (field context, resolver, middleware `next`, marshaller, result) and the
// operation's field middleware, for a value the root field's prefetch has mostly put in the
// loader's cache already. resolverFieldsPass writes out what ResolveField does for them, step
// by step, with none of the closures:
//
//	fc, err := ec.fieldContext_T_f(ctx, field)      // the same FieldContext, so children's
//	if err != nil { return graphql.Null }           // paths and errors are unchanged
//	ctx = graphql.WithFieldContext(ctx, fc)
//	defer recover → oc.Error(oc.Recover), null      // only where gqlgen recovers
//	res, err := ec.Resolvers.T().F(ctx, obj)        // a loader call: waits (and batches) as before
//	if err != nil { oc.Error(AddFieldLocationToError); null or RequiredNull as gqlgen }
//	fc.Result = res
//	return ec.marshalX(ctx, field.Selections, res)  // reports null for a non-null field
//
// Only results that are pointers, slices or builtin scalars are rewritten: for those the value
// ResolveField checks against nil (an interface holding the typed result) is never nil, so the
// marshaller alone decides about null, as it does under ResolveField. Like the plain-field
// rewrite, the fast path is taken only when no field middleware is installed
// (lists.Intercepted); otherwise gqlgen's ResolveField call, kept first, runs.
func resolverFieldsPass(path string, src []byte) ([]byte, int, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	graphqlName := importName(file, fromPkg)
	scalarContexts := scalarFieldContexts(file, graphqlName)
	var edits []edit
	var errs []error
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || !resolverCandidate(fn.Body, graphqlName) {
			continue
		}
		if len(fn.Body.List) != 1 {
			if !rewrittenResolverField(fn.Body) {
				errs = append(errs, fmt.Errorf("%s: %s calls a resolver with (ctx, obj) through %s.ResolveField but is not `return %[3]s.ResolveField(…)`: has gqlgen changed its generated code?",
					fset.Position(fn.Pos()), fn.Name.Name, graphqlName))
			}
			continue // rewritten already
		}
		text, err := resolverField(fn, graphqlName, fset, scalarContexts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if text == "" {
			continue // kept on ResolveField: directives, or a result that may be a nil interface
		}
		start := fset.Position(fn.Body.List[0].Pos()).Offset
		end := fset.Position(fn.Body.List[0].End()).Offset
		// gqlgen's return runs first when field middleware is installed (lists.Intercepted).
		text = fmt.Sprintf("if lists.Intercepted(ec.OperationContext) {\n%s\n}\n%s", src[start:end], text)
		edits = append(edits, edit{start, end, text})
	}
	if len(errs) > 0 {
		return nil, 0, errors.Join(errs...)
	}
	if len(edits) == 0 {
		return src, 0, nil
	}
	formatted, err := applyEdits(src, edits)
	if err != nil {
		return nil, 0, fmt.Errorf("%s after rewriting resolver fields: %w", path, err)
	}
	return formatted, len(edits), nil
}

// resolverCandidate reports whether body calls graphql.ResolveField with a resolver that calls
// an argument-less resolver method — `func(ctx context.Context) (any, error) { return
// ec.Resolvers.T().F(ctx, obj) }` as its fifth argument — whatever the rest of the call looks
// like: every such site must be one resolverField recognises, or one it keeps on ResolveField
// for a stated reason.
func resolverCandidate(body *ast.BlockStmt, graphqlName string) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found {
			return !found
		}
		if pkg, name := callee(call); pkg != graphqlName || name != "ResolveField" || len(call.Args) < 5 {
			return true
		}
		if read, ok := singleReturn(call.Args[4], 1); ok {
			resolve, ok := read[0].(*ast.CallExpr)
			found = ok && identArgs(resolve, "ctx", "obj") && resolverMethod(resolve)
		}
		return !found
	})
	return found
}

// resolverMethod reports whether call is ec.Resolvers.T().F(…).
func resolverMethod(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	getter, ok := sel.X.(*ast.CallExpr)
	if !ok || len(getter.Args) != 0 {
		return false
	}
	gsel, ok := getter.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	root, ok := gsel.X.(*ast.SelectorExpr)
	if !ok || root.Sel.Name != "Resolvers" {
		return false
	}
	x, ok := root.X.(*ast.Ident)
	return ok && x.Name == "ec"
}

// rewrittenResolverField reports whether body is resolverFieldsPass's output: it begins with
// `if lists.Intercepted(…) { return graphql.ResolveField(…) }`.
func rewrittenResolverField(body *ast.BlockStmt) bool {
	ifs, ok := body.List[0].(*ast.IfStmt)
	return ok && isCallOf(ifs.Cond, toName, "Intercepted")
}

// resolverField recognises
//
//	func (ec *executionContext) _T_f(ctx context.Context, field graphql.CollectedField, obj *X) (ret graphql.Marshaler) {
//		return graphql.ResolveField(ctx, ec.OperationContext, field,
//			func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
//				return ec.fieldContext_T_f(ctx, field)
//			},
//			func(ctx context.Context) (any, error) { return ec.Resolvers.T().F(ctx, obj) },
//			nil,                                                           // no directives
//			func(ctx context.Context, selections ast.SelectionSet, v R) graphql.Marshaler {
//				return ec.marshalX(ctx, selections, v)
//			}, recoverFromPanic, nonNull)
//	}
//
// and returns the body that resolves it without ResolveField when R is a pointer, slice or
// builtin scalar, or when it has one directive (directives.go); "" for a field kept on
// ResolveField (several directives, or another R). fn is a
// resolverCandidate; any other shape is an error, so that a change in gqlgen's output cannot
// make the rewrite skip fields quietly.
func resolverField(fn *ast.FuncDecl, graphqlName string, fset *token.FileSet, scalarContexts map[string]bool) (string, error) {
	drift := func(what string) error {
		return fmt.Errorf("%s: %s calls a resolver with (ctx, obj), but %s: has gqlgen changed its generated code?",
			fset.Position(fn.Pos()), fn.Name.Name, what)
	}
	params := fn.Type.Params.List
	if fn.Recv == nil || len(params) != 3 || len(params[2].Names) != 1 || params[2].Names[0].Name != "obj" ||
		len(params[1].Names) != 1 || params[1].Names[0].Name != "field" ||
		len(params[0].Names) != 1 || params[0].Names[0].Name != "ctx" {
		return "", drift("its parameters are not (ctx, field, obj)")
	}
	if res := fn.Type.Results; res == nil || len(res.List) != 1 || len(res.List[0].Names) != 1 || res.List[0].Names[0].Name != "ret" {
		return "", drift("its result is not `ret graphql.Marshaler`")
	}
	ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return "", drift("its body is not `return graphql.ResolveField(…)`")
	}
	call, ok := ret.Results[0].(*ast.CallExpr)
	if pkg, name := callee(call); !ok || pkg != graphqlName || name != "ResolveField" {
		return "", drift("its body is not `return graphql.ResolveField(…)`")
	}
	if len(call.Args) != 9 {
		return "", drift(fmt.Sprintf("ResolveField takes %d arguments, not 9", len(call.Args)))
	}
	// The field context: ec.fieldContext_T_f(ctx, field).
	fcRet, ok := singleReturn(call.Args[3], 1)
	if !ok {
		return "", drift("its field context function is not one return")
	}
	fcCall, ok := fcRet[0].(*ast.CallExpr)
	if !ok || !ecCall(fcCall) || !identArgs(fcCall, "ctx", "field") {
		return "", drift("its field context is not `ec.fieldContext_T_f(ctx, field)`")
	}
	read, _ := singleReturn(call.Args[4], 1)
	resolve := read[0].(*ast.CallExpr)
	// The marshaller, and the result type it takes.
	lit, ok := call.Args[6].(*ast.FuncLit)
	if !ok || len(lit.Type.Params.List) != 3 {
		return "", drift("its marshal function does not take (ctx, selections, v)")
	}
	result, ok := singleReturn(call.Args[6], 1)
	if !ok {
		return "", drift("its marshal function is not one return")
	}
	mcall, ok := result[0].(*ast.CallExpr)
	if !ok || !ecCall(mcall) || !identArgs(mcall, "ctx", "selections", "v") {
		return "", drift("its marshal function is not `return ec.marshalX(ctx, selections, v)`")
	}
	recoverFromPanic, ok1 := call.Args[7].(*ast.Ident)
	nonNull, ok2 := call.Args[8].(*ast.Ident)
	if !ok1 || !ok2 || !isBool(recoverFromPanic.Name) || !isBool(nonNull.Name) {
		return "", drift("its recoverFromPanic and nonNull arguments are not true or false")
	}
	marshaller := mcall.Fun.(*ast.SelectorExpr).Sel.Name
	var directive *ast.FuncLit // the field's one directive (directives.go)
	if id, ok := call.Args[5].(*ast.Ident); !ok || id.Name != "nil" {
		d, one, what := singleDirective(call.Args[5])
		if what != "" {
			return "", drift(what)
		}
		if !one || !contextFree(marshaller) {
			return "", nil // several directives, or a marshaller that reads the directive's context
		}
		directive = d
	} else if !neverNilInterface(lit.Type.Params.List[2].Type) {
		return "", nil // ResolveField's nil-interface check could differ from the marshaller's
	}
	src := func(e ast.Node) string {
		var buf bytes.Buffer
		_ = printer.Fprint(&buf, fset, e)
		return buf.String()
	}
	g := graphqlName
	if directive != nil && slices.Contains(inPlaceDirectives, directiveName(directive)) {
		if !scalarContexts[fcCall.Fun.(*ast.SelectorExpr).Sel.Name] {
			return "", drift("its directive resolves in place (inPlaceDirectives), but its field context is not `return " + g + ".NewScalarFieldContext(…)`, which cannot fail")
		}
		const next = "(ctx, obj, directive0"
		if strings.Count(src(directive), next) != 1 {
			return "", drift("its directive resolves in place (inPlaceDirectives), but does not call ec.Directives.D" + next + ", …) once")
		}
		return inPlaceField(g, src(fcCall), src(resolve), src(directive), src(lit.Type.Params.List[2].Type),
			marshaller, recoverFromPanic.Name == "true", nonNull.Name == "true"), nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "fc, err := %s\n", src(fcCall))
	fmt.Fprintf(&b, "if err != nil {\nreturn %s.Null\n}\n", g)
	fmt.Fprintf(&b, "ctx = %s.WithFieldContext(ctx, fc)\n", g)
	if recoverFromPanic.Name == "true" {
		b.WriteString("defer func() {\nif r := recover(); r != nil {\n" +
			"ec.OperationContext.Error(ctx, ec.OperationContext.Recover(ctx, r))\n" +
			"ret = " + g + ".Null\n}\n}()\n")
	}
	if directive == nil {
		fmt.Fprintf(&b, "res, err := %s\n", src(resolve))
	} else {
		// The directive runs now, on the field's context, with the resolver as its next.
		fmt.Fprintf(&b, "directive0 := func(ctx context.Context) (any, error) {\nreturn %s\n}\n", src(resolve))
		fmt.Fprintf(&b, "tmp, err := %s(ctx)\n", src(directive))
	}
	fmt.Fprintf(&b, "if err != nil {\nec.OperationContext.Error(ctx, %s.AddFieldLocationToError(ctx, err))\n", g)
	if nonNull.Name == "false" {
		fmt.Fprintf(&b, "if fc.NonNull {\nreturn %s.RequiredNull\n}\n", g)
	}
	fmt.Fprintf(&b, "return %s.Null\n}\n", g)
	if directive != nil {
		// What ResolveField does with the chain's result: nil is null (reported when the field
		// is non-null), then a value of the field's type, or a Marshaler the directive returned
		// in its place; anything else is an error.
		b.WriteString("if tmp == nil {\n")
		if nonNull.Name == "true" {
			fmt.Fprintf(&b, "%s.AddInvalidNullError(ctx, \"\")\n", g)
		} else {
			fmt.Fprintf(&b, "if fc.NonNull {\n%s.AddInvalidNullError(ctx, \"\")\nreturn %[1]s.RequiredNull\n}\n", g)
		}
		fmt.Fprintf(&b, "return %s.Null\n}\n", g)
		typ := src(lit.Type.Params.List[2].Type)
		fmt.Fprintf(&b, "res, ok := tmp.(%s)\nif !ok {\n", typ)
		fmt.Fprintf(&b, "if m, ok := tmp.(%s.Marshaler); ok {\nfc.Result = m\nreturn m\n}\n", g)
		fmt.Fprintf(&b, "ec.OperationContext.Errorf(ctx, `unexpected type %%T from middleware/directive chain, should be %%T`, tmp, res)\n")
		fmt.Fprintf(&b, "return %s.Null\n}\n", g)
	}
	b.WriteString("fc.Result = res\n")
	b.WriteString(marshalValue(marshaller, "res"))
	return b.String(), nil
}

// inPlaceField is the body of a field whose one directive resolves in place (inPlaceDirectives):
// what resolverField writes for a directive, with the field context (fcCall, which cannot fail)
// built only where an error, a null for a non-null field or a panic is reported, as ResolveField
// reports them with a field context nobody marked non-null.
func inPlaceField(g, fcCall, resolve, directive, typ, marshaller string, recoverFromPanic, nonNull bool) string {
	inField := fmt.Sprintf("fc, _ := %s\nctx := %s.WithFieldContext(ctx, fc)\n", fcCall, g)
	var b bytes.Buffer
	b.WriteString("// In place (tools/rewritelists, inPlaceDirectives): the field context only for an error.\n")
	if recoverFromPanic {
		fmt.Fprintf(&b, "defer func() {\nif r := recover(); r != nil {\n%s"+
			"ec.OperationContext.Error(ctx, ec.OperationContext.Recover(ctx, r))\nret = %s.Null\n}\n}()\n", inField, g)
	}
	// The directive's next is lists.Proceed, which captures nothing (a closure binding the
	// resolver to obj was one allocation per field): returning what it returned lets the
	// resolver run, after the directive, with the field's context.
	fmt.Fprintf(&b, "tmp, err := %s(ctx)\n", strings.Replace(directive, "(ctx, obj, directive0", "(ctx, obj, lists.Proceed", 1))
	fmt.Fprintf(&b, "if _, proceed := tmp.(lists.Proceeded); proceed && err == nil {\ntmp, err = %s\n}\n", resolve)
	fmt.Fprintf(&b, "if err != nil {\n%sec.OperationContext.Error(ctx, %s.AddFieldLocationToError(ctx, err))\nreturn %[2]s.Null\n}\n", inField, g)
	b.WriteString("if tmp == nil {\n")
	if nonNull {
		fmt.Fprintf(&b, "%s%s.AddInvalidNullError(ctx, \"\")\n", inField, g)
	}
	fmt.Fprintf(&b, "return %s.Null\n}\n", g)
	fmt.Fprintf(&b, "res, ok := tmp.(%s)\nif !ok {\n", typ)
	fmt.Fprintf(&b, "if m, ok := tmp.(%s.Marshaler); ok {\nreturn m\n}\n", g)
	fmt.Fprintf(&b, "%sec.OperationContext.Errorf(ctx, `unexpected type %%T from middleware/directive chain, should be %%T`, tmp, res)\n", inField)
	fmt.Fprintf(&b, "return %s.Null\n}\n", g)
	b.WriteString(marshalValue(marshaller, "res"))
	return b.String()
}

// marshalValue is the statement that marshals value with marshaller (a contextFree one):
// through its allocation-free form in package lists where it has one (pointerMarshallers), else
// the marshaller itself.
func marshalValue(marshaller, value string) string {
	if m, ok := pointerMarshallers[marshaller]; ok {
		return "return " + fmt.Sprintf(m, value)
	}
	return fmt.Sprintf("return ec.%s(ctx, field.Selections, %s)", marshaller, value)
}

// pointerMarshallers are marshallers of a pointer with a form in package lists that writes the
// same JSON without allocating (%s: the pointer): gqlgen's graphql.MarshalString allocates a
// closure for every string. The pointed-to value is read when the response is written.
var pointerMarshallers = map[string]string{
	"marshalOString2ᚖstring": "lists.StringPtr(%s)",
}

// scalarFieldContexts are the methods of file whose body is `return <graphql>.NewScalarFieldContext(…)`.
func scalarFieldContexts(file *ast.File, graphqlName string) map[string]bool {
	out := map[string]bool{}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil || len(fn.Body.List) != 1 {
			continue
		}
		if ret, ok := fn.Body.List[0].(*ast.ReturnStmt); ok && len(ret.Results) == 1 && isCallOf(ret.Results[0], graphqlName, "NewScalarFieldContext") {
			out[fn.Name.Name] = true
		}
	}
	return out
}

// ecCall reports whether call is ec.method(…).
func ecCall(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "ec"
}

// identArgs reports whether call's arguments are exactly the identifiers names.
func identArgs(call *ast.CallExpr, names ...string) bool {
	if len(call.Args) != len(names) {
		return false
	}
	for i, a := range call.Args {
		if id, ok := a.(*ast.Ident); !ok || id.Name != names[i] {
			return false
		}
	}
	return true
}

func isBool(s string) bool { return s == "true" || s == "false" }

// neverNilInterface reports whether a value of type t converted to `any` is never the nil
// interface: a pointer, a slice or a builtin scalar.
func neverNilInterface(t ast.Expr) bool {
	switch t := t.(type) {
	case *ast.StarExpr:
		return true
	case *ast.ArrayType:
		return t.Len == nil
	case *ast.Ident:
		switch t.Name {
		case "int", "int32", "int64", "float64", "string", "bool":
			return true
		}
	}
	return false
}
