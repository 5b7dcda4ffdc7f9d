package loaders_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/workingtracker/api/loaders"
)

// TestBatchSpans: a batch gets one span with its size, under the span of the request that
// loaded it — not one per key; a load outside a sampled request starts none.
func TestBatchSpans(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	rec := &recorder{}
	l := loaders.NewLoader(loaders.Opts{Quiet: 200 * time.Millisecond, MaxWait: 10 * time.Second,
		Tracer: tp.Tracer("test"), Name: "doubles"}, rec.fetch)
	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := l.Load(ctx, i)()
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.NoError(t, l.LoadMany(ctx, []int{100, 101, 102}))
	_, err := l.Load(context.Background(), 200)() // no request span: no batch span
	require.NoError(t, err)
	request.End()

	var sizes []int64
	for _, s := range spans.GetSpans() {
		if s.Name == "request" {
			continue
		}
		require.Equal(t, "loader doubles", s.Name)
		require.Equal(t, request.SpanContext().SpanID(), s.Parent.SpanID())
		for _, a := range s.Attributes {
			if a.Key == "loader.batch.size" {
				sizes = append(sizes, a.Value.AsInt64())
			}
		}
	}
	require.Equal(t, []int64{20, 3}, sizes, "one span per batch, with its size")
	require.Len(t, rec.batches, 3)
}
