package loaders

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Loader batches and caches the loads of one request.
//
// It fetches a batch once its keys stop arriving: the first Load of a batch starts a dispatcher
// that lets sibling goroutines — of the fields of an object, and of the elements of a list, which
// the Opts.BeforeWait hook may start when one of them waits here — reach their Load, until no
// key has arrived for `quiet` (or `maxWait` has passed since the batch opened). See dispatch for
// how it waits.
type Loader[K comparable, V any] struct {
	fetch          BatchFunc[K, V]
	quiet, maxWait time.Duration
	beforeWait     func(context.Context)
	tracer         trace.Tracer
	spanName       string
	name           string
	observeBatch   func(loader string, keys int)

	mu      sync.Mutex
	cache   map[K]*result[V]
	pending []K
	lastKey time.Time
	keys    int // keys queued since the loader was built: the dispatcher sees new arrivals
}

// BatchFunc fetches the values of keys: one value per key, in the order of keys (the zero value
// for a key with none). An error fails every key of the batch.
type BatchFunc[K comparable, V any] func(ctx context.Context, keys []K) ([]V, error)

type result[V any] struct {
	done  chan struct{}
	value V
	err   error
}

// wakeMargin is how much earlier than the quiet window's end the dispatcher wakes from its
// sleep (a kernel sleep wakes ~30-40 µs late on a virtual machine): it yields for that
// last stretch, so a batch is fetched as soon as its window ends.
const wakeMargin = 30 * time.Microsecond

// fetchTimeout bounds a batch whose requests have all gone away (its context outlives them).
const fetchTimeout = 30 * time.Second

// NewLoader returns a Loader fetching through fetch, batching as opts say.
func NewLoader[K comparable, V any](opts Opts, fetch BatchFunc[K, V]) *Loader[K, V] {
	opts = opts.withDefaults()
	return &Loader[K, V]{fetch: fetch, quiet: opts.Quiet, maxWait: opts.MaxWait, beforeWait: opts.BeforeWait,
		tracer: opts.Tracer, spanName: strings.TrimSpace("loader " + opts.Name), name: opts.Name,
		observeBatch: opts.ObserveBatch, cache: make(map[K]*result[V])}
}

// Load queues key and returns a thunk that waits for its value. A key loaded before, in this
// request, is served from the cache without a fetch.
func (l *Loader[K, V]) Load(ctx context.Context, key K) func() (V, error) {
	l.mu.Lock()
	r, ok := l.cache[key]
	if !ok {
		r = &result[V]{done: make(chan struct{})}
		l.cache[key] = r
		l.pending = append(l.pending, key)
		l.lastKey = time.Now()
		l.keys++
		if len(l.pending) == 1 {
			go l.dispatch(context.WithoutCancel(ctx))
		}
	}
	l.mu.Unlock()
	return func() (V, error) {
		select {
		case <-r.done:
			return r.value, r.err
		default:
		}
		// The value is not here yet. Whoever runs sibling fields one after another (the
		// generated code through internal/lists) starts the rest now, so that their keys join
		// the batch.
		if l.beforeWait != nil {
			l.beforeWait(ctx)
		}
		select {
		case <-r.done:
			return r.value, r.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
}

// Get is Load(ctx, key)() without the thunk, which is allocated on every call: a relation
// prefetched for a list is then read by each element (1,000 times on a nested page), and a
// cached value is returned at once.
func (l *Loader[K, V]) Get(ctx context.Context, key K) (V, error) {
	l.mu.Lock()
	r, ok := l.cache[key]
	l.mu.Unlock()
	if ok {
		select {
		case <-r.done:
			return r.value, r.err
		default:
		}
	}
	return l.Load(ctx, key)()
}

// LoadMany fetches, in one batch started at once, the keys this request has not loaded yet. It
// is for a caller that already holds every key it will need — a list resolver fetching its rows'
// relationships ahead of their fields — so there is nothing to wait for. Later Loads of these
// keys are cache hits. The error is the batch's, also reported to every later Load.
func (l *Loader[K, V]) LoadMany(ctx context.Context, keys []K) error {
	l.mu.Lock()
	fresh := make([]K, 0, len(keys))
	results := make([]*result[V], 0, len(keys))
	for _, k := range keys {
		if _, ok := l.cache[k]; ok {
			continue
		}
		r := &result[V]{done: make(chan struct{})}
		l.cache[k] = r
		fresh = append(fresh, k)
		results = append(results, r)
	}
	l.mu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	return l.complete(ctx, fresh, results)
}

// Prime caches value for key, unless this request has asked for key already: for a caller that
// read the value along with something else (a join), so that later Loads are cache hits.
func (l *Loader[K, V]) Prime(key K, value V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.cache[key]; ok {
		return
	}
	r := &result[V]{done: make(chan struct{}), value: value}
	close(r.done)
	l.cache[key] = r
}

// dispatch waits for the batch to stop growing, then fetches it. The context outlives a client's
// cancellation so that waiters of other fields are answered either way; each waiter still
// honours its own context.
//
// It waits in rounds. Each round first yields the processor (runtime.Gosched): siblings already
// runnable here run before it, and reach their Load. While a round brings new keys, the next
// round yields again at once. When one brings none, nothing queued was about to add a key, and
// the dispatcher sleeps for the rest of the quiet window rather than spin — it used to yield in
// a loop until the window passed, burning a processor the siblings it waited for could have
// used. The sleep is a kernel sleep (sleepFor): Go's timers wake an idle process in whole
// milliseconds (graph-gophers/dataloader's timer window, even set to 100 µs, measured 1.1 ms per
// level of a query), twenty times the window.
func (l *Loader[K, V]) dispatch(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	opened := time.Now()
	seen := -1
	for {
		runtime.Gosched()
		l.mu.Lock()
		last, keys := l.lastKey, l.keys
		l.mu.Unlock()
		now := time.Now()
		quiet, open := now.Sub(last), now.Sub(opened)
		if quiet >= l.quiet || open >= l.maxWait {
			break
		}
		if keys != seen {
			seen = keys
			continue
		}
		if rest := min(l.quiet-quiet, l.maxWait-open); rest > wakeMargin {
			sleepFor(rest - wakeMargin)
		}
	}
	l.mu.Lock()
	keys := l.pending
	l.pending = nil
	results := make([]*result[V], len(keys))
	for i, k := range keys {
		results[i] = l.cache[k]
	}
	l.mu.Unlock()

	_ = l.complete(ctx, keys, results)
}

// complete fetches keys and hands each result to its waiters.
func (l *Loader[K, V]) complete(ctx context.Context, keys []K, results []*result[V]) error {
	if l.observeBatch != nil {
		l.observeBatch(l.name, len(keys))
	}
	var span trace.Span
	if l.tracer != nil && trace.SpanFromContext(ctx).IsRecording() {
		ctx, span = l.tracer.Start(ctx, l.spanName, trace.WithAttributes(attribute.Int("loader.batch.size", len(keys))))
	}
	values, err := l.safeFetch(ctx, keys)
	if span != nil {
		if err != nil { // the error itself is logged where it is presented; its text stays out of spans
			span.SetStatus(codes.Error, "batch failed")
		}
		span.End()
	}
	for i, r := range results {
		if err != nil {
			r.err = err
		} else if i < len(values) {
			r.value = values[i]
		}
		close(r.done)
	}
	return err
}

// safeFetch turns a panic in a batch function into an error of every key, so that no waiter is
// left blocked on a batch that will never finish.
func (l *Loader[K, V]) safeFetch(ctx context.Context, keys []K) (values []V, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("loader batch panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return l.fetch(ctx, keys)
}
