package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The rewrite was last checked against this gqlgen: its generated field functions, and
// graphql.ResolveField (graphql/resolve_field.go), which resolvers.go writes out by hand and
// graph's TestRewrittenFieldsResolveAsGQLGen compares by behaviour.
const pinnedGQLGen = "v0.17.98"

// pinnedCounts are the sites rewritten in graph/generated.go for the schema and pinnedGQLGen.
// A schema change that adds or removes such fields changes them: update them with it. Any
// other change means gqlgen's output no longer has the shapes the rewrite expects.
var pinnedCounts = Counts{Slices: 33, Groups: 44, Plain: 93, Resolvers: 27, Objects: 15, InPlace: 4, Returns: 44}

// TestPinnedRewrite holds the rewrite to the gqlgen version it was made for and to the number of
// sites of each kind it rewrites in the committed graph/generated.go (which `make
// check-generated` holds to what `make generate` produces).
func TestPinnedRewrite(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}{{with .Replace}} => {{.Path}} {{.Version}}{{end}}",
		"github.com/99designs/gqlgen").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/99designs/gqlgen: %v", err)
	}
	if version := strings.TrimSpace(string(out)); version != pinnedGQLGen {
		t.Fatalf("gqlgen is %s; tools/rewritelists was checked against %s. Re-check the rewrite against the new "+
			"gqlgen: the shape of the generated field functions (plain.go, resolvers.go, fields.go), graphql.ResolveField "+
			"in graphql/resolve_field.go (copied by hand in resolvers.go), how the executor installs field middleware "+
			"(lists.Intercepted), and FieldSet/MarshalSliceConcurrently (internal/lists); run `make generate` and the "+
			"graph tests; then set pinnedGQLGen and pinnedCounts in tools/rewritelists/pins_test.go", version, pinnedGQLGen)
	}
	const path = "../../graph/generated.go"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := census(path, src)
	if err != nil {
		t.Fatal(err)
	}
	if got != pinnedCounts {
		t.Errorf("graph/generated.go has %+v rewritten sites, pinned %+v. If the schema changed which fields are plain "+
			"reads or argument-less resolver fields, update pinnedCounts in tools/rewritelists/pins_test.go; otherwise "+
			"gqlgen's output has changed under the rewrite: re-check it", got, pinnedCounts)
	}
}
