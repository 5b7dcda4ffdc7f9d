package lists_test

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/internal/lists"
)

func marshalInt(i int) graphql.Marshaler { return graphql.MarshalInt(i) }

func render(m graphql.Marshaler) string {
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}

func TestElementsRunOneAfterAnotherWhenNothingWaits(t *testing.T) {
	t.Parallel()
	var running, most atomic.Int32
	var got graphql.Marshaler
	// Inside another list: only top-level lists split (see the next test).
	lists.Marshal(context.Background(), 1, 0, false, func(ctx context.Context, _ int) graphql.Marshaler {
		got = lists.Marshal(ctx, 50, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
			n := running.Add(1)
			defer running.Add(-1)
			if n > most.Load() {
				most.Store(n)
			}
			require.Equal(t, i, *graphql.GetFieldContext(ctx).Index, "the element's path index")
			time.Sleep(50 * time.Microsecond)
			return marshalInt(i)
		})
		return got
	})
	require.Equal(t, int32(1), most.Load(), "no element ran beside another")
	require.Equal(t, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49]", render(got))
}

// A long top-level list runs in at most two halves at once, each in order.
func TestTopLevelListsRunInTwoHalvesAtMost(t *testing.T) {
	t.Parallel()
	var running, most atomic.Int32
	var last [2]atomic.Int32
	last[0].Store(-1)
	last[1].Store(24)
	got := lists.Marshal(context.Background(), 50, 0, false, func(_ context.Context, i int) graphql.Marshaler {
		n := running.Add(1)
		defer running.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		half := &last[i/25]
		require.Equal(t, int32(i-1), half.Load(), "in order within a half")
		half.Store(int32(i))
		time.Sleep(50 * time.Microsecond)
		return marshalInt(i)
	})
	require.LessOrEqual(t, most.Load(), int32(2))
	require.Equal(t, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49]", render(got))
}

// An element about to wait starts the rest of its list and of every enclosing list: element 0 of
// the inner list of outer element 0 waits until every inner and outer element has started, which
// never happens if they wait for it.
func TestWaitingElementStartsTheRestOfItsListsWithoutWaitingForThem(t *testing.T) {
	t.Parallel()
	const outer, inner = 4, 5
	var started atomic.Int32
	all := make(chan struct{})
	start := func() {
		if started.Add(1) == outer*inner {
			close(all)
		}
	}
	lists.Marshal(context.Background(), outer, 0, false, func(ctx context.Context, o int) graphql.Marshaler {
		return lists.Marshal(ctx, inner, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
			start()
			if o == 0 && i == 0 {
				lists.BeforeWait(ctx)
				select {
				case <-all:
				case <-time.After(10 * time.Second):
					t.Error("siblings did not start while element 0 waited")
				}
			}
			return marshalInt(i)
		})
	})
	require.Equal(t, int32(outer*inner), started.Load())
}

func TestPanickingElementIsNullAndReported(t *testing.T) {
	t.Parallel()
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, func(context.Context, any) error {
		return context.Canceled
	})
	got := lists.Marshal(ctx, 3, 0, false, func(_ context.Context, i int) graphql.Marshaler {
		if i == 1 {
			panic("boom")
		}
		return marshalInt(i)
	})
	require.Equal(t, "[0,null,2]", render(got))
	require.Len(t, graphql.GetErrors(ctx), 1)
}

func TestDeferredGroupIsBuiltOnlyForDeferredFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	plain := []graphql.CollectedField{{}, {Deferrables: []*graphql.Deferrable{{Label: "a"}}, IsNonDeferrable: true}}
	g := lists.DeferredGroup(ctx, plain)
	require.Nil(t, g.FieldSet, "no field is deferred")
	require.Empty(t, g.Defers)
	require.Equal(t, ctx, g.Context)

	deferred := append(plain, graphql.CollectedField{Deferrables: []*graphql.Deferrable{{Label: "b"}}})
	g = lists.DeferredGroup(ctx, deferred)
	require.NotNil(t, g.FieldSet, "a deferred field needs gqlgen's group")
	require.NotNil(t, g.Defers)
}

