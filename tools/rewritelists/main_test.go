package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewrite(t *testing.T) {
	src, err := os.ReadFile("testdata/generated.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "generated.go")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := string(got)
	for _, want := range []string{
		`"github.com/workingtracker/api/internal/lists"`,
		"lists.Marshal(ctx, len(v), 0, false,",
		"deferred := lists.DeferredGroup(ctx, fields)",
		"out := graphql.NewFieldSet(fields)\n\tvar pending lists.Fields\n",
		"pending.ResolveConcurrently(out, field, ec.OperationContext, &deferred, i,",
		"\tpending.Dispatch(ctx, out)\n",
		"\t\treturn graphql.Null\n\t}\n\treturn lists.Object(fields, out.Values)\n}",
		// a plain read of a never-null scalar marshals the value directly
		"func (ec *executionContext) _T_name(ctx context.Context, field graphql.CollectedField, obj *store.T) (ret graphql.Marshaler) {\n\treturn ec.marshalNString2string(ctx, field.Selections, obj.Name)\n}",
		// an ID keeps gqlgen's path for uuid.Nil, which marshals to an error
		"\tif obj.ID != uuid.Nil {\n\t\treturn lists.ID(&obj.ID)\n\t}\n\treturn graphql.ResolveField(",
		// an argument-less resolver field without directives resolves without ResolveField's
		// closures, with the same field context, panic recovery and error handling
		"func (ec *executionContext) _T_owner(ctx context.Context, field graphql.CollectedField, obj *store.T) (ret graphql.Marshaler) {\n" +
			"\tfc, err := ec.fieldContext_T_owner(ctx, field)\n\tif err != nil {\n\t\treturn graphql.Null\n\t}\n" +
			"\tctx = graphql.WithFieldContext(ctx, fc)\n\tdefer func() {\n\t\tif r := recover(); r != nil {\n" +
			"\t\t\tec.OperationContext.Error(ctx, ec.OperationContext.Recover(ctx, r))\n\t\t\tret = graphql.Null\n\t\t}\n\t}()\n" +
			"\tres, err := ec.Resolvers.T().Owner(ctx, obj)\n\tif err != nil {\n" +
			"\t\tec.OperationContext.Error(ctx, graphql.AddFieldLocationToError(ctx, err))\n" +
			"\t\tif fc.NonNull {\n\t\t\treturn graphql.RequiredNull\n\t\t}\n\t\treturn graphql.Null\n\t}\n" +
			"\tfc.Result = res\n\treturn ec.marshalOU2ᚖU(ctx, field.Selections, res)\n}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, field := range []string{"obj.Secret", "obj.Rate"} { // a directive; a marshaller not known never to fail
		if !strings.Contains(out, "return "+field+", nil") {
			t.Errorf("%s: rewritten, want gqlgen's ResolveField kept", field)
		}
	}
	// Resolver fields kept on ResolveField: a directive (its middleware chain), arguments, and a
	// result type that may be a nil interface (ResolveField's nil check would differ).
	for _, resolve := range []string{"Guarded(ctx, obj)", `Tags(ctx, obj, fc.Args["first"].(int))`, "Kind(ctx, obj)"} {
		if !strings.Contains(out, "\t\t\treturn ec.Resolvers.T()."+resolve+"\n\t\t},") {
			t.Errorf("%s: rewritten, want gqlgen's ResolveField kept", resolve)
		}
	}
	if strings.Contains(out, "MarshalSliceConcurrently") || strings.Contains(out, "NewDeferredGroup") ||
		strings.Contains(out, "out.ResolveConcurrently") || strings.Contains(out, "out.Dispatch") {
		t.Errorf("calls left unrewritten:\n%s", out)
	}

	if err := rewrite(path); err != nil {
		t.Fatal("second run:", err)
	}
	again, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != out {
		t.Error("a second run changed the file")
	}
}
