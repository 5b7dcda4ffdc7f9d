package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testdata is gqlgen's output in miniature, with a definition of every marshaller the rewrite
// trusts by name (as the real file has).
func testdata(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("testdata/generated.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(src)
	names := slices.Clone(neverNull)
	for m := range nullOnlyFor {
		names = append(names, m)
	}
	for _, m := range names {
		body := "nil"
		if _, ptr := pointerMarshallers[m]; ptr || slices.Contains(stringMarshallers, m) {
			body = "graphql.MarshalString(v)"
		}
		fmt.Fprintf(&b, "\nfunc (ec *executionContext) %s(ctx context.Context, sel ast.SelectionSet, v any) graphql.Marshaler {\n\treturn %s\n}\n", m, body)
	}
	return b.String()
}

func writeTemp(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "generated.go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRewrite(t *testing.T) {
	path := writeTemp(t, testdata(t))
	counts, err := rewriteFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{Slices: 1, Groups: 1, Plain: 2, Resolvers: 2, Objects: 1, InPlace: 1, Returns: 1}); counts != want {
		t.Errorf("counts %+v, want %+v", counts, want)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := string(got)
	for _, want := range []string{
		`"github.com/workingtracker/api/internal/lists"`,
		"lists.Marshal(ctx, len(v), 0, false,",
		// a resolver field with one directive: the directive runs, compiled in, with
		// lists.Proceed as its next (no closure); the resolver runs if the directive returned
		// what Proceed returns, and the result is checked as ResolveField checks it
		"\ttmp, err := func(ctx context.Context) (any, error) {\n\t\tfield, err := ec.unmarshalNPIIField2string(ctx, \"SSN\")\n",
		"\t\treturn ec.Directives.Pii(ctx, obj, lists.Proceed, field)\n\t}(ctx)\n" +
			"\tif _, proceed := tmp.(lists.Proceeded); proceed && err == nil {\n\t\ttmp, err = ec.Resolvers.T().Secret(ctx, obj)\n\t}\n",
		"\tres, ok := tmp.(*string)\n",
		// @pii resolves in place: its field context is built only to report an error or a
		// panic, and the value is marshalled without gqlgen's closure
		"\tdefer func() {\n\t\tif r := recover(); r != nil {\n\t\t\tfc, _ := ec.fieldContext_T_ssn(ctx, field)\n" +
			"\t\t\tctx := graphql.WithFieldContext(ctx, fc)\n\t\t\tec.OperationContext.Error(ctx, ec.OperationContext.Recover(ctx, r))\n",
		"\tif err != nil {\n\t\tfc, _ := ec.fieldContext_T_ssn(ctx, field)\n\t\tctx := graphql.WithFieldContext(ctx, fc)\n" +
			"\t\tec.OperationContext.Error(ctx, graphql.AddFieldLocationToError(ctx, err))\n\t\treturn graphql.Null\n\t}\n" +
			"\tif tmp == nil {\n\t\treturn graphql.Null\n\t}\n",
		"\t\tif m, ok := tmp.(graphql.Marshaler); ok {\n\t\t\treturn m\n\t\t}\n",
		"\treturn lists.StringPtr(res)\n}",
		// and the object runs it in place, unless it is deferred
		"\t\tcase \"ssn\":\n\t\t\tif field.IsDeferred() {\n\t\t\t\tpending.ResolveConcurrently(out, field, ec.OperationContext, &deferred, i,\n",
		"\t\t\t} else {\n\t\t\t\tpending.InPlace(i)\n\t\t\t}\n",
		// once every resolver field is queued, with the context that lets it hand them off
		"\tif ctx, inPlace := pending.InPlaceFields(ctx); len(inPlace) > 0 {\n\t\tfor _, i := range inPlace {\n" +
			"\t\t\tswitch field := fields[i]; field.Name {\n\t\t\tcase \"ssn\":\n" +
			"\t\t\t\tout.Values[i] = ec._T_ssn(ctx, field, obj)\n\t\t\t\tif out.Values[i] == graphql.RequiredNull {\n" +
			"\t\t\t\t\tatomic.AddUint32(&out.Invalids, 1)\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n\tpending.Dispatch(ctx, out)\n",
		"deferred := lists.DeferredGroup(ctx, fields)",
		"out := graphql.NewFieldSet(fields)\n\tvar pending lists.FieldsInPlace\n", // it has a field resolved in place
		"pending.ResolveConcurrently(out, field, ec.OperationContext, &deferred, i,",
		"\tpending.Dispatch(ctx, out)\n",
		"\t\treturn graphql.Null\n\t}\n\treturn lists.Object(fields, out.Values)\n}",
		// a plain read of a never-null scalar marshals the value directly (a string field through
		// lists.String, without gqlgen's closure), unless field middleware is installed: then
		// gqlgen's ResolveField runs, as it was
		"func (ec *executionContext) _T_name(ctx context.Context, field graphql.CollectedField, obj *store.T) (ret graphql.Marshaler) {\n" +
			"\tif !lists.Intercepted(ec.OperationContext) {\n\t\treturn lists.String(&obj.Name)\n\t}\n" +
			"\treturn graphql.ResolveField(\n",
		// an ID keeps gqlgen's path for uuid.Nil, which marshals to an error
		"\tif obj.ID != uuid.Nil && !lists.Intercepted(ec.OperationContext) {\n\t\treturn lists.ID(&obj.ID)\n\t}\n\treturn graphql.ResolveField(",
		// an argument-less resolver field without directives resolves without ResolveField's
		// closures, with the same field context, panic recovery and error handling; with
		// field middleware installed, gqlgen's ResolveField runs instead
		"func (ec *executionContext) _T_owner(ctx context.Context, field graphql.CollectedField, obj *store.T) (ret graphql.Marshaler) {\n" +
			"\tif lists.Intercepted(ec.OperationContext) {\n\t\treturn graphql.ResolveField(\n" +
			"\t\t\tctx,\n\t\t\tec.OperationContext,\n\t\t\tfield,\n" +
			"\t\t\tfunc(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {\n" +
			"\t\t\t\treturn ec.fieldContext_T_owner(ctx, field)\n\t\t\t},\n" +
			"\t\t\tfunc(ctx context.Context) (any, error) {\n\t\t\t\treturn ec.Resolvers.T().Owner(ctx, obj)\n\t\t\t},\n" +
			"\t\t\tnil,\n" +
			"\t\t\tfunc(ctx context.Context, selections ast.SelectionSet, v *store.U) graphql.Marshaler {\n" +
			"\t\t\t\treturn ec.marshalOU2ᚖU(ctx, selections, v)\n\t\t\t},\n" +
			"\t\t\ttrue,\n\t\t\tfalse,\n\t\t)\n\t}\n" +
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

	if got, err := census(path, got); err != nil || got != counts {
		t.Errorf("census of the result: %+v (%v), want the counts rewritten: %+v", got, err, counts)
	}

	if again, err := rewriteFile(path); err != nil || again != (Counts{}) {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	again, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != out {
		t.Error("a second run changed the file")
	}
}

// TestRewriteDrift: a change in gqlgen's output that leaves some sites unrewritten fails the
// rewrite, naming the site, instead of rewriting fewer of them quietly.
func TestRewriteDrift(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"ErrResolveFieldArguments", "\t\treturn obj.Name, nil\n\t\t},\n\t\tnil,\n", "\t\treturn obj.Name, nil\n\t\t},\n\t\tnil,\n\t\tnil,\n",
			"_T_name reads a field of obj, but ResolveField takes 10 arguments, not 9"},
		{"ErrPlainFieldBody", "func (ec *executionContext) _T_name(ctx context.Context, field graphql.CollectedField, obj *store.T) (ret graphql.Marshaler) {\n",
			"func (ec *executionContext) _T_name(ctx context.Context, field graphql.CollectedField, obj *store.T) (ret graphql.Marshaler) {\n\tec.trace(ctx)\n",
			"_T_name reads a field of obj through graphql.ResolveField but is not `return graphql.ResolveField(…)`"},
		{"ErrMarshalShape", "return ec.marshalNString2string(ctx, selections, v)\n\t\t},\n\t\ttrue,\n\t\ttrue,\n\t)\n}\n\nfunc (ec *executionContext) _T_id",
			"return ec.marshalNString2string(ctx, v, selections)\n\t\t},\n\t\ttrue,\n\t\ttrue,\n\t)\n}\n\nfunc (ec *executionContext) _T_id",
			"_T_name reads a field of obj, but its marshal function is not"},
		{"ErrResolverFieldContext", "return ec.fieldContext_T_owner(ctx, field)", "return ec.fieldContext_T_owner(field)",
			"_T_owner calls a resolver with (ctx, obj), but its field context is not"},
		{"ErrResolverParameters", "_T_owner(ctx context.Context, field graphql.CollectedField, obj *store.T)",
			"_T_owner(ctx context.Context, f graphql.CollectedField, obj *store.T)",
			"_T_owner calls a resolver with (ctx, obj), but its parameters are not (ctx, field, obj)"},
		{"ErrMarshallerRenamed", "func (ec *executionContext) marshalNBoolean2bool(", "func (ec *executionContext) marshalNBoolean2ᚐbool(",
			"defines no marshalNBoolean2bool"},
		{"ErrInPlaceFieldContext", "\treturn graphql.NewScalarFieldContext(\"T\", field, true, true, \"String\")",
			"\treturn ec.childContext(field)", "_T_ssn calls a resolver with (ctx, obj), but its directive resolves in place"},
		{"ErrStringMarshallerChanged", "func (ec *executionContext) marshalNRole2string(ctx context.Context, sel ast.SelectionSet, v any) graphql.Marshaler {\n\treturn graphql.MarshalString(v)",
			"func (ec *executionContext) marshalNRole2string(ctx context.Context, sel ast.SelectionSet, v any) graphql.Marshaler {\n\treturn graphql.MarshalAny(v)",
			"marshalNRole2string no longer marshal with graphql.MarshalString alone"},
		{"ErrObjectReturn", "\t\treturn graphql.Null\n\t}\n\treturn out\n}", "\t\treturn graphql.Null\n\t}\n\treturn &out\n}",
			"_T builds `out := graphql.NewFieldSet(fields)` but does not `return out`"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := testdata(t)
			if !strings.Contains(src, c.from) {
				t.Fatalf("testdata lacks %q", c.from)
			}
			path := writeTemp(t, strings.Replace(src, c.from, c.to, 1))
			_, err := rewriteFile(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if got, _ := os.ReadFile(path); string(got) != strings.Replace(src, c.from, c.to, 1) {
				t.Error("the file was written although the rewrite failed")
			}
		})
	}
}
