package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/workingtracker/api/store"
)

// JobQueueReader reads the job queue's depth (the store).
type JobQueueReader interface {
	JobQueue(ctx context.Context) ([]store.JobQueueDepth, error)
}

// JobQueue exports the queue's depth, read at each scrape: jobs waiting by kind and state
// (available, retryable, running) and how long the oldest available job has waited, the
// backlog's latency. The kind label is bounded by the job kinds the code registers.
type JobQueue struct {
	reader JobQueueReader
	kinds  []string
	logger *slog.Logger
	jobs   *prometheus.Desc
	oldest *prometheus.Desc
}

// NewJobQueue registers the queue collector with reg. kinds are the job kinds the process
// registers: each is exported, at zero when none waits, so a dashboard or alert reading them
// never finds the series missing.
func NewJobQueue(reg prometheus.Registerer, reader JobQueueReader, logger *slog.Logger, kinds ...string) *JobQueue {
	q := &JobQueue{reader: reader, logger: logger, kinds: kinds,
		jobs: prometheus.NewDesc("workingtracker_job_queue_jobs",
			"Jobs in the queue by kind and state (available: ready to run; retryable: waiting to retry; running).",
			[]string{"kind", "state"}, nil),
		oldest: prometheus.NewDesc("workingtracker_job_queue_oldest_available_seconds",
			"How long the oldest job ready to run has waited, by kind (0: none waits).", []string{"kind"}, nil),
	}
	reg.MustRegister(q)
	return q
}

// Describe implements prometheus.Collector.
func (q *JobQueue) Describe(ch chan<- *prometheus.Desc) { ch <- q.jobs; ch <- q.oldest }

// Collect implements prometheus.Collector. A queue that cannot be read within two seconds is
// left out of the scrape (and logged), rather than holding the scrape up.
func (q *JobQueue) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	depths, err := q.reader.JobQueue(ctx)
	if err != nil {
		q.logger.Warn("read the job queue for metrics", "err", err)
		return
	}
	seen := map[string]bool{}
	for _, d := range depths {
		seen[d.Kind] = true
	}
	for _, kind := range q.kinds {
		if !seen[kind] {
			depths = append(depths, store.JobQueueDepth{Kind: kind})
		}
	}
	for _, d := range depths {
		for state, n := range map[string]int64{"available": d.Available, "retryable": d.Retryable, "running": d.Running} {
			ch <- prometheus.MustNewConstMetric(q.jobs, prometheus.GaugeValue, float64(n), d.Kind, state)
		}
		ch <- prometheus.MustNewConstMetric(q.oldest, prometheus.GaugeValue, d.OldestAvailableSeconds, d.Kind)
	}
}
