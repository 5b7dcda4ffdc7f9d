package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"slices"
	"strings"
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
// The fast path is taken only when no field middleware is installed (lists.Intercepted: an
// AroundFields or an extension with InterceptField, such as otelgqlgen's spans); gqlgen's
// ResolveField call stays below it, and runs when one is, so middleware sees every field.

// neverNull lists marshallers of generated.go that return graphql.Null for no value and do not
// use ctx but to report that null. Each is graphql.MarshalString, MarshalBoolean or
// model.MarshalTime on a value, or the optional (nullable) form on a pointer, which returns null
// for nil without an error.
var neverNull = append(slices.Clone(stringMarshallers),
	"marshalNBoolean2bool",
	"marshalNTime2timeᚐTime",
	"marshalOString2ᚖstring",
	"marshalOTime2ᚖtimeᚐTime",
	"marshalOInt2ᚖint",
	"marshalOBoolean2ᚖbool",
)

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
	if err := marshallersDefined(file, path); err != nil {
		return nil, 0, err
	}
	var edits []edit
	var errs []error
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || !plainCandidate(fn.Body, graphqlName) {
			continue
		}
		if len(fn.Body.List) != 1 {
			if !rewrittenPlainRead(fn.Body, graphqlName) {
				errs = append(errs, fmt.Errorf("%s: %s reads a field of obj through %s.ResolveField but is not `return %[3]s.ResolveField(…)`: has gqlgen changed its generated code?",
					fset.Position(fn.Pos()), fn.Name.Name, graphqlName))
			}
			continue // rewritten already
		}
		marshal, value, err := plainRead(fn, graphqlName, fset)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if marshal == "" {
			continue // kept on ResolveField: a directive, or a value that may be null
		}
		// gqlgen's return stays, for operations with field middleware (lists.Intercepted).
		original := fset.Position(fn.Body.List[0].Pos()).Offset
		end := fset.Position(fn.Body.List[0].End()).Offset
		var text string
		if g, ok := nullOnlyFor[marshal]; ok {
			text = fmt.Sprintf("if %s && !lists.Intercepted(ec.OperationContext) {\nreturn %s\n}\n%s",
				fmt.Sprintf(g.guard, value), fmt.Sprintf(g.marshal, value), src[original:end])
		} else if m, ok := plainString(marshal, value); ok {
			text = fmt.Sprintf("if !lists.Intercepted(ec.OperationContext) {\nreturn %s\n}\n%s", m, src[original:end])
		} else {
			text = fmt.Sprintf("if !lists.Intercepted(ec.OperationContext) {\nreturn ec.%s(ctx, field.Selections, %s)\n}\n%s",
				marshal, value, src[original:end])
		}
		edits = append(edits, edit{original, end, text})
	}
	if len(errs) > 0 {
		return nil, 0, errors.Join(errs...)
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

// stringMarshallers are the neverNull marshallers that write graphql.MarshalString of their
// value (marshallersDefined checks each body's one Marshal call). A plain read of a field of obj
// marshals through lists.String(&obj.F) instead: the same JSON without the closure gqlgen
// allocates for every string (six per employee of a page).
var stringMarshallers = []string{
	"marshalNString2string",
	"marshalNAccess2string",
	"marshalNRole2string",
	"marshalNEmployeeStatus2string",
	"marshalNProjectStatus2string",
	"marshalNTaskStatus2string",
	"marshalNTimeEntrySource2string",
	"marshalOString2string",
}

// plainString is the allocation-free marshalling of value, a field of obj (not a method's
// result: lists.String takes its address), for a string marshaller: lists.String or, for a
// *string, lists.StringPtr (pointerMarshallers).
func plainString(marshaller, value string) (string, bool) {
	if strings.HasSuffix(value, ")") {
		return "", false
	}
	if slices.Contains(stringMarshallers, marshaller) {
		return "lists.String(&" + value + ")", true
	}
	if m, ok := pointerMarshallers[marshaller]; ok {
		return fmt.Sprintf(m, value), true
	}
	return "", false
}

// marshallersDefined fails when a marshaller neverNull or nullOnlyFor name is not a method of
// the file: gqlgen names them after the schema's types and the Go types they bind to, so a
// missing one means gqlgen mangles names differently now (and every field it marshals would
// quietly keep ResolveField), or the schema no longer has the type (then drop the entry).
func marshallersDefined(file *ast.File, path string) error {
	defined := map[string]bool{}
	for _, decl := range file.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv != nil {
			defined[fn.Name.Name] = true
		}
	}
	var missing []string
	for _, m := range neverNull {
		if !defined[m] {
			missing = append(missing, m)
		}
	}
	for m := range nullOnlyFor {
		if !defined[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%s defines no %s (listed in tools/rewritelists/plain.go): has gqlgen changed how it names marshallers, or has the schema dropped the type?",
			path, strings.Join(missing, ", "))
	}
	// The string marshallers lists.String and lists.StringPtr stand in for must write what
	// graphql.MarshalString writes: their one Marshal call is it.
	graphqlName := importName(file, fromPkg)
	strs := slices.Clone(stringMarshallers)
	for m := range pointerMarshallers {
		strs = append(strs, m)
	}
	var notString []string
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil || !slices.Contains(strs, fn.Name.Name) {
			continue
		}
		var marshals []string
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if pkg, name := callee(call); pkg == graphqlName && strings.HasPrefix(name, "Marshal") {
					marshals = append(marshals, name)
				}
			}
			return true
		})
		if len(marshals) != 1 || marshals[0] != "MarshalString" {
			notString = append(notString, fn.Name.Name)
		}
	}
	if len(notString) > 0 {
		slices.Sort(notString)
		return fmt.Errorf("%s: %s no longer marshal with %s.MarshalString alone (tools/rewritelists/plain.go writes lists.String in their place): has gqlgen changed them?",
			path, strings.Join(notString, ", "), graphqlName)
	}
	return nil
}

