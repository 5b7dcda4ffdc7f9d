package graph_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/graph"
)

// TestEveryFieldReadingEncryptedDataDeclaresPII walks the schema and the resolvers: a field
// whose resolver reads personal data — it calls piiField, opens ciphertexts through the PII
// loader, or decrypts — must declare @pii, so that what it shows is decided by package policy;
// and a field declaring @pii must resolve through piiField, which honours that decision.
func TestEveryFieldReadingEncryptedDataDeclaresPII(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()

	// Resolver methods (by receiver type and method name) that read encrypted data.
	reads := map[string]bool{}
	readsVia := map[string]string{}
	files, err := filepath.Glob("../resolvers/*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Body == nil {
				continue
			}
			recv := receiverType(fn)
			if !strings.HasSuffix(recv, "Resolver") || recv == "Resolver" {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "piiField", "Decrypt", "PIICiphertexts", "Ciphertext", "EmployeePIIByIDs":
					key := strings.ToLower(strings.TrimSuffix(recv, "Resolver")) + "." + strings.ToLower(fn.Name.Name)
					reads[key] = true
					readsVia[key] = sel.Sel.Name
				}
				return true
			})
		}
	}
	require.NotEmpty(t, reads, "the walk found the PII resolvers")

	found := 0
	for _, def := range schema.Types {
		if def.BuiltIn {
			continue
		}
		for _, field := range def.Fields {
			key := strings.ToLower(def.Name) + "." + strings.ToLower(field.Name)
			hasPII := field.Directives.ForName("pii") != nil
			if reads[key] {
				found++
				require.True(t, hasPII, "%s.%s reads encrypted data (%s) but does not declare @pii", def.Name, field.Name, readsVia[key])
				require.Equal(t, "piiField", readsVia[key], "%s.%s must resolve through piiField", def.Name, field.Name)
			}
			if hasPII {
				require.True(t, reads[key], "%s.%s declares @pii but its resolver does not go through piiField", def.Name, field.Name)
			}
		}
	}
	for _, f := range []string{"ssn", "taxId", "passportNumber", "bankAccount"} {
		require.NotNil(t, schema.Types["Employee"].Fields.ForName(f).Directives.ForName("pii"), "Employee.%s", f)
	}
	require.Equal(t, len(reads), found, "every resolver reading encrypted data is a schema field: %v", reads)
}

func receiverType(fn *ast.FuncDecl) string {
	t := fn.Recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
