package jobs

import (
	"time"

	"github.com/riverqueue/river"
)

// Deps are what the service's workers need.
type Deps struct {
	Partitions PartitionMaintenance
	// Screenshots: processing, the cleanup of a deleted time entry's screenshots, the orphan
	// sweeper (periodic only when Blobs is set) and the reconciliation of interrupted
	// screenshots (periodic only when Store is set).
	Screenshots ScreenshotPipeline
	// PII re-encrypts a tenant's personal data after a key rotation (PIIReencryptArgs).
	PII PIIReencryption
	// Reports refreshes the report views (periodic only when its Store is set).
	Reports ReportRefresh
	// Audit drops the audit trail's months past retention (periodic only when Store is set).
	Audit AuditRetention
}

// NewWorkers registers every worker of the service: the one place a job kind is wired to its
// worker. A kind without a worker here fails to insert (river checks), so nothing is queued
// that no process can work.
func NewWorkers(d Deps) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &partitionWorker{m: d.Partitions})
	river.AddWorker(w, &screenshotWorker{p: d.Screenshots})
	river.AddWorker(w, &deleteScreenshotsWorker{p: d.Screenshots})
	river.AddWorker(w, &sweepWorker{p: d.Screenshots, now: time.Now})
	river.AddWorker(w, &reconcileWorker{p: d.Screenshots, now: time.Now})
	river.AddWorker(w, &piiReencryptWorker{r: d.PII})
	river.AddWorker(w, &reportRefreshWorker{r: d.Reports})
	river.AddWorker(w, &auditRetentionWorker{r: d.Audit})
	return w
}

// Kinds are the kinds of the jobs NewWorkers registers (the queue metrics' kind label): a new
// worker's kind is added here beside its AddWorker line.
func Kinds() []string {
	return []string{PartitionArgs{}.Kind(), ProcessScreenshotArgs{}.Kind(), DeleteScreenshotsArgs{}.Kind(),
		SweepScreenshotBlobsArgs{}.Kind(), ReconcileScreenshotsArgs{}.Kind(), PIIReencryptArgs{}.Kind(),
		RefreshReportsArgs{}.Kind(), AuditRetentionArgs{}.Kind()}
}

// PeriodicJobs are the service's periodic jobs, inserted by the elected leader.
func PeriodicJobs(d Deps) []*river.PeriodicJob {
	jobs := []*river.PeriodicJob{d.Partitions.periodicJob()}
	if d.Screenshots.Blobs != nil {
		jobs = append(jobs, d.Screenshots.periodicJob())
	}
	if d.Screenshots.Store != nil {
		jobs = append(jobs, d.Screenshots.reconcileJob())
	}
	if d.Reports.Store != nil {
		jobs = append(jobs, d.Reports.periodicJob())
	}
	if d.Audit.Store != nil {
		jobs = append(jobs, d.Audit.periodicJob())
	}
	return jobs
}
