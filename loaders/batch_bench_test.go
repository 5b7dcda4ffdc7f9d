package loaders_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/workingtracker/api/loaders"
)

// BenchmarkBatch is one request's level of 50 sibling loads (each on a goroutine of its own,
// as handed-off list elements are) joining one batch with the default window, at 1 and 16
// concurrent requests; cpu-ns/op is the process's CPU time per batch, the dispatcher's wait
// included.
func BenchmarkBatch(b *testing.B) {
	fetch := func(_ context.Context, keys []int) ([]int, error) { return keys, nil }
	level := func() {
		l := loaders.NewLoader(loaders.Opts{}, fetch)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = l.Load(context.Background(), i)()
			}()
		}
		wg.Wait()
	}
	for _, clients := range []int{1, 16} {
		b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) {
			b.ReportAllocs()
			before := processCPU()
			if clients == 1 {
				for b.Loop() {
					level()
				}
			} else {
				b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						level()
					}
				})
			}
			b.ReportMetric(float64(processCPU()-before)/float64(b.N), "cpu-ns/op")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
