package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"slices"
)

// Plain field reads. gqlgen resolves every field through graphql.ResolveField: a FieldContext and
// a context for the field, three closures, the operation's field middleware and a deferred
// recover — also for a scalar that is only read from the object (`return obj.Name, nil`). On a
// nested page of ~2,300 objects that machinery was the largest allocator (FieldContexts alone
// 15% of the bytes). plainFieldsPass rewrites such a field to marshal the value directly when
// nothing can go differently:
//
//   - the field has no directives (no middleware chain) and the value is a field of obj, or a
//     method without arguments of one of the project's store types (which cannot fail);
//   - its marshaller is one that never turns a value into null, so it never reports an error
//     (which would need the field's path) and never reads ctx; see neverNull. An ID is a
//     uuid.UUID, null only when it is uuid.Nil: that one case keeps gqlgen's path.
//
// What such a field no longer passes through: operation-level field middleware (AroundFields,
// extensions with InterceptField). The server installs none; one added later would not see
// these fields.

// neverNull lists marshallers of generated.go that return graphql.Null for no value and do not
// use ctx but to report that null. Each is graphql.MarshalString, MarshalBoolean or
// model.MarshalTime on a value, or the optional (nullable) form on a pointer, which returns null
// for nil without an error.
var neverNull = []string{
	"marshalNString2string",
	"marshalNBoolean2bool",
	"marshalNTime2timeᚐTime",
	"marshalNAccess2string",
	"marshalNRole2string",
	"marshalNEmployeeStatus2string",
	"marshalNProjectStatus2string",
	"marshalNTaskStatus2string",
	"marshalNTimeEntrySource2string",
	"marshalOString2string",
	"marshalOString2ᚖstring",
	"marshalOTime2ᚖtimeᚐTime",
	"marshalOInt2ᚖint",
	"marshalOBoolean2ᚖbool",
}

// nullOnlyFor lists marshallers that return null for exactly one value, with the guard that
// excludes it and what marshals the value past the guard (%s: the value).
var nullOnlyFor = map[string]struct{ guard, marshal string }{
	// lists.ID writes what graphql.MarshalUUID writes, without allocating a string and a closure.
	"marshalNID2githubᚗcomᚋgoogleᚋuuidᚐUUID": {"%s != uuid.Nil", "lists.ID(&%s)"},
}

// storeMethods are the receiver types whose argument-less methods may be called directly.
var storeMethods = []string{"store"}

type edit struct {
	start, end int
	text       string
}

// applyEdits replaces each edit's range of src (edits in order, not overlapping) and formats the
// result.
func applyEdits(src []byte, edits []edit) ([]byte, error) {
	var out []byte
	last := 0
	for _, e := range edits {
		out = append(out, src[last:e.start]...)
		out = append(out, e.text...)
		last = e.end
	}
	out = append(out, src[last:]...)
	return format.Source(out)
}

func plainFieldsPass(path string, src []byte) ([]byte, int, error) {
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
		marshal, value, ok := plainRead(fn, graphqlName, fset)
		if !ok {
			continue
		}
		direct := fmt.Sprintf("return ec.%s(ctx, field.Selections, %s)", marshal, value)
		original := fset.Position(fn.Body.List[0].Pos()).Offset
		end := fset.Position(fn.Body.List[0].End()).Offset
		var text string
		if g, ok := nullOnlyFor[marshal]; ok {
			text = fmt.Sprintf("if %s {\nreturn %s\n}\n%s", fmt.Sprintf(g.guard, value), fmt.Sprintf(g.marshal, value), src[original:end])
		} else if slices.Contains(neverNull, marshal) {
			text = direct
		} else {
			continue
		}
		edits = append(edits, edit{original, end, text})
	}
	if len(edits) == 0 {
		return src, 0, nil
	}
	formatted, err := applyEdits(src, edits)
	if err != nil {
		return nil, 0, fmt.Errorf("%s after rewriting plain fields: %w", path, err)
	}
	return formatted, len(edits), nil
}

// plainRead recognises
//
//	func (ec *executionContext) _T_f(ctx context.Context, field graphql.CollectedField, obj *X) (ret graphql.Marshaler) {
//		return graphql.ResolveField(ctx, ec.OperationContext, field, <field context>,
//			func(ctx context.Context) (any, error) { return obj.F, nil },   // or obj.M() on a store type
//			nil,                                                           // no directives
//			func(ctx context.Context, selections ast.SelectionSet, v T) graphql.Marshaler {
//				return ec.marshalX(ctx, selections, v)
//			}, recoverFromPanic, nonNull)
//	}
//
// and returns marshalX and the value expression ("obj.F").
func plainRead(fn *ast.FuncDecl, graphqlName string, fset *token.FileSet) (marshal, value string, ok bool) {
	if fn.Recv == nil || fn.Type.Params.NumFields() != 3 {
		return "", "", false
	}
	params := fn.Type.Params.List
	if len(params) != 3 || len(params[2].Names) != 1 || params[2].Names[0].Name != "obj" ||
		len(params[1].Names) != 1 || params[1].Names[0].Name != "field" {
		return "", "", false
	}
	ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return "", "", false
	}
	call, ok := ret.Results[0].(*ast.CallExpr)
	if !ok || len(call.Args) != 9 {
		return "", "", false
	}
	if pkg, name := callee(call); pkg != graphqlName || name != "ResolveField" {
		return "", "", false
	}
	if id, ok := call.Args[5].(*ast.Ident); !ok || id.Name != "nil" {
		return "", "", false // directives
	}
	read, ok := singleReturn(call.Args[4], 2)
	if !ok {
		return "", "", false
	}
	if id, ok := read[1].(*ast.Ident); !ok || id.Name != "nil" {
		return "", "", false
	}
	switch v := read[0].(type) {
	case *ast.SelectorExpr:
		if x, ok := v.X.(*ast.Ident); !ok || x.Name != "obj" {
			return "", "", false
		}
	case *ast.CallExpr:
		sel, ok := v.Fun.(*ast.SelectorExpr)
		if !ok || len(v.Args) != 0 {
			return "", "", false
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "obj" || !onStoreType(params[2].Type) {
			return "", "", false
		}
	default:
		return "", "", false
	}
	result, ok := singleReturn(call.Args[6], 1)
	if !ok {
		return "", "", false
	}
	mcall, ok := result[0].(*ast.CallExpr)
	if !ok || len(mcall.Args) != 3 {
		return "", "", false
	}
	msel, ok := mcall.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", "", false
	}
	if x, ok := msel.X.(*ast.Ident); !ok || x.Name != "ec" {
		return "", "", false
	}
	if v, ok := mcall.Args[2].(*ast.Ident); !ok || v.Name != "v" {
		return "", "", false
	}
	var buf bytes.Buffer
	if err := printer.Fprint(&buf, fset, read[0]); err != nil {
		return "", "", false
	}
	return msel.Sel.Name, buf.String(), true
}

// singleReturn returns the results of a function literal whose body is one return of n values.
func singleReturn(e ast.Expr, n int) ([]ast.Expr, bool) {
	lit, ok := e.(*ast.FuncLit)
	if !ok || len(lit.Body.List) != 1 {
		return nil, false
	}
	ret, ok := lit.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != n {
		return nil, false
	}
	return ret.Results, true
}

// onStoreType reports whether t is *pkg.T for a package in storeMethods.
func onStoreType(t ast.Expr) bool {
	star, ok := t.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && slices.Contains(storeMethods, pkg.Name)
}
