package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// TestJobSpansLinkToTheEnqueuingRequest: a job enqueued in a traced request carries the
// request's trace context, and its attempt's span links back to the span that enqueued it.
func TestJobSpansLinkToTheEnqueuingRequest(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	s := testdb.Open(t, store.Opts{})
	b := setup(t, s, jobs.Opts{Workers: 1, TracerProvider: tp})
	ctx, request := tp.Tracer("test").Start(context.Background(), "POST /query")
	var id int64
	require.NoError(t, s.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := b.client.EnqueueTx(ctx, tx, noopArgs{Note: "traced"})
		if err == nil {
			id = res.Job.ID
		}
		return err
	}))
	request.End()
	waitForState(t, b.client, id, rivertype.JobStateCompleted)

	require.Eventually(t, func() bool {
		for _, span := range spans.Ended() {
			if span.Name() != "river.work/test_noop" {
				continue
			}
			for _, link := range span.Links() {
				if link.SpanContext.TraceID() == request.SpanContext().TraceID() {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the attempt's span links to the enqueuing request")
}
