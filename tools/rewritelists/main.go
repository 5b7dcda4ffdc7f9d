// Command rewritelists makes gqlgen's generated code marshal lists through the project's
// lists.Marshal instead of graphql.MarshalSliceConcurrently, run objects' resolver fields through
// lists.Fields instead of FieldSet.ResolveConcurrently and Dispatch, build each object's deferred
// group with lists.DeferredGroup instead of graphql.NewDeferredGroup (see internal/lists for
// why), write objects with lists.Object, and marshal plain scalar reads without
// graphql.ResolveField (plain.go), and resolve argument-less resolver fields without
// ResolveField's closures (resolvers.go), those with one directive (@pii) with the directive
// compiled in (directives.go). `make generate` runs it after gqlgen:
//
//	go run ./tools/rewritelists graph/generated.go
//
// It rewrites the syntax tree, not the text. Each pass first finds its candidate sites loosely
// (any graphql.ResolveField whose resolver only reads obj, say) and fails unless every one of
// them is in the exact shape it rewrites or is kept on gqlgen's path for a stated reason; it
// also fails when a call it replaces is left over, or a marshaller it trusts by name is not
// defined. So a gqlgen upgrade that changes some of the generated code cannot quietly bring the
// old behaviour back for part of the schema. The counts per pass are pinned, with the gqlgen
// version, in pins_test.go. Running it twice changes nothing.
//
// The rewritten fields take their fast path only when no field middleware is installed
// (lists.Intercepted); with one (AroundFields, otelgqlgen) they run gqlgen's ResolveField, which
// the rewrite keeps beside each fast path, so middleware sees every field.
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
	_, err := rewriteFile(path)
	return err
}

// Counts are how many sites of each kind the rewrite changed in a file; census reads them back
// from a rewritten one.
type Counts struct {
	Slices    int // MarshalSliceConcurrently → lists.Marshal
	Groups    int // NewDeferredGroup → lists.DeferredGroup
	Plain     int // plain field reads marshalled directly (IDs included)
	Resolvers int // argument-less resolver fields resolved without ResolveField's closures
	Objects   int // objects whose resolver fields run through lists.Fields
	InPlace   int // resolver fields the objects resolve in place (inPlaceDirectives)
	Returns   int // objects returned as lists.Object
}

// rewriteFile rewrites path and returns what it changed (zero Counts when path was rewritten
// already).
func rewriteFile(path string) (Counts, error) {
	var c Counts
	src, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	out, fresh, err := listsPass(path, src, &c)
	if err != nil {
		return c, err
	}
	if out, c.Plain, err = plainFieldsPass(path, out); err != nil {
		return c, err
	}
	if out, c.Resolvers, err = resolverFieldsPass(path, out); err != nil {
		return c, err
	}
	if out, c.Objects, c.InPlace, err = fieldsPass(path, out); err != nil {
		return c, err
	}
	if out, c.Returns, err = objectsPass(path, out); err != nil {
		return c, err
	}
	if fresh && (c.Plain == 0 || c.Resolvers == 0 || c.Objects == 0 || c.Returns == 0) {
		return c, fmt.Errorf("%s: rewrote %d plain field reads, %d resolver fields, %d objects' resolver fields and %d objects' returns; expected all: has gqlgen changed its generated code?",
			path, c.Plain, c.Resolvers, c.Objects, c.Returns)
	}
	if err := leftovers(path, out); err != nil {
		return c, err
	}
	// Every change is where census finds it, so the counts pinned in the tests (read from the
	// committed file) are the ones made here.
	if fresh {
		if got, err := census(path, out); err != nil {
			return c, err
		} else if got != c {
			return c, fmt.Errorf("%s: rewrote %+v but the result has %+v", path, c, got)
		}
	}
	if bytes.Equal(out, src) {
		return Counts{}, nil // rewritten already
	}
	return c, os.WriteFile(path, out, 0o644)
}

// leftovers fails when gqlgen's calls the rewrite replaces are still in src after it: a call in
// a shape no pass recognised.
func leftovers(path string, src []byte) error {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return err
	}
	from := importName(file, fromPkg)
	var errs []error
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		pkg, name := callee(call)
		if (pkg == from && (name == "MarshalSliceConcurrently" || name == "NewDeferredGroup")) ||
			(pkg == "out" && name == "ResolveConcurrently") { // out.Dispatch stays where nothing is pending
			errs = append(errs, fmt.Errorf("%s: %s.%s left as gqlgen wrote it: has gqlgen changed its generated code?",
				fset.Position(call.Pos()), pkg, name))
		}
		return true
	})
	return errors.Join(errs...)
}

// census counts the rewritten sites of each kind in a rewritten file.
func census(path string, src []byte) (Counts, error) {
	var c Counts
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return c, err
	}
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			switch pkg, name := callee(n); {
			case pkg == toName && name == "Marshal":
				c.Slices++
			case pkg == toName && name == "DeferredGroup":
				c.Groups++
			case pkg == toName && name == "Object":
				c.Returns++
			}
		case *ast.IfStmt:
			// Plain reads: `if !lists.Intercepted(…)` or `if x != uuid.Nil && !lists.Intercepted(…)`;
			// resolver fields: `if lists.Intercepted(…)`.
			cond := n.Cond
			if b, ok := cond.(*ast.BinaryExpr); ok && b.Op == token.LAND {
				cond = b.Y
			}
			if u, ok := cond.(*ast.UnaryExpr); ok && u.Op == token.NOT && isCallOf(u.X, toName, "Intercepted") {
				c.Plain++
			} else if isCallOf(cond, toName, "Intercepted") {
				c.Resolvers++
			} else if isCallOf(cond, "field", "IsDeferred") {
				c.InPlace++ // fieldsPass: `if field.IsDeferred() { pending… } else { in place }`
			}
		case *ast.ValueSpec:
			if sel, ok := n.Type.(*ast.SelectorExpr); ok && len(n.Names) == 1 && n.Names[0].Name == "pending" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == toName && (sel.Sel.Name == "Fields" || sel.Sel.Name == "FieldsInPlace") {
					c.Objects++
				}
			}
		}
		return true
	})
	return c, nil
}

// listsPass rewrites the calls of MarshalSliceConcurrently and NewDeferredGroup. fresh reports
// that it found calls to rewrite (gqlgen's output rather than this command's).
func listsPass(path string, src []byte, c *Counts) (out []byte, fresh bool, err error) {
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
	c.Slices, c.Groups = slices, groups
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
