package resolvers_test

import (
	"reflect"
	"testing"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/resolvers"
)

// TestRootBuildsEachResolverOnce: every method of graph.ResolverRoot returns the same resolver
// on every call — none is gqlgen's constructor, which allocates one per resolver field resolved.
func TestRootBuildsEachResolverOnce(t *testing.T) {
	t.Parallel()
	root := reflect.ValueOf(resolvers.New(nil, resolvers.Deps{}))
	methods := reflect.TypeFor[graph.ResolverRoot]()
	for i := range methods.NumMethod() {
		name := methods.Method(i).Name
		get := func() any { return root.MethodByName(name).Call(nil)[0].Interface() }
		if first, second := get(), get(); first == nil || first != second {
			t.Errorf("%s() builds its resolver on every call (gqlgen's constructor): add it to resolvers/root.go", name)
		}
	}
}
