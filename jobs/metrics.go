package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Metrics count the jobs worked in this process (a river worker middleware): Opts.Metrics.
type Metrics struct {
	river.MiddlewareDefaults
	worked   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the job metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		worked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workingtracker_jobs_worked_total",
			Help: "Job attempts worked in this process, by kind and outcome (completed, failed, cancelled, snoozed).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "workingtracker_job_duration_seconds",
			Help:    "How long job attempts ran, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 9), // 5 ms … 5.5 min
		}, []string{"kind"}),
	}
	reg.MustRegister(m.worked, m.duration)
	return m
}

// Work observes one attempt.
func (m *Metrics) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	start := time.Now()
	err := doInner(ctx)
	m.duration.WithLabelValues(job.Kind).Observe(time.Since(start).Seconds())
	outcome := "completed"
	var cancel *rivertype.JobCancelError
	var snooze *rivertype.JobSnoozeError
	switch {
	case errors.As(err, &cancel):
		outcome = "cancelled"
	case errors.As(err, &snooze):
		outcome = "snoozed"
	case err != nil:
		outcome = "failed"
	}
	m.worked.WithLabelValues(job.Kind, outcome).Inc()
	return err
}
