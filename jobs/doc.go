// Package jobs is the service's background work, on a PostgreSQL-backed queue
// (github.com/riverqueue/river): jobs live in river's tables beside the data they concern, so
// a job can be inserted in the same transaction as its row (Client.EnqueueTx, through the
// store's JobInserter) and is never lost to a crash between the two.
//
// Every worker and periodic job is registered in one place (NewWorkers, PeriodicJobs), and
// cmd/workingtracker builds the Client from the store's pool: `serve` runs the workers in
// process unless WORKERS=0, `worker` runs only them. Failed jobs are retried with backoff
// (river's policy: attempt⁴ seconds) up to their maximum attempts, then discarded with every
// attempt's error kept in river_job.errors. A stop lets running jobs finish within a deadline,
// then cancels them, and river makes a cancelled job available again; a worker that dies
// mid-job leaves it running until the leader's rescuer retries it (RescueStuckJobsAfter).
//
// Jobs that concern a tenant's rows carry its id (TenantArgs) and work through the store in
// TenantScope, so row-level security admits only that tenant, as it does for a request.
//
// Periodic jobs (partition upkeep) are inserted by the elected leader only, so however many
// processes run workers, each period's job is inserted once.
package jobs
