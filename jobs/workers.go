package jobs

import "github.com/riverqueue/river"

// Deps are what the service's workers need.
type Deps struct {
	Partitions PartitionMaintenance
}

// NewWorkers registers every worker of the service: the one place a job kind is wired to its
// worker. A kind without a worker here fails to insert (river checks), so nothing is queued
// that no process can work.
func NewWorkers(d Deps) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &partitionWorker{m: d.Partitions})
	return w
}

// Kinds are the kinds of the jobs NewWorkers registers (the queue metrics' kind label): a new
// worker's kind is added here beside its AddWorker line.
func Kinds() []string {
	return []string{PartitionArgs{}.Kind()}
}

// PeriodicJobs are the service's periodic jobs, inserted by the elected leader.
func PeriodicJobs(d Deps) []*river.PeriodicJob {
	return []*river.PeriodicJob{d.Partitions.periodicJob()}
}
