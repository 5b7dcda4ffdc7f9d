package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"sort"
	"strings"
)

// fieldsPass makes every object whose resolver fields gqlgen schedules with
// out.ResolveConcurrently collect them in a lists.Fields instead, and run them with its Dispatch
// in place of out.Dispatch (see internal/lists):
//
//	out := graphql.NewFieldSet(fields)
//	var pending lists.Fields                                   // added
//	…
//	pending.ResolveConcurrently(out, field, ec.OperationContext, &deferred, i, …)   // was out.ResolveConcurrently(ec.OperationContext, &deferred, i, …)
//	…
//	pending.Dispatch(ctx, out)                                 // was out.Dispatch(ctx)
//
// A field whose one directive resolves in place (inPlaceDirectives) is not scheduled, unless
// @defer'd: the loop records it, and its function runs once every resolver field is queued, as
// gqlgen runs a field that is no resolver's, with a context that lets it hand those fields off
// if it must wait for a loader's batch (lists.Fields.InPlaceFields):
//
//	case "ssn":
//		if field.IsDeferred() {
//			pending.ResolveConcurrently(out, field, …)
//		} else {
//			pending.InPlace(i)
//		}
//	…
//	if ctx, inPlace := pending.InPlaceFields(ctx); len(inPlace) > 0 {
//		for _, i := range inPlace {
//			switch field := fields[i]; field.Name {
//			case "ssn":
//				out.Values[i] = ec._T_ssn(ctx, field, obj)
//				if out.Values[i] == graphql.RequiredNull {   // graphql.Null for a non-null field
//					atomic.AddUint32(&out.Invalids, 1)
//				}
//			}
//		}
//	}
//	pending.Dispatch(ctx, out)
func fieldsPass(path string, src []byte) (out []byte, objects, inPlaceCount int, err error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, 0, 0, err
	}
	graphqlName := importName(file, fromPkg)
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	inPlace := inPlaceFields(file)
	var edits []edit
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		var calls []*ast.CallExpr
		inFieldLoop := map[*ast.CallExpr]bool{}
		caseOf := map[*ast.CallExpr]*ast.CaseClause{}
		var stack []ast.Node
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if x, name := callee(call); x == "out" && name == "ResolveConcurrently" {
				calls = append(calls, call)
				for _, s := range stack {
					if r, ok := s.(*ast.RangeStmt); ok {
						if v, ok := r.Value.(*ast.Ident); ok && v.Name == "field" {
							inFieldLoop[call] = true
						}
					}
					if c, ok := s.(*ast.CaseClause); ok {
						caseOf[call] = c
					}
				}
			}
			return true
		})
		if len(calls) == 0 {
			continue
		}
		var newFieldSet, dispatch ast.Stmt
		for _, stmt := range fn.Body.List {
			switch s := stmt.(type) {
			case *ast.AssignStmt:
				if id, ok := s.Lhs[0].(*ast.Ident); ok && id.Name == "out" && len(s.Rhs) == 1 {
					if call, ok := s.Rhs[0].(*ast.CallExpr); ok {
						if x, name := callee(call); x == graphqlName && name == "NewFieldSet" {
							newFieldSet = s
						}
					}
				}
			case *ast.ExprStmt:
				if call, ok := s.X.(*ast.CallExpr); ok {
					if x, name := callee(call); x == "out" && name == "Dispatch" && len(call.Args) == 1 {
						dispatch = s
					}
				}
			}
		}
		if newFieldSet == nil || dispatch == nil {
			return nil, 0, 0, fmt.Errorf("%s: %s schedules fields without `out := %s.NewFieldSet(…)` and `out.Dispatch(ctx)` in its body",
				fset.Position(fn.Pos()), fn.Name.Name, graphqlName)
		}
		var inPlaceCases strings.Builder
		for _, call := range calls {
			if !inFieldLoop[call] {
				return nil, 0, 0, fmt.Errorf("%s: ResolveConcurrently outside a `for i, field := range fields` loop", fset.Position(call.Pos()))
			}
			if resolve, nonNull, ok := resolvedInPlace(call, inPlace); ok {
				c := caseOf[call]
				if c == nil || len(c.List) != 1 {
					return nil, 0, 0, fmt.Errorf("%s: a field resolved in place outside a `case \"name\":` of one name", fset.Position(call.Pos()))
				}
				// The loop records the field; its function runs after the loop has queued every
				// resolver field (as gqlgen runs a field that is no resolver's). @defer still
				// schedules it.
				invalid := graphqlName + ".RequiredNull"
				if nonNull {
					invalid = graphqlName + ".Null"
				}
				edits = append(edits, edit{off(call.Pos()), off(call.End()), fmt.Sprintf(
					"if field.IsDeferred() {\npending.ResolveConcurrently(out, field, %s)\n} else {\npending.InPlace(i)\n}",
					src[off(call.Lparen)+1:off(call.Rparen)])})
				fmt.Fprintf(&inPlaceCases, "case %s:\nout.Values[i] = %s\nif out.Values[i] == %s {\natomic.AddUint32(&out.Invalids, 1)\n}\n",
					src[off(c.List[0].Pos()):off(c.List[0].End())], resolve, invalid)
				inPlaceCount++
				continue
			}
			edits = append(edits, edit{off(call.Fun.Pos()), off(call.Lparen) + 1, "pending.ResolveConcurrently(out, field, "})
		}
		dispatchText := "pending.Dispatch(ctx, out)"
		if inPlaceCases.Len() > 0 {
			dispatchText = "if ctx, inPlace := pending.InPlaceFields(ctx); len(inPlace) > 0 {\nfor _, i := range inPlace {\n" +
				"switch field := fields[i]; field.Name {\n" + inPlaceCases.String() + "}\n}\n}\n" + dispatchText
		}
		pendingType := "lists.Fields"
		if inPlaceCases.Len() > 0 {
			pendingType = "lists.FieldsInPlace"
		}
		edits = append(edits,
			edit{off(newFieldSet.End()), off(newFieldSet.End()), "\n\tvar pending " + pendingType},
			edit{off(dispatch.Pos()), off(dispatch.End()), dispatchText})
		objects++
	}
	if len(edits) == 0 {
		return src, 0, 0, nil
	}
	sort.Slice(edits, func(a, b int) bool { return edits[a].start < edits[b].start })
	formatted, err := applyEdits(src, edits)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s after rewriting object fields: %w", path, err)
	}
	return formatted, objects, inPlaceCount, nil
}

