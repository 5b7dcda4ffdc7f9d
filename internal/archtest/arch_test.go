package archtest

import (
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/packages"

	"github.com/workingtracker/api/internal/apperr"
)

const module = "github.com/workingtracker/api"

// root is the module's directory.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	return dir
}

// Forbidden entries name a package, or with "/..." a package and everything under it.

// deps lists every package pkg depends on, itself included, as the go command sees them.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	pkgs, err := packages.Load(&packages.Config{Dir: root(t),
		Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps}, "./"+pkg)
	require.NoError(t, err)
	require.Len(t, pkgs, 1)
	require.Empty(t, pkgs[0].Errors)
	var out []string
	seen := map[string]bool{}
	var walk func(p *packages.Package)
	walk = func(p *packages.Package) {
		if seen[p.PkgPath] {
			return
		}
		seen[p.PkgPath] = true
		out = append(out, p.PkgPath)
		for _, imp := range p.Imports {
			walk(imp)
		}
	}
	walk(pkgs[0])
	return out
}

// imports lists the packages pkg imports itself.
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	pkgs, err := packages.Load(&packages.Config{Dir: root(t), Mode: packages.NeedName | packages.NeedImports}, "./"+pkg)
	require.NoError(t, err)
	require.Len(t, pkgs, 1)
	var out []string
	for path := range pkgs[0].Imports {
		out = append(out, path)
	}
	return out
}

// TestImportRules: data flows one way. The store speaks SQL, not GraphQL; loaders batch reads
// without knowing how lists are rendered; the rules packages know nothing of HTTP or of the
// GraphQL server that uses them.
func TestImportRules(t *testing.T) {
	t.Parallel()
	for _, rule := range []struct {
		pkg       string
		forbidden []string
		why       string
	}{
		{"store", []string{"github.com/99designs/gqlgen/...", "github.com/vektah/gqlparser/...", module + "/graph/...", module + "/loaders",
			module + "/internal/policy", module + "/internal/auth", module + "/httpapi"},
			"the store applies the scope it is given and speaks SQL only"},
		{"loaders", []string{module + "/internal/lists", module + "/graph", module + "/httpapi"},
			"the hook that lets lists batch is injected (loaders.Opts)"},
		{"internal/policy", []string{module + "/graph", module + "/httpapi"}, "rules, not transports"},
		{"internal/auth", []string{module + "/graph/...", module + "/httpapi", module + "/internal/cost", "github.com/99designs/gqlgen/..."},
			"authentication knows no GraphQL server"},
		{"internal/cost", []string{module + "/httpapi"}, "prices and budgets, decided before HTTP writes them"},
		{"internal/apperr", []string{module + "/..."}, "the vocabulary everyone imports imports nobody"},
		{"graph", []string{module + "/httpapi", "net/http/httptest"}, "the gqlgen assembly has no transports"},
		{"jobs", []string{"github.com/99designs/gqlgen/...", module + "/graph/...", module + "/httpapi", module + "/resolvers",
			module + "/loaders"}, "workers work through the store, not through the GraphQL layer"},
	} {
		for _, dep := range deps(t, rule.pkg) {
			for _, f := range rule.forbidden {
				prefix, isPrefix := strings.CutSuffix(f, "/...")
				if dep == f || (isPrefix && (dep == prefix || strings.HasPrefix(dep, prefix+"/"))) {
					if dep == module+"/"+rule.pkg { // a package is not its own dependency
						continue
					}
					t.Errorf("%s depends on %s: %s", rule.pkg, dep, rule.why)
				}
			}
		}
	}
}

// TestRulesDoNotSpeakHTTP: policy and cost decide; httpapi writes. Neither imports net/http
// itself (apperr maps codes to statuses for httpapi, so it reaches them indirectly).
func TestRulesDoNotSpeakHTTP(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"internal/policy", "internal/cost", "store", "loaders", "resolvers"} {
		require.NotContains(t, imports(t, pkg), "net/http", pkg)
	}
}

// sources parses every non-test, non-generated Go file of the module outside skip.
func sources(t *testing.T, skip ...string) map[string]*ast.File {
	t.Helper()
	dir := root(t)
	files := map[string]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || slices.Contains(skip, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		files[rel] = f
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// TestOnlyHTTPAPIWritesErrorResponses: a refusal is written once, by httpapi's writer, so its
// status and body follow the same rules everywhere. The playground is a static site (plain-text
// 404 and 405 for browsers), not the API.
func TestOnlyHTTPAPIWritesErrorResponses(t *testing.T) {
	t.Parallel()
	for path, f := range sources(t, "httpapi", "internal/playground", "tools", "bench") {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if sel.Sel.Name == "WriteHeader" || (isIdent(sel.X, "http") && slices.Contains([]string{"Error", "NotFound", "Redirect"}, sel.Sel.Name)) {
				t.Errorf("%s writes an HTTP status (%s): refusals belong to httpapi", path, sel.Sel.Name)
			}
			return true
		})
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// TestEveryErrorCodeIsDeclared: every extensions.code the server can emit is one of apperr's. A
// code written as a literal ("code": "SOMETHING") must be declared there; the rest are
// apperr constants, which the compiler checks.
func TestEveryErrorCodeIsDeclared(t *testing.T) {
	t.Parallel()
	declared := map[string]bool{}
	for _, c := range apperr.Codes() {
		declared[string(c)] = true
	}
	found := 0
	check := func(path string, v ast.Expr) {
		found++
		switch v := v.(type) {
		case *ast.BasicLit:
			code, _ := strconv.Unquote(v.Value)
			if !declared[code] {
				t.Errorf("%s emits code %q, which internal/apperr does not declare", path, code)
			}
		case *ast.CallExpr: // string(apperr.X), string(x.Code): a conversion of an apperr.Code
			if !isCodeConversion(v) {
				t.Errorf("%s emits a code apperr cannot vouch for: %s", path, render(v))
			}
		default:
			t.Errorf("%s emits a code apperr cannot vouch for: %T", path, v)
		}
	}
	isCodeKey := func(e ast.Expr) bool {
		lit, ok := e.(*ast.BasicLit)
		return ok && lit.Value == `"code"`
	}
	for path, f := range sources(t, "tools", "bench") {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr: // map[string]any{"code": …}
				if isCodeKey(n.Key) {
					check(path, n.Value)
				}
			case *ast.AssignStmt: // ext["code"] = …
				for i, lhs := range n.Lhs {
					if idx, ok := lhs.(*ast.IndexExpr); ok && isCodeKey(idx.Index) && i < len(n.Rhs) {
						check(path, n.Rhs[i])
					}
				}
			}
			return true
		})
	}
	require.Greater(t, found, 5, "the scan finds the places that set codes")
}

// isCodeConversion reports string(apperr.X) or string(<expr>.Code / <expr>.code): a value typed
// apperr.Code, which only apperr's constants (or a code read back from one) produce.
func isCodeConversion(call *ast.CallExpr) bool {
	if !isIdent(call.Fun, "string") || len(call.Args) != 1 {
		return false
	}
	sel, ok := call.Args[0].(*ast.SelectorExpr)
	if !ok {
		return false
	}
	return isIdent(sel.X, "apperr") || sel.Sel.Name == "Code" || sel.Sel.Name == "code"
}

func render(e ast.Expr) string {
	var b strings.Builder
	_ = format.Node(&b, token.NewFileSet(), e)
	return b.String()
}
