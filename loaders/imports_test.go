package loaders_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/packages"
)

// The loaders batch reads; how the generated code runs sibling fields is the server's business,
// handed in as Opts.BeforeWait. A loader that imported internal/lists again would tie batching
// to a process-wide scheduler of the generated code.
func TestLoadersDoNotDependOnLists(t *testing.T) {
	t.Parallel()
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps},
		"github.com/workingtracker/api/loaders")
	require.NoError(t, err)
	require.Len(t, pkgs, 1)
	require.Empty(t, pkgs[0].Errors)
	seen := map[string]bool{}
	var walk func(p *packages.Package)
	walk = func(p *packages.Package) {
		if seen[p.PkgPath] {
			return
		}
		seen[p.PkgPath] = true
		for _, imp := range p.Imports {
			walk(imp)
		}
	}
	walk(pkgs[0])
	require.True(t, seen["github.com/workingtracker/api/store"], "the walk saw loaders' dependencies")
	require.False(t, seen["github.com/workingtracker/api/internal/lists"], "loaders depends on internal/lists")
}