// An object's resolver fields run one after another; one about to wait starts the others.
func TestObjectFieldsRunInOrderAndHandOffWhenOneWaits(t *testing.T) {
	t.Parallel()
	recoverFunc := func(context.Context, any) error { return context.Canceled }
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, recoverFunc)
	ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{RecoverFunc: recoverFunc})
	fields := []graphql.CollectedField{{}, {}, {}}

	var order []int
	out := graphql.NewFieldSet(fields)
	var s lists.Fields
	for i := range fields {
		s.ResolveConcurrently(out, fields[i], graphql.GetOperationContext(ctx), nil, i, true, true,
			func(context.Context) graphql.Marshaler { order = append(order, i); return marshalInt(i) })
	}
	s.Dispatch(ctx, out)
	require.Equal(t, []int{0, 1, 2}, order, "in order, on this goroutine")
	require.Zero(t, out.Invalids)

	// Field 0 waits until fields 1 and 2 have run, which they do only if it hands them off.
	out = graphql.NewFieldSet(fields)
	s = lists.Fields{}
	var started atomic.Int32
	both := make(chan struct{})
	for i := range fields {
		s.ResolveConcurrently(out, fields[i], graphql.GetOperationContext(ctx), nil, i, true, i != 2,
			func(ctx context.Context) graphql.Marshaler {
				if i == 0 {
					lists.BeforeWait(ctx)
					select {
					case <-both:
					case <-time.After(10 * time.Second):
						t.Error("fields 1 and 2 did not start while field 0 waited")
					}
					return marshalInt(0)
				}
				if started.Add(1) == 2 {
					close(both)
				}
				if i == 1 {
					return graphql.Null // a non-null field resolving to null invalidates the object
				}
				panic("boom") // recovered: null
			})
	}
	s.Dispatch(ctx, out)
	require.Equal(t, "0", render(out.Values[0]))
	require.Equal(t, graphql.Null, out.Values[1])
	require.Equal(t, graphql.Null, out.Values[2])
	require.Equal(t, uint32(1), out.Invalids, "only the non-null field counts; field 2 is nullable")
	require.Len(t, graphql.GetErrors(ctx), 1, "the panic is reported")
}

// A field resolved in place that waits for a loader's batch starts the object's queued resolver
// fields first (their batches then run alongside its own), whichever order the fields come in;
// one that does not wait leaves them to Dispatch, in order.
func TestInPlaceFieldHandsOffTheObjectsQueuedFields(t *testing.T) {
	t.Parallel()
	recoverFunc := func(context.Context, any) error { return context.Canceled }
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, recoverFunc)
	ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{RecoverFunc: recoverFunc})
	fields := []graphql.CollectedField{{}, {}, {}}
	oc := graphql.GetOperationContext(ctx)

	for _, inPlaceAt := range []int{0, 2} { // before the resolver fields in the query, after them
		out := graphql.NewFieldSet(fields)
		var s lists.FieldsInPlace
		started := make(chan struct{}, 2)
		for i := range fields {
			if i == inPlaceAt {
				s.InPlace(i)
				continue
			}
			s.ResolveConcurrently(out, fields[i], oc, nil, i, true, false, func(context.Context) graphql.Marshaler {
				started <- struct{}{}
				return marshalInt(i)
			})
		}
		inCtx, inPlace := s.InPlaceFields(ctx)
		require.Equal(t, []int{inPlaceAt}, inPlace)
		// The in-place field waits until both resolver fields have started.
		lists.BeforeWait(inCtx)
		for range 2 {
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatalf("in place at %d: the queued fields did not start while it waited", inPlaceAt)
			}
		}
		out.Values[inPlaceAt] = marshalInt(inPlaceAt)
		s.Dispatch(ctx, out)
		for i := range fields {
			require.Equal(t, strconv.Itoa(i), render(out.Values[i]))
		}
	}

	// Not waiting: Dispatch runs the queued fields, in order, on this goroutine.
	out := graphql.NewFieldSet(fields)
	var s lists.FieldsInPlace
	var order []int
	s.InPlace(0)
	for i := 1; i < len(fields); i++ {
		s.ResolveConcurrently(out, fields[i], oc, nil, i, true, false,
			func(context.Context) graphql.Marshaler { order = append(order, i); return marshalInt(i) })
	}
	_, inPlace := s.InPlaceFields(ctx)
	require.Equal(t, []int{0}, inPlace)
	out.Values[0] = marshalInt(0)
	s.Dispatch(ctx, out)
	require.Equal(t, []int{1, 2}, order)
}

// countingContext counts the look-ups of keys that reach it.
type countingContext struct {
	context.Context
	lookups atomic.Int64
}

func (c *countingContext) Value(key any) any {
	c.lookups.Add(1)
	return c.Context.Value(key)
}

