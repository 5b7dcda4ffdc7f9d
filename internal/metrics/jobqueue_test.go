package metrics_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/metrics"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// TestJobQueueDepth: the queue collector reports jobs waiting by kind and state, and how long
// the oldest ready one has waited.
func TestJobQueueDepth(t *testing.T) {
	t.Parallel()
	s := testdb.Open(t, store.Opts{})
	ctx := context.Background()
	_, err := s.Pool().Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, priority, scheduled_at)
		VALUES ('{}', 'screenshot', 3, 'default', 'available', 1, now() - interval '90 seconds'),
		       ('{}', 'screenshot', 3, 'default', 'available', 1, now() - interval '10 seconds'),
		       ('{}', 'screenshot', 3, 'default', 'retryable', 1, now() + interval '1 minute'),
		       ('{}', 'screenshot', 3, 'default', 'available', 1, now() - interval '1 hour')`)
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE scheduled_at < now() - interval '30 minutes'`)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	metrics.NewJobQueue(reg, s, slog.New(slog.DiscardHandler))
	families, err := reg.Gather()
	require.NoError(t, err)
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			values[key] = m.GetGauge().GetValue()
		}
	}
	require.Equal(t, 2.0, values["workingtracker_job_queue_jobs,kind=screenshot,state=available"])
	require.Equal(t, 1.0, values["workingtracker_job_queue_jobs,kind=screenshot,state=retryable"])
	require.Equal(t, 0.0, values["workingtracker_job_queue_jobs,kind=screenshot,state=running"])
	require.InDelta(t, 90, values["workingtracker_job_queue_oldest_available_seconds,kind=screenshot"], 30)
	require.Equal(t, 4, testutil.CollectAndCount(metrics.NewJobQueue(prometheus.NewRegistry(), s, slog.New(slog.DiscardHandler))),
		"finished jobs are not counted")
}