// plainCandidate reports whether body calls graphql.ResolveField with a resolver that only
// reads obj — `func(ctx context.Context) (any, error) { return obj.F, nil }` (or obj.M()) as
// its fifth argument — whatever the rest of the call looks like: every such site must be one
// plainRead recognises, or one it keeps on ResolveField for a stated reason.
func plainCandidate(body *ast.BlockStmt, graphqlName string) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found {
			return !found
		}
		if pkg, name := callee(call); pkg != graphqlName || name != "ResolveField" || len(call.Args) < 5 {
			return true
		}
		if read, ok := singleReturn(call.Args[4], 2); ok && readsObj(read[0]) {
			if id, ok := read[1].(*ast.Ident); ok && id.Name == "nil" {
				found = true
			}
		}
		return !found
	})
	return found
}

// readsObj reports whether e is obj.F or obj.M().
func readsObj(e ast.Expr) bool {
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 0 {
		e = call.Fun
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "obj"
}

// rewrittenPlainRead reports whether body is plainFieldsPass's output: `if [guard &&]
// !lists.Intercepted(…) { return … }` followed by gqlgen's `return graphql.ResolveField(…)`.
func rewrittenPlainRead(body *ast.BlockStmt, graphqlName string) bool {
	if len(body.List) != 2 {
		return false
	}
	ifs, ok := body.List[0].(*ast.IfStmt)
	if !ok {
		return false
	}
	cond := ifs.Cond
	if b, ok := cond.(*ast.BinaryExpr); ok && b.Op == token.LAND {
		cond = b.Y
	}
	if u, ok := cond.(*ast.UnaryExpr); !ok || u.Op != token.NOT || !isCallOf(u.X, toName, "Intercepted") {
		return false
	}
	ret, ok := body.List[1].(*ast.ReturnStmt)
	return ok && len(ret.Results) == 1 && isCallOf(ret.Results[0], graphqlName, "ResolveField")
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
// and returns marshalX and the value expression ("obj.F"); marshalX is "" for a field kept on
// ResolveField: one with directives, a method of a type outside storeMethods, or a marshaller
// neither neverNull nor nullOnlyFor lists. fn is a plainCandidate; any other shape is an error,
// so that a change in gqlgen's output cannot make the rewrite skip fields quietly.
func plainRead(fn *ast.FuncDecl, graphqlName string, fset *token.FileSet) (marshal, value string, err error) {
	drift := func(what string) error {
		return fmt.Errorf("%s: %s reads a field of obj, but %s: has gqlgen changed its generated code?",
			fset.Position(fn.Pos()), fn.Name.Name, what)
	}
	params := fn.Type.Params.List
	if fn.Recv == nil || len(params) != 3 || len(params[2].Names) != 1 || params[2].Names[0].Name != "obj" ||
		len(params[1].Names) != 1 || params[1].Names[0].Name != "field" {
		return "", "", drift("its parameters are not (ctx, field, obj)")
	}
	ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return "", "", drift("its body is not `return graphql.ResolveField(…)`")
	}
	call, ok := ret.Results[0].(*ast.CallExpr)
	if pkg, name := callee(call); !ok || pkg != graphqlName || name != "ResolveField" {
		return "", "", drift("its body is not `return graphql.ResolveField(…)`")
	}
	if len(call.Args) != 9 {
		return "", "", drift(fmt.Sprintf("ResolveField takes %d arguments, not 9", len(call.Args)))
	}
	read, _ := singleReturn(call.Args[4], 2)
	result, ok := singleReturn(call.Args[6], 1)
	if !ok {
		return "", "", drift("its marshal function is not one return")
	}
	mcall, ok := result[0].(*ast.CallExpr)
	if !ok || !ecCall(mcall) || !identArgs(mcall, "ctx", "selections", "v") {
		return "", "", drift("its marshal function is not `return ec.marshalX(ctx, selections, v)`")
	}
	if id, ok := call.Args[5].(*ast.Ident); !ok || id.Name != "nil" {
		return "", "", nil // directives: their middleware chain
	}
	if _, ok := read[0].(*ast.CallExpr); ok && !onStoreType(params[2].Type) {
		return "", "", nil // a method that may do anything
	}
	marshal = mcall.Fun.(*ast.SelectorExpr).Sel.Name
	if _, ok := nullOnlyFor[marshal]; !ok && !slices.Contains(neverNull, marshal) {
		return "", "", nil // a marshaller that may report null, which needs the field context
	}
	var buf bytes.Buffer
	if err := printer.Fprint(&buf, fset, read[0]); err != nil {
		return "", "", err
	}
	return marshal, buf.String(), nil
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
