// Package lists runs the elements of GraphQL lists, and the resolver fields of an object, one
// after another on the calling goroutine, and starts the rest on goroutines of their own only
// when one of them is about to wait for a loader's batch.
//
// gqlgen's generated code starts a goroutine per list element (graphql.MarshalSliceConcurrently)
// and per resolver field of an object beyond the first (FieldSet.Dispatch), so that siblings all
// reach their loader before it fetches. Most never wait, though: root fields prefetch what is
// selected on their rows, so nested fields are cache hits. Those goroutines then only cost: each
// outgrows its initial stack while rendering (runtime.newstack was ~29% of the CPU of a page of
// 50 employees with 1,000 entries).
//
// Batching stays intact with "hand-off on wait": a loader calls BeforeWait when a key's value is
// not ready yet, and every list and object the waiting field belongs to — its own and those
// enclosing it — starts its remaining elements or fields on goroutines of their own before the
// field blocks, as gqlgen would have from the start. Those siblings then reach their own Load and
// join the same batch; a list or object that never waits spawns nothing.
package lists

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// Marshal has graphql.MarshalSliceConcurrently's signature and results (an element that panics
// is null and reported, unless omitPanicHandler); `make generate` makes the generated code call
// it instead (tools/rewritelists). A workerLimit bounds goroutines, which hand-off cannot
// promise, so a non-zero one leaves the list to gqlgen.
func Marshal(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	if workerLimit > 0 {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshalElement)
	}
	ret := make(graphql.Array, length)
	if length == 0 {
		return ret
	}
	parent := frameOf(ctx)
	newFrame := func(start, end int) *frame {
		f := &frame{parent: parent, next: start, end: end}
		f.ctx = context.WithValue(ctx, frameKey{}, f)
		f.run = func(i int) {
			ctx := graphql.WithFieldContext(f.ctx, &graphql.FieldContext{Index: &i})
			if !omitPanicHandler {
				defer func() {
					if p := recover(); p != nil {
						graphql.AddError(ctx, graphql.Recover(ctx, p))
						ret[i] = graphql.Null
					}
				}()
			}
			ret[i] = marshalElement(ctx, i)
		}
		return f
	}
	// A long list outside any other list or object runs in two halves, the second on a goroutine
	// of its own, when no other such list is being marshalled in the process: an idle machine
	// renders a large page on two processors (latency at one client), a busy one spawns nothing
	// more (throughput).
	if parent == nil && length >= splitAt && rendering.Add(1) == 1 {
		defer rendering.Add(-1)
		second := newFrame(length/2, length)
		done := make(chan struct{})
		go func() {
			defer close(done)
			second.runAll()
		}()
		newFrame(0, length/2).runAll()
		<-done
		return ret
	} else if parent == nil && length >= splitAt {
		rendering.Add(-1)
	}
	newFrame(0, length).runAll()
	return ret
}

// splitAt is the shortest top-level list Marshal splits.
const splitAt = 16

// rendering counts the top-level lists of at least splitAt elements being marshalled.
var rendering atomic.Int32

// Fields collects the resolver fields of one object, in place of FieldSet.ResolveConcurrently,
// and runs them in Dispatch, in place of FieldSet.Dispatch (tools/rewritelists rewrites the
// generated code). Deferred fields are left to gqlgen.
type Fields struct {
	oc      *graphql.OperationContext
	pending []pendingField
	out     *graphql.FieldSet
}

// Proceeded is what Proceed returns.
type Proceeded struct{}

// Proceed is the next a directive resolved in place is given (tools/rewritelists,
// inPlaceDirectives): a directive that lets the field resolve calls it, with its own context,
// and returns what it returned, and the generated code then calls the field's resolver with the
// field's context. It captures nothing, where a next binding the resolver to its object is a
// closure allocated for every field.
func Proceed(context.Context) (any, error) { return Proceeded{}, nil }

// FieldsInPlace is Fields for an object with fields resolved in place (tools/rewritelists,
// inPlaceDirectives): the generated code records them (InPlace) and runs them once its loop has
// queued the resolver fields, with the context InPlaceFields gives — the object's context
// carrying this, so that one about to wait for a loader's batch (BeforeWait) starts the queued
// resolver fields first and their batches run alongside its own, not after it.
type FieldsInPlace struct {
	Fields
	context.Context // the object's, set by InPlaceFields

	indexes []int // in room until more than four
	room    [4]int

	mu        sync.Mutex
	handedOff bool           // the queued fields were started (handOff)
	wg        sync.WaitGroup // those fields

	// The first value asked of this context, kept: each @pii field of the object asks for the
	// principal twice (directive and resolver), a walk of some sixteen contexts up the chain.
	// Written once, by whoever wins keptState's 0 → 1, before it turns 2; a loader's batch may
	// ask from another goroutine.
	keptKey, keptValue any
	keptState          atomic.Uint32
}

