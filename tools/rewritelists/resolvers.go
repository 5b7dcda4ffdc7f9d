package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
)

// Resolver fields without arguments or directives. Every such field (TimeEntry.project, ~1,000
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
// rewrite, these fields no longer pass through operation-level field middleware (AroundFields,
// InterceptField extensions), which the server does not install.
func resolverFieldsPass(path string, src []byte) ([]byte, int, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	graphqlName := importName(file, fromPkg)
	var edits []edit
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || len(fn.Body.List) != 1 {
			continue
		}
		text, ok := resolverField(fn, graphqlName, fset)
		if !ok {
			continue
		}
		start := fset.Position(fn.Body.List[0].Pos()).Offset
		end := fset.Position(fn.Body.List[0].End()).Offset
		edits = append(edits, edit{start, end, text})
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
// with R a pointer, slice or builtin scalar, and returns the body that replaces the return.
func resolverField(fn *ast.FuncDecl, graphqlName string, fset *token.FileSet) (string, bool) {
	if fn.Recv == nil || fn.Type.Params.NumFields() != 3 {
		return "", false
	}
	params := fn.Type.Params.List
	if len(params) != 3 || len(params[2].Names) != 1 || params[2].Names[0].Name != "obj" ||
		len(params[1].Names) != 1 || params[1].Names[0].Name != "field" ||
		len(params[0].Names) != 1 || params[0].Names[0].Name != "ctx" {
		return "", false
	}
	if res := fn.Type.Results; res == nil || len(res.List) != 1 || len(res.List[0].Names) != 1 || res.List[0].Names[0].Name != "ret" {
		return "", false
	}
	ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return "", false
	}
	call, ok := ret.Results[0].(*ast.CallExpr)
	if !ok || len(call.Args) != 9 {
		return "", false
	}
	if pkg, name := callee(call); pkg != graphqlName || name != "ResolveField" {
		return "", false
	}
	if id, ok := call.Args[5].(*ast.Ident); !ok || id.Name != "nil" {
		return "", false // directives
	}
	// The field context: ec.fieldContext_T_f(ctx, field).
	fcRet, ok := singleReturn(call.Args[3], 1)
	if !ok {
		return "", false
	}
	fcCall, ok := fcRet[0].(*ast.CallExpr)
	if !ok || !ecCall(fcCall) || !identArgs(fcCall, "ctx", "field") {
		return "", false
	}
	// The resolver: ec.Resolvers.T().F(ctx, obj).
	read, ok := singleReturn(call.Args[4], 1)
	if !ok {
		return "", false
	}
	resolve, ok := read[0].(*ast.CallExpr)
	if !ok || !identArgs(resolve, "ctx", "obj") {
		return "", false
	}
	sel, ok := resolve.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	getter, ok := sel.X.(*ast.CallExpr)
	if !ok || len(getter.Args) != 0 {
		return "", false
	}
	gsel, ok := getter.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	if root, ok := gsel.X.(*ast.SelectorExpr); !ok || root.Sel.Name != "Resolvers" {
		return "", false
	} else if x, ok := root.X.(*ast.Ident); !ok || x.Name != "ec" {
		return "", false
	}
	// The marshaller, and the result type it takes.
	lit, ok := call.Args[6].(*ast.FuncLit)
	if !ok || len(lit.Type.Params.List) != 3 || !neverNilInterface(lit.Type.Params.List[2].Type) {
		return "", false
	}
	result, ok := singleReturn(call.Args[6], 1)
	if !ok {
		return "", false
	}
	mcall, ok := result[0].(*ast.CallExpr)
	if !ok || !ecCall(mcall) || !identArgs(mcall, "ctx", "selections", "v") {
		return "", false
	}
	recoverFromPanic, ok1 := call.Args[7].(*ast.Ident)
	nonNull, ok2 := call.Args[8].(*ast.Ident)
	if !ok1 || !ok2 || !isBool(recoverFromPanic.Name) || !isBool(nonNull.Name) {
		return "", false
	}
	src := func(e ast.Node) string {
		var buf bytes.Buffer
		_ = printer.Fprint(&buf, fset, e)
		return buf.String()
	}
	g := graphqlName
	var b bytes.Buffer
	fmt.Fprintf(&b, "fc, err := %s\n", src(fcCall))
	fmt.Fprintf(&b, "if err != nil {\nreturn %s.Null\n}\n", g)
	fmt.Fprintf(&b, "ctx = %s.WithFieldContext(ctx, fc)\n", g)
	if recoverFromPanic.Name == "true" {
		b.WriteString("defer func() {\nif r := recover(); r != nil {\n" +
			"ec.OperationContext.Error(ctx, ec.OperationContext.Recover(ctx, r))\n" +
			"ret = " + g + ".Null\n}\n}()\n")
	}
	fmt.Fprintf(&b, "res, err := %s\n", src(resolve))
	fmt.Fprintf(&b, "if err != nil {\nec.OperationContext.Error(ctx, %s.AddFieldLocationToError(ctx, err))\n", g)
	if nonNull.Name == "false" {
		fmt.Fprintf(&b, "if fc.NonNull {\nreturn %s.RequiredNull\n}\n", g)
	}
	fmt.Fprintf(&b, "return %s.Null\n}\n", g)
	b.WriteString("fc.Result = res\n")
	fmt.Fprintf(&b, "return ec.%s(ctx, field.Selections, res)", mcall.Fun.(*ast.SelectorExpr).Sel.Name)
	return b.String(), true
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
