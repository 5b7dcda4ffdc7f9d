// Command rewritelists makes gqlgen's generated code marshal lists through the project's
// lists.Marshal instead of graphql.MarshalSliceConcurrently (see internal/lists for why).
// `make generate` runs it after gqlgen:
//
//	go run ./tools/rewritelists graph/generated.go
//
// It rewrites the syntax tree, not the text, and fails when it finds no call to rewrite, so a
// gqlgen upgrade that renames the function cannot silently bring the goroutine per element back.
// Running it twice changes nothing.
package main

import (
	"bytes"
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
	fromPkg  = "github.com/99designs/gqlgen/graphql"
	fromFunc = "MarshalSliceConcurrently"
	toPkg    = "github.com/workingtracker/api/internal/lists"
	toName   = "lists"
	toFunc   = "Marshal"
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
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return err
	}
	from := importName(file, fromPkg)
	if from == "" {
		return fmt.Errorf("%s does not import %s", path, fromPkg)
	}
	calls, done := 0, 0
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, ok := sel.X.(*ast.Ident)
		switch {
		case !ok:
		case pkg.Name == from && sel.Sel.Name == fromFunc:
			pkg.Name, sel.Sel.Name = toName, toFunc
			calls++
		case pkg.Name == toName && sel.Sel.Name == toFunc:
			done++
		}
		return true
	})
	if calls == 0 && done == 0 {
		return fmt.Errorf("no call of %s.%s in %s: has gqlgen changed how it marshals lists?", fromPkg, fromFunc, path)
	}
	if calls == 0 {
		return nil // rewritten already
	}
	if !astutil.AddImport(fset, file, toPkg) {
		if importName(file, toPkg) != toName {
			return fmt.Errorf("%s imports %s under another name", path, toPkg)
		}
	}
	var out bytes.Buffer
	if err := format.Node(&out, fset, file); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
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