type inPlaceKey struct{}

// Value answers inPlaceKey with s, anything else as the object's context does.
func (s *FieldsInPlace) Value(key any) any {
	if key == (inPlaceKey{}) {
		return s
	}
	if s.keptState.Load() == 2 && s.keptKey == key {
		return s.keptValue
	}
	v := s.Context.Value(key)
	// Only a comparable key is kept: comparing a later key of the same type with one that is not
	// would panic, where the contexts above compare only the keys they were given.
	if s.keptState.Load() == 0 && reflect.TypeOf(key) != nil && reflect.TypeOf(key).Comparable() && s.keptState.CompareAndSwap(0, 1) {
		s.keptKey, s.keptValue = key, v
		s.keptState.Store(2)
	}
	return v
}

// InPlace records that the field at index i is resolved in place.
func (s *FieldsInPlace) InPlace(i int) {
	if s.indexes == nil {
		s.indexes = s.room[:0]
	}
	s.indexes = append(s.indexes, i)
}

// InPlaceFields returns the indexes InPlace recorded, in order, and the context to resolve
// them with: ctx, carrying s for BeforeWait.
func (s *FieldsInPlace) InPlaceFields(ctx context.Context) (context.Context, []int) {
	if len(s.indexes) == 0 {
		return ctx, nil
	}
	s.Context = ctx
	return s, s.indexes
}

// handOff starts the queued resolver fields, each on a goroutine of its own, with the object's
// context; Dispatch then waits for them. Only the first call does anything.
func (s *FieldsInPlace) handOff() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handedOff {
		return
	}
	s.handedOff = true
	s.wg.Add(len(s.pending))
	for k := range s.pending {
		f := s.pending[k]
		go func() {
			defer s.wg.Done()
			s.store(s.out, &f, resolveField(s.Context, s.oc, &f))
		}()
	}
}

// Dispatch is Fields.Dispatch, unless an in-place field started the queued fields: then it
// waits for them.
func (s *FieldsInPlace) Dispatch(ctx context.Context, out *graphql.FieldSet) {
	s.mu.Lock()
	handedOff := s.handedOff
	s.mu.Unlock()
	if !handedOff {
		s.Fields.Dispatch(ctx, out)
		return
	}
	out.Dispatch(ctx)
	s.wg.Wait()
}

type pendingField struct {
	i                int
	recoverFromPanic bool
	nonNull          bool
	resolve          func(ctx context.Context) graphql.Marshaler
}

// ResolveConcurrently takes FieldSet.ResolveConcurrently's arguments, and field, the field at i.
func (s *Fields) ResolveConcurrently(out *graphql.FieldSet, field graphql.CollectedField, oc *graphql.OperationContext,
	deferred *graphql.DeferredGroup, i int, recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler,
) {
	if field.IsDeferred() {
		out.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
		return
	}
	s.oc, s.out = oc, out
	s.pending = append(s.pending, pendingField{i: i, recoverFromPanic: recoverFromPanic, nonNull: nonNull, resolve: resolve})
}

// Dispatch runs what out.Dispatch would (fields gqlgen scheduled itself), then the collected
// fields one after another, handing the rest to goroutines when one waits. Like gqlgen, it
// stores each value in out.Values and counts an invalid one (null for a non-null field, else
// graphql.RequiredNull) in out.Invalids; a panic is reported and resolves to null when
// recoverFromPanic.
func (s *Fields) Dispatch(ctx context.Context, out *graphql.FieldSet) {
	out.Dispatch(ctx)
	switch len(s.pending) {
	case 0:
	case 1:
		// Nothing to hand off at this level; enclosing lists and objects still can. (No
		// closure: most objects of a nested page have a single resolver field.)
		s.resolve(ctx, out, 0)
	default:
		f := &frame{parent: frameOf(ctx), end: len(s.pending)}
		f.ctx = context.WithValue(ctx, frameKey{}, f)
		f.run = func(k int) { s.resolve(f.ctx, out, k) }
		f.runAll()
	}
}

