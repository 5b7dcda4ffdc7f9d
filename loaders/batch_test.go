package loaders_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/lists"
	"github.com/workingtracker/api/loaders"
)

// recorder is a batch function that doubles its keys and remembers every batch it was asked for.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
}

func (r *recorder) fetch(_ context.Context, keys []int) ([]int, error) {
	r.mu.Lock()
	r.batches = append(r.batches, append([]int(nil), keys...))
	r.mu.Unlock()
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = 2 * k
	}
	return out, nil
}

func TestSiblingGoroutinesShareOneBatch(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	// Generous, so a busy CI machine cannot make a sibling miss the batch.
	l := loaders.NewLoader(loaders.Opts{Quiet: 200 * time.Millisecond, MaxWait: 10 * time.Second}, rec.fetch)
	const n = 200
	var wg sync.WaitGroup
	got := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := l.Load(context.Background(), i%100)()
			require.NoError(t, err)
			got[i] = v
		}()
	}
	wg.Wait()
	for i, v := range got {
		require.Equal(t, 2*(i%100), v)
	}
	require.Len(t, rec.batches, 1, "one fetch for all siblings")
	require.Len(t, rec.batches[0], 100, "each key once")

	v, err := l.Load(context.Background(), 7)()
	require.NoError(t, err)
	require.Equal(t, 14, v)
	require.Len(t, rec.batches, 1, "a loaded key is cached for the request")
}

func TestBatchFailuresReachEveryWaiter(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for name, fetch := range map[string]loaders.BatchFunc[int, int]{
		"ErrReturned": func(context.Context, []int) ([]int, error) { return nil, boom },
		"ErrPanicked": func(context.Context, []int) ([]int, error) { panic("kaput") },
	} {
		t.Run(name, func(t *testing.T) {
			l := loaders.NewLoader(loaders.Opts{}, fetch)
			a, b := l.Load(context.Background(), 1), l.Load(context.Background(), 2)
			for _, thunk := range []func() (int, error){a, b} {
				_, err := thunk()
				require.Error(t, err)
			}
		})
	}
}

func TestWaiterHonoursItsContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int32
	l := loaders.NewLoader(loaders.Opts{}, func(_ context.Context, keys []int) ([]int, error) {
		calls.Add(1)
		<-release
		return make([]int, len(keys)), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	thunk := l.Load(ctx, 1)
	cancel()
	_, err := thunk()
	require.ErrorIs(t, err, context.Canceled)
	close(release)
}

func TestLoadManyFetchesOnlyWhatIsMissingAndFeedsLoad(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	l := loaders.NewLoader(loaders.Opts{}, rec.fetch)
	_, err := l.Load(context.Background(), 1)()
	require.NoError(t, err)
	require.NoError(t, l.LoadMany(context.Background(), []int{1, 2, 3, 3}))
	require.Equal(t, [][]int{{1}, {2, 3}}, rec.batches, "cached and repeated keys are not fetched again")
	v, err := l.Load(context.Background(), 3)()
	require.NoError(t, err)
	require.Equal(t, 6, v)
	require.Len(t, rec.batches, 2)
}

// Lists marshal their elements one after another; an element waiting for its value starts its
// siblings (internal/lists, handed in as the loader's BeforeWait), whose keys join the same batch.
func TestSequentialListElementsShareOneBatch(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	l := loaders.NewLoader(loaders.Opts{Quiet: 200 * time.Millisecond, MaxWait: 10 * time.Second, BeforeWait: lists.BeforeWait},
		rec.fetch)
	const n = 100
	got := lists.Marshal(context.Background(), n, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		v, err := l.Load(ctx, i)()
		require.NoError(t, err)
		return graphql.MarshalInt(v)
	})
	for i, m := range got {
		var b strings.Builder
		m.MarshalGQL(&b)
		require.Equal(t, strconv.Itoa(2*i), b.String())
	}
	require.Len(t, rec.batches, 1, "one fetch for all elements")
	require.Len(t, rec.batches[0], n)
}

// Get answers as Load's thunk does: a cached value at once, an uncached key through a batch.
func TestGetIsLoadWithoutTheThunk(t *testing.T) {
	t.Parallel()
	fetches := 0
	l := loaders.NewLoader(loaders.Opts{}, func(_ context.Context, keys []int) ([]string, error) {
		fetches++
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = strconv.Itoa(k)
		}
		return out, nil
	})
	ctx := context.Background()
	v, err := l.Get(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "1", v)
	v, err = l.Get(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "1", v)
	require.Equal(t, 1, fetches)
	l.Prime(2, "two")
	v, err = l.Get(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, "two", v)
	require.Equal(t, 1, fetches)
}

// The dispatcher sleeps out its quiet window rather than yielding in a loop: waiting for a batch
// costs (next to) no processor time. Not parallel: it measures the process's CPU time.
func TestDispatcherWaitsWithoutSpinning(t *testing.T) {
	const quiet = 150 * time.Millisecond
	rec := &recorder{}
	l := loaders.NewLoader(loaders.Opts{Quiet: quiet, MaxWait: time.Second}, rec.fetch)
	before, start := cpuTime(t), time.Now()
	v, err := l.Load(context.Background(), 21)()
	require.NoError(t, err)
	require.Equal(t, 42, v)
	require.GreaterOrEqual(t, time.Since(start), quiet, "the batch waited out its window")
	require.Less(t, cpuTime(t)-before, quiet/3, "CPU time while waiting %v", quiet)
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