// inPlaceFields are the field functions resolverFieldsPass rewrote whose one directive resolves
// in place (inPlaceDirectives): a rewritten resolver field calling ec.Directives.D for such a D.
func inPlaceFields(file *ast.File) map[string]bool {
	out := map[string]bool{}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || len(fn.Body.List) < 2 || !rewrittenResolverField(fn.Body) {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && directiveCall(call) &&
				slices.Contains(inPlaceDirectives, call.Fun.(*ast.SelectorExpr).Sel.Name) {
				out[fn.Name.Name] = true
			}
			return true
		})
	}
	return out
}

// resolvedInPlace recognises `out.ResolveConcurrently(oc, &deferred, i, recoverFromPanic,
// nonNull, func(ctx context.Context) graphql.Marshaler { return ec._T_f(ctx, field, obj) })` for
// an inPlace field function, and returns the call of it and nonNull.
func resolvedInPlace(call *ast.CallExpr, inPlace map[string]bool) (resolve string, nonNull, ok bool) {
	if len(call.Args) != 6 {
		return "", false, false
	}
	ret, ok := singleReturn(call.Args[5], 1)
	if !ok {
		return "", false, false
	}
	field, ok := ret[0].(*ast.CallExpr)
	if !ok || !ecCall(field) || !identArgs(field, "ctx", "field", "obj") {
		return "", false, false
	}
	name := field.Fun.(*ast.SelectorExpr).Sel.Name
	flag, isIdent := call.Args[4].(*ast.Ident)
	if !inPlace[name] || !isIdent || !isBool(flag.Name) {
		return "", false, false
	}
	return "ec." + name + "(ctx, field, obj)", flag.Name == "true", true
}

// objectsPass makes every object function that ends in `return out`, out being
// `graphql.NewFieldSet(fields)`, return lists.Object(fields, out.Values) instead: the same JSON
// without gqlgen's per-object map of written aliases (see lists.Object). An object function that
// builds the field set and returns anything else is an error.
func objectsPass(path string, src []byte) ([]byte, int, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	graphqlName := importName(file, fromPkg)
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	var edits []edit
	var errs []error
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || len(fn.Body.List) == 0 {
			continue
		}
		fieldSet := false
		for _, stmt := range fn.Body.List {
			if s, ok := stmt.(*ast.AssignStmt); ok && len(s.Lhs) == 1 && len(s.Rhs) == 1 {
				id, ok := s.Lhs[0].(*ast.Ident)
				call, isCall := s.Rhs[0].(*ast.CallExpr)
				if ok && isCall && id.Name == "out" && len(call.Args) == 1 {
					x, name := callee(call)
					arg, _ := call.Args[0].(*ast.Ident)
					fieldSet = fieldSet || (x == graphqlName && name == "NewFieldSet" && arg != nil && arg.Name == "fields")
				}
			}
		}
		if !fieldSet {
			continue
		}
		ret, ok := fn.Body.List[len(fn.Body.List)-1].(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 {
			errs = append(errs, fmt.Errorf("%s: %s builds `out := %s.NewFieldSet(fields)` but does not end in one return: has gqlgen changed its generated code?",
				fset.Position(fn.Pos()), fn.Name.Name, graphqlName))
			continue
		}
		if id, ok := ret.Results[0].(*ast.Ident); ok && id.Name == "out" {
			edits = append(edits, edit{off(id.Pos()), off(id.End()), "lists.Object(fields, out.Values)"})
		} else if !isCallOf(ret.Results[0], toName, "Object") {
			errs = append(errs, fmt.Errorf("%s: %s builds `out := %s.NewFieldSet(fields)` but does not `return out`: has gqlgen changed its generated code?",
				fset.Position(fn.Pos()), fn.Name.Name, graphqlName))
		}
	}
	if len(errs) > 0 {
		return nil, 0, errors.Join(errs...)
	}
	if len(edits) == 0 {
		return src, 0, nil
	}
	formatted, err := applyEdits(src, edits)
	if err != nil {
		return nil, 0, fmt.Errorf("%s after rewriting objects' returns: %w", path, err)
	}
	return formatted, len(edits), nil
}

// isCallOf reports whether e is a call of pkg.name.
func isCallOf(e ast.Expr, pkg, name string) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	p, n := callee(call)
	return p == pkg && n == name
}
