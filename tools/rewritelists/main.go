// Command rewritelists makes gqlgen's generated code marshal lists through the project's
// lists.Marshal instead of graphql.MarshalSliceConcurrently, run objects' resolver fields through
// lists.Fields instead of FieldSet.ResolveConcurrently and Dispatch, build each object's deferred
// group with lists.DeferredGroup instead of graphql.NewDeferredGroup (see internal/lists for
// why), write objects with lists.Object, and marshal plain scalar reads without
// graphql.ResolveField (plain.go), and resolve argument-less resolver fields without
// ResolveField's closures (resolvers.go). `make generate` runs it after gqlgen:
//
//	go run ./tools/rewritelists graph/generated.go
//
// It rewrites the syntax tree, not the text, and fails when it finds a call it cannot rewrite or
// no call at all, so a gqlgen upgrade that changes the generated code cannot silently bring the
// old behaviour back. Running it twice changes nothing.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"strconv"

	"golang.org/x/tools/go/ast/astutil"
)

const (
	fromPkg = "github.com/99designs/gqlgen/graphql"
	toPkg   = "github.com/workingtracker/api/internal/lists"
	toName  = "lists"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rewritelists FILE.go")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "rewritelists:", err)
		os.Exit(1)
	}
}

func rewrite(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, fresh, err := listsPass(path, src)
	if err != nil {
		return err
	}
	out, plain, err := plainFieldsPass(path, out)
	if err != nil {
		return err
	}
	out, resolvers, err := resolverFieldsPass(path, out)
	if err != nil {
		return err
	}
	out, objects, err := fieldsPass(path, out)
	if err != nil {
		return err
	}
	out, returns, err := objectsPass(path, out)
	if err != nil {
		return err
	}
	if fresh && (plain == 0 || resolvers == 0 || objects == 0 || returns == 0) {
		return fmt.Errorf("%s: rewrote %d plain field reads, %d resolver fields, %d objects' resolver fields and %d objects' returns; expected all: has gqlgen changed its generated code?",
			path, plain, resolvers, objects, returns)
	}
	if bytes.Equal(out, src) {
		return nil // rewritten already
	}
	return os.WriteFile(path, out, 0o644)
}

// listsPass rewrites the calls of MarshalSliceConcurrently and NewDeferredGroup. fresh reports
// that it found calls to rewrite (gqlgen's output rather than this command's).
func listsPass(path string, src []byte) (out []byte, fresh bool, err error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, false, err
	}
	from := importName(file, fromPkg)
	if from == "" {
		return nil, false, fmt.Errorf("%s does not import %s", path, fromPkg)
	}
	var slices, groups, rewritten int
	var errs []error
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		fieldsAt := collectedFields(fn.Body, from)
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			pkg, name := callee(call)
			switch {
			case pkg == from && name == "MarshalSliceConcurrently":
				setCallee(call, toName, "Marshal")
				slices++
			case pkg == from && name == "NewDeferredGroup":
				// lists.DeferredGroup also needs the object's collected fields.
				if fieldsAt == token.NoPos || fieldsAt > call.Pos() {
					errs = append(errs, fmt.Errorf("%s: NewDeferredGroup in %s without `fields := %s.CollectFields(…)` before it",
						fset.Position(call.Pos()), fn.Name.Name, from))
					return true
				}
				setCallee(call, toName, "DeferredGroup")
				call.Args = append(call.Args, ast.NewIdent("fields"))
				groups++
			case pkg == toName && (name == "Marshal" || name == "DeferredGroup"):
				rewritten++
			}
			return true
		})
	}
	if len(errs) > 0 {
		return nil, false, errors.Join(errs...)
	}
	if slices+groups == 0 {
		if rewritten == 0 {
			return nil, false, fmt.Errorf("no call of %s.MarshalSliceConcurrently or NewDeferredGroup in %s: has gqlgen changed its generated code?", fromPkg, path)
		}
		return src, false, nil
	}
	if slices == 0 || groups == 0 {
		return nil, false, fmt.Errorf("%s: rewrote %d MarshalSliceConcurrently and %d NewDeferredGroup calls; expected both kinds: has gqlgen changed its generated code?", path, slices, groups)
	}
	if !astutil.AddImport(fset, file, toPkg) && importName(file, toPkg) != toName {
		return nil, false, fmt.Errorf("%s imports %s under another name", path, toPkg)
	}
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, file); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}

// collectedFields is where body assigns `fields := <graphql>.CollectFields(…)` (NoPos if it
// does not).
func collectedFields(body *ast.BlockStmt, graphqlPkg string) token.Pos {
	for _, stmt := range body.List {
		assign, ok := stmt.(*ast.AssignStmt)
		if !ok || assign.Tok != token.DEFINE || len(assign.Lhs) != 1 || len(assign.Rhs) != 1 {
			continue
		}
		if id, ok := assign.Lhs[0].(*ast.Ident); !ok || id.Name != "fields" {
			continue
		}
		if call, ok := assign.Rhs[0].(*ast.CallExpr); ok {
			if pkg, name := callee(call); pkg == graphqlPkg && name == "CollectFields" {
				return assign.Pos()
			}
		}
	}
	return token.NoPos
}

// callee is the package and function of a call of pkg.Func ("" otherwise).
func callee(call *ast.CallExpr) (pkg, name string) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", ""
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return "", ""
	}
	return id.Name, sel.Sel.Name
}

func setCallee(call *ast.CallExpr, pkg, name string) {
	sel := call.Fun.(*ast.SelectorExpr)
	sel.X.(*ast.Ident).Name = pkg
	sel.Sel.Name = name
}

// importName is the name under which file imports pkg ("" when it does not).
func importName(file *ast.File, pkg string) string {
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == pkg {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return pkg[len(pkg)-len(lastElem(pkg)):]
		}
	}
	return ""
}

func lastElem(pkg string) string {
	for i := len(pkg) - 1; i >= 0; i-- {
		if pkg[i] == '/' {
			return pkg[i+1:]
		}
	}
	return pkg
}
