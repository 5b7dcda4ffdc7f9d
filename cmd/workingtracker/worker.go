package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"

	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/metrics"
	"github.com/workingtracker/api/internal/telemetry"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// newJobs builds the job queue's client over s with every worker and periodic job of the
// service: the one place `serve` and `worker` get them from.
func newJobs(e *env, s *store.Store, blobs jobs.Blobs, publisher events.Publisher, keyring jobs.PIIKeys, logger *slog.Logger,
	metrics *jobs.Metrics, workers int, tp trace.TracerProvider,
) (*jobs.Client, error) {
	deps := jobs.Deps{
		Partitions: jobs.PartitionMaintenance{Store: s, Logger: logger},
		Screenshots: jobs.ScreenshotPipeline{Store: s, Blobs: blobs, Publisher: publisher, Logger: logger,
			MaxBytes: e.cfg.Blobs.MaxUploadBytes, MaxPixels: e.cfg.Blobs.MaxUploadPixels},
		PII:     jobs.PIIReencryption{Store: s, Keys: keyring, Logger: logger},
		Reports: jobs.ReportRefresh{Store: s, Logger: logger, Every: e.cfg.ReportsRefreshInterval},
	}
	// The audit trail's months past AUDIT_RETENTION are exported to the bucket, then dropped.
	exports, _ := blobs.(jobs.AuditExports)
	deps.Audit = jobs.AuditRetention{Store: s, Exports: exports, Retention: e.cfg.Audit.Retention, Logger: logger}
	return jobs.New(s, jobs.NewWorkers(deps), jobs.Opts{
		Logger:          logger,
		Workers:         workers,
		PeriodicJobs:    jobs.PeriodicJobs(deps),
		ShutdownTimeout: e.cfg.WorkerShutdownTimeout,
		Metrics:         metrics,
		TracerProvider:  tp,
	})
}

// workerCmd works jobs and nothing else, for deployments that scale workers apart from the API
// (which then runs with WORKERS=0). It stops on SIGTERM or SIGINT: no new job is fetched,
// running ones get WORKER_SHUTDOWN_TIMEOUT to finish, then are cancelled and returned to the
// queue.
func workerCmd(ctx context.Context, e *env, logger *slog.Logger, stdout io.Writer, _ []string) error {
	if e.cfg.Workers == 0 {
		return errors.New("WORKERS=0: a worker process that works no jobs has nothing to do")
	}
	s, err := e.openStore(ctx, store.Opts{StatementTimeout: 30 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()
	// Personal data's keys (re-encryption): production refuses to start without PII_MASTER_KEY.
	keyring, err := e.openKeyring(s)
	if err != nil {
		return err
	}
	if e.cfg.Development() {
		if _, err := migrateUp(ctx, s); err != nil {
			return err
		}
	} else if err := checkServingRole(ctx, s); err != nil {
		return err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tracing, err := telemetry.New(ctx, e.cfg.Tracing)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(flushCtx); err != nil {
			logger.Warn("flush traces", "err", err)
		}
	}()
	bucket, err := e.openBlobs(ctx)
	if err != nil {
		return err
	}
	defer bucket.Close()
	// Status changes reach the subscribers of every API instance through Redis (of this process
	// only without it: a separate worker then needs REDIS_URL for subscriptions to hear of it).
	rdb, err := e.openRedis(metrics.NewRedis(registry), tracing.Provider)
	if err != nil {
		return err
	}
	// It publishes and never subscribes: no Redis subscription decoding every event for nobody.
	busOpts := events.BusOpts{Logger: logger, Observer: metrics.NewEvents(registry), PublishOnly: true}
	if rdb != nil {
		defer rdb.Close()
		busOpts.Redis = rdb
	}
	bus := events.NewBus(busOpts)
	defer bus.Close()
	client, err := newJobs(e, s, bucket, bus, keyring, logger, jobs.NewMetrics(registry), e.cfg.Workers, tracing.Provider)
	if err != nil {
		return err
	}
	closeMetrics, err := serveMetrics(e, registry, stdout)
	if err != nil {
		return err
	}
	defer closeMetrics()
	if err := client.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "working jobs (%d at once)\n", e.cfg.Workers)
	logger.Info("working jobs", "workers", e.cfg.Workers, "env", e.cfg.Env)
	<-ctx.Done()
	logger.Info("stopping workers", "timeout", e.cfg.WorkerShutdownTimeout)
	return client.Shutdown(context.Background())
}
