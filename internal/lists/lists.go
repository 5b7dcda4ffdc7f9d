// Package lists marshals the elements of GraphQL lists one after another on the calling
// goroutine, and hands the rest of a list to a new goroutine only when an element is about to
// wait for a loader's batch.
//
// gqlgen's graphql.MarshalSliceConcurrently starts a goroutine per element so that the siblings
// of a list all reach their loader before it fetches. Most elements never wait, though: root
// fields prefetch what is selected on their rows, so nested fields are cache hits. Those
// goroutines then only cost: each outgrows its initial stack while rendering (runtime.newstack
// was ~29% of the CPU of a page of 50 employees with 1,000 entries).
//
// Marshal keeps batching intact with "hand-off on wait": a loader calls BeforeWait when a key's
// value is not ready yet, and every list the waiting element belongs to — its own and those
// enclosing it — passes its remaining elements to a new goroutine before the element blocks.
// The next sibling then reaches its own Load at once and joins the same batch, as it did when
// every element had a goroutine of its own; a list that never waits spawns nothing.
package lists

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
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
	f := &frame{parent: frameOf(ctx), ret: ret, omitPanicHandler: omitPanicHandler, marshal: marshalElement}
	f.ctx = context.WithValue(ctx, frameKey{}, f)
	for {
		f.mu.Lock()
		if f.handedOff || f.next == length {
			f.done = true
			f.mu.Unlock()
			break
		}
		i := f.next
		f.next++
		f.mu.Unlock()
		f.element(i)
	}
	f.wg.Wait()
	return ret
}

// BeforeWait is called by whoever is about to block on work that batches with its siblings (a
// loader's pending batch): every list that ctx's element belongs to starts its remaining
// elements, each on a goroutine of its own, while this one waits. It is cheap when nothing is
// left to start.
func BeforeWait(ctx context.Context) {
	for f := frameOf(ctx); f != nil; f = f.parent {
		if !f.handOff() {
			// A list handed off before had its enclosing lists handed off with it.
			return
		}
	}
}

// frame is one Marshal call.
type frame struct {
	ctx              context.Context // the list's context, carrying the frame
	parent           *frame          // the list the element holding this list belongs to, if any
	ret              graphql.Array
	omitPanicHandler bool
	marshal          func(ctx context.Context, i int) graphql.Marshaler
	wg               sync.WaitGroup // the elements started on goroutines of their own

	mu        sync.Mutex
	next      int  // the element Marshal's loop takes next
	handedOff bool // the elements from next on have goroutines of their own
	done      bool // Marshal's loop has ended: nothing is left to hand off
}

type frameKey struct{}

func frameOf(ctx context.Context) *frame {
	f, _ := ctx.Value(frameKey{}).(*frame)
	return f
}

func (f *frame) element(i int) {
	ctx := graphql.WithFieldContext(f.ctx, &graphql.FieldContext{Index: &i})
	if !f.omitPanicHandler {
		defer func() {
			if p := recover(); p != nil {
				graphql.AddError(ctx, graphql.Recover(ctx, p))
				f.ret[i] = graphql.Null
			}
		}()
	}
	f.ret[i] = f.marshal(ctx, i)
}

// handOff starts the elements Marshal's loop has not reached, each on a goroutine of its own, as
// gqlgen would have from the start. It reports whether the enclosing lists still need to be
// looked at: false when f had been handed off already.
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
	// Added before Marshal's loop can see handedOff end and reach Wait: the element calling
	// BeforeWait is still running under that loop.
	f.wg.Add(len(f.ret) - start)
	for i := start; i < len(f.ret); i++ {
		go func() {
			defer f.wg.Done()
			f.element(i)
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