// resolve runs the k-th collected field and stores its value.
func (s *Fields) resolve(ctx context.Context, out *graphql.FieldSet, k int) {
	p := &s.pending[k]
	s.store(out, p, resolveField(ctx, s.oc, p))
}

// store stores p's value res, counting an invalid one.
func (s *Fields) store(out *graphql.FieldSet, p *pendingField, res graphql.Marshaler) {
	out.Values[p.i] = res
	invalid := graphql.Marshaler(graphql.RequiredNull)
	if p.nonNull {
		invalid = graphql.Null
	}
	if res == invalid {
		atomic.AddUint32(&out.Invalids, 1)
	}
}

func resolveField(ctx context.Context, oc *graphql.OperationContext, p *pendingField) (res graphql.Marshaler) {
	if p.recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(ctx, oc.Recover(ctx, r))
				res = graphql.Null
			}
		}()
	}
	return p.resolve(ctx)
}

// BeforeWait is called by whoever is about to block on work that batches with its siblings (a
// loader's pending batch): every list and object that ctx's field belongs to starts its remaining
// elements or fields, each on a goroutine of its own, while this one waits. It is cheap when
// nothing is left to start.
func BeforeWait(ctx context.Context) {
	if s, ok := ctx.Value(inPlaceKey{}).(*FieldsInPlace); ok {
		s.handOff() // the object of a field resolved in place: its queued resolver fields
	}
	for f := frameOf(ctx); f != nil; f = f.parent {
		if !f.handOff() {
			// A frame handed off before had its enclosing frames handed off with it.
			return
		}
	}
}

// frame is one list's elements or one object's resolver fields, run in order by runAll until
// handOff starts the rest.
type frame struct {
	ctx    context.Context // carries the frame
	parent *frame          // the list or object this one is part of, if any
	end    int             // the items are [next as runAll starts, end)
	run    func(i int)
	wg     sync.WaitGroup // the items started on goroutines of their own

	mu        sync.Mutex
	next      int  // the item runAll takes next
	handedOff bool // the items from next on have goroutines of their own
	done      bool // runAll has ended: nothing is left to hand off
}

type frameKey struct{}

func frameOf(ctx context.Context) *frame {
	f, _ := ctx.Value(frameKey{}).(*frame)
	return f
}

// runAll runs the items in order on the calling goroutine until they end or are handed off,
// then waits for those handed off.
func (f *frame) runAll() {
	for {
		f.mu.Lock()
		if f.handedOff || f.next == f.end {
			f.done = true
			f.mu.Unlock()
			break
		}
		i := f.next
		f.next++
		f.mu.Unlock()
		f.run(i)
	}
	f.wg.Wait()
}

// handOff starts the items runAll has not reached, each on a goroutine of its own. It reports
// whether the enclosing frames still need to be looked at: false when f had been handed off
// already.
func (f *frame) handOff() bool {
	f.mu.Lock()
	if f.done {
		f.mu.Unlock()
		return true
	}
	if f.handedOff {
		f.mu.Unlock()
		return false
	}
	f.handedOff = true
	start := f.next
	f.mu.Unlock()
	// Added before runAll can see handedOff and reach Wait: the item calling BeforeWait is still
	// running under runAll.
	f.wg.Add(f.end - start)
	for i := start; i < f.end; i++ {
		go func() {
			defer f.wg.Done()
			f.run(i)
		}()
	}
	return true
}

// DeferredGroup replaces graphql.NewDeferredGroup(ctx) in the generated code of every object
// (tools/rewritelists). gqlgen builds the group — the object's full response path, a field set
// and a map — for each object, though it is only read when one of the object's fields is
// @defer'd: ResolveConcurrently touches the group's field set and views only for a deferred
// field, and the generated code processes the group only when it holds views. Building the path
// of each of a nested page's ~2,300 objects was ~8% of its CPU. With no deferred field among
// fields, the group is empty but for ctx.
func DeferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	for i := range fields {
		if fields[i].IsDeferred() {
			return graphql.NewDeferredGroup(ctx)
		}
	}
	return graphql.DeferredGroup{Context: ctx}
}