type keyA struct{}
type keyB struct{}

// The context of in-place fields answers as the object's does, every key, from any goroutine
// (a loader's batch may ask it): the first key asked is looked up once, the others every time.
func TestInPlaceContextKeepsTheFirstValueAsked(t *testing.T) {
	t.Parallel()
	counting := &countingContext{Context: context.WithValue(context.WithValue(context.Background(), keyA{}, "a"), keyB{}, "b")}
	var s lists.FieldsInPlace
	s.InPlace(0)
	inCtx, _ := s.InPlaceFields(counting)
	require.Equal(t, "a", inCtx.Value(keyA{}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				assert.Equal(t, "a", inCtx.Value(keyA{}))
				assert.Equal(t, "b", inCtx.Value(keyB{}))
				assert.Nil(t, inCtx.Value("absent"))
			}
		})
	}
	wg.Wait()
	require.Equal(t, "a", inCtx.Value(keyA{}))
	// keyA reached the object's context once, keyB and "absent" 800 times each.
	require.Equal(t, int64(1+800+800), counting.lookups.Load())

	// A key that is not comparable is answered, never kept: two of one type would panic.
	var first lists.FieldsInPlace
	first.InPlace(0)
	inCtx, _ = first.InPlaceFields(counting)
	for range 2 {
		require.Nil(t, inCtx.Value([]byte("not comparable")))
	}
	require.Equal(t, "a", inCtx.Value(keyA{}))
}

// Object writes what the FieldSet would: fields in order, a repeated alias once (the first).
func TestObjectWritesWhatTheFieldSetWrites(t *testing.T) {
	t.Parallel()
	fields := []graphql.CollectedField{
		{Field: &ast.Field{Alias: "id"}}, {Field: &ast.Field{Alias: "name"}}, {Field: &ast.Field{Alias: "id"}}, {Field: &ast.Field{Alias: "n"}},
	}
	out := graphql.NewFieldSet(fields)
	out.Values[0], out.Values[1], out.Values[2], out.Values[3] = graphql.MarshalString("a"), graphql.MarshalString("b<\\"), graphql.MarshalString("c"), graphql.Null
	require.Equal(t, render(out), render(lists.Object(fields, out.Values)))
	require.Equal(t, `{"id":"a","name":"b<\\","n":null}`, render(lists.Object(fields, out.Values)))
	require.Equal(t, "{}", render(lists.Object(nil, nil)))
}

func TestIDWritesWhatMarshalUUIDWrites(t *testing.T) {
	t.Parallel()
	for range 100 {
		id := uuid.New()
		require.Equal(t, render(graphql.MarshalUUID(id)), render(lists.ID(&id)))
	}
	id := uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff")
	require.Equal(t, `"00112233-4455-6677-8899-aabbccddeeff"`, render(lists.ID(&id)))
}

// TestStringPtrMarshalsAsGQLGen: lists.StringPtr and lists.String write byte for byte what graphql.MarshalString
// writes — escapes, control characters, multi-byte and invalid UTF-8 — and null for nil; it
// allocates nothing into a bytes.Buffer with room.
func TestStringPtrMarshalsAsGQLGen(t *testing.T) { // not parallel: AllocsPerRun
	for _, s := range stringCases {
		require.Equal(t, render(graphql.MarshalString(s)), render(lists.StringPtr(&s)), "%q", s)
		require.Equal(t, render(graphql.MarshalString(s)), render(lists.String(&s)), "%q", s)
	}
	require.Equal(t, "null", render(lists.StringPtr(nil)))

	s := `***-**-6789 "quoted" \ tab	`
	var buf bytes.Buffer
	buf.Grow(1 << 10)
	allocs := testing.AllocsPerRun(100, func() {
		buf.Reset()
		lists.StringPtr(&s).MarshalGQL(&buf)
	})
	require.Zero(t, allocs)
}

var stringCases = []string{"", "plain", "***-**-6789", `quote " and backslash \ `, "\t\r\n\b\f\x00\x01\x1f\x7f",
	"héllo wörld €", "emoji 😀", "\xff\xfe invalid", "a\xc3", "\u2028\u2029", "</script>&", `\u0000`}

func FuzzStringPtr(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if want, got := render(graphql.MarshalString(s)), render(lists.StringPtr(&s)); got != want {
			t.Fatalf("%q: %s, gqlgen %s", s, got, want)
		}
	})
}