// Object replaces an object's `return out` in the generated code (tools/rewritelists): the same
// JSON as the FieldSet's MarshalGQL — the fields in order, a repeated alias written once, first
// value kept — without the map of written aliases and the iterator closures gqlgen allocates
// for every object. Aliases are GraphQL names ([_A-Za-z][_0-9A-Za-z]*, enforced by the parser),
// so they need no escaping.
func Object(fields []graphql.CollectedField, values []graphql.Marshaler) graphql.Marshaler {
	return &object{fields: fields, values: values}
}

type object struct {
	fields []graphql.CollectedField
	values []graphql.Marshaler
}

func (o *object) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, "{")
	first := true
fields:
	for i := range o.fields {
		alias := o.fields[i].Alias
		for j := range i {
			if o.fields[j].Alias == alias {
				continue fields
			}
		}
		if first {
			first = false
			_, _ = io.WriteString(w, `"`)
		} else {
			_, _ = io.WriteString(w, `,"`)
		}
		_, _ = io.WriteString(w, alias)
		_, _ = io.WriteString(w, `":`)
		o.values[i].MarshalGQL(w)
	}
	_, _ = io.WriteString(w, "}")
}

// ID marshals a non-nil uuid as graphql.MarshalUUID does (a quoted, hyphenated, lower-case
// string), without the string and the closure gqlgen allocates for each: the plain-field rewrite
// (tools/rewritelists) calls it for ID fields once their value is known not to be uuid.Nil. It
// takes the field's address, so that the Marshaler is that pointer (a uuid value converted to an
// interface is a 16-byte allocation, 2,000 per nested page): the field is read when the response
// is written, and the objects being rendered do not change meanwhile.
func ID(id *uuid.UUID) graphql.Marshaler { return (*idMarshaler)(id) }

type idMarshaler uuid.UUID

func (id *idMarshaler) MarshalGQL(w io.Writer) {
	const hexDigits = "0123456789abcdef"
	var b [38]byte
	b[0], b[37] = '"', '"'
	j := 1
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	write(w, b[:])
}

// StringPtr marshals *s as graphql.MarshalString does, and a nil s as null, without the closure
// gqlgen allocates for every string (the rewrite of resolver fields calls it: tools/rewritelists,
// pointerMarshallers). s is read when the response is written: it must not change meanwhile,
// which holds for the values resolvers return (their own, or shared and never written through).
func StringPtr(s *string) graphql.Marshaler {
	if s == nil {
		return graphql.Null
	}
	return (*stringMarshaler)(s)
}

// String marshals *s as graphql.MarshalString does, without its closure: the plain-field rewrite
// calls it with the address of a string field of the object being resolved (tools/rewritelists,
// stringMarshallers), which is read when the response is written — the objects being rendered
// do not change meanwhile (as for ID).
func String(s *string) graphql.Marshaler { return (*stringMarshaler)(s) }

type stringMarshaler string

// MarshalGQL writes the string quoted as gqlgen's writeQuotedString does (graphql/string.go,
// v0.17.98; TestStringPtrMarshalsAsGQLGen compares them): control characters below 0x20,
// backslash and double quote escaped (\t, \r, \n, \\, \", else \u00XX with upper-case digits),
// everything else, invalid UTF-8 included, written as it is. gqlgen ranges over runes, this over
// bytes: the same decisions, as the bytes escaped are ASCII, which in UTF-8 (and in what an
// invalid sequence decodes to) only ever stand for themselves.
func (m *stringMarshaler) MarshalGQL(w io.Writer) {
	const hexDigits = "0123456789ABCDEF"
	s := string(*m)
	_, _ = io.WriteString(w, `"`)
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		_, _ = io.WriteString(w, s[start:i])
		switch c {
		case '\t':
			_, _ = io.WriteString(w, `\t`)
		case '\r':
			_, _ = io.WriteString(w, `\r`)
		case '\n':
			_, _ = io.WriteString(w, `\n`)
		case '\\':
			_, _ = io.WriteString(w, `\\`)
		case '"':
			_, _ = io.WriteString(w, `\"`)
		default:
			b := [6]byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf]}
			write(w, b[:])
		}
		start = i + 1
	}
	_, _ = io.WriteString(w, s[start:])
	_, _ = io.WriteString(w, `"`)
}

// write writes b, which stays on the caller's stack when w is the *bytes.Buffer gqlgen renders
// responses into (through the io.Writer interface it would escape to the heap).
func write(w io.Writer, b []byte) {
	if buf, ok := w.(*bytes.Buffer); ok {
		buf.Write(b)
		return
	}
	_, _ = w.Write(bytes.Clone(b))
}
