package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/jobs"
)

// Loaders observes loader batch sizes (loaders.Opts.ObserveBatch).
type Loaders struct {
	batch *prometheus.HistogramVec
}

// NewLoaders registers the loader metrics with reg.
func NewLoaders(reg prometheus.Registerer) *Loaders {
	l := &Loaders{batch: prometheus.NewHistogramVec(nativeHistogram(prometheus.HistogramOpts{
		Name:    "workingtracker_loader_batch_size",
		Help:    "Keys per loader batch (one store call each) by loader: a growing count of batches of 1 means N+1 queries are back.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2500},
	}), []string{"loader"})}
	reg.MustRegister(l.batch)
	return l
}

// ObserveBatch records a batch of keys keys fetched by loader; it fits loaders.Opts.ObserveBatch.
func (l *Loaders) ObserveBatch(loader string, keys int) {
	l.batch.WithLabelValues(loader).Observe(float64(keys))
}

// Auth counts refused authentications by reason (auth.FailureCounter).
type Auth struct {
	failures *prometheus.CounterVec
}

var _ auth.FailureCounter = (*Auth)(nil)

// NewAuth registers the authentication metrics with reg; every reason is exported from the
// start, at 0.
func NewAuth(reg prometheus.Registerer) *Auth {
	a := &Auth{failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "workingtracker_auth_failures_total",
		Help: "Refused authentications by reason: missing, invalid, expired, inactive_account, blocked (refused unchecked: the address's failures are spent), error (could not be checked).",
	}, []string{"reason"})}
	for _, r := range auth.FailureReasons() {
		a.failures.WithLabelValues(string(r))
	}
	reg.MustRegister(a.failures)
	return a
}

// AuthFailed implements auth.FailureCounter.
func (a *Auth) AuthFailed(reason string) {
	a.failures.WithLabelValues(reason).Inc()
}

// Partitions records what partition maintenance did and found (jobs.PartitionObserver).
type Partitions struct {
	created prometheus.Counter
	ahead   *prometheus.GaugeVec
}

var _ jobs.PartitionObserver = (*Partitions)(nil)

// NewPartitions registers the partition metrics with reg.
func NewPartitions(reg prometheus.Registerer) *Partitions {
	p := &Partitions{
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_partitions_created_total",
			Help: "Monthly partitions created by partition maintenance.",
		}),
		ahead: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "workingtracker_partitions_ahead_months",
			Help: "Months past the current one that have partitions, without a gap, by partitioned table (-1: not even the current month), as of the last maintenance run.",
		}, []string{"table"}),
	}
	reg.MustRegister(p.created, p.ahead)
	return p
}

// PartitionsCreated implements jobs.PartitionObserver.
func (p *Partitions) PartitionsCreated(n int) { p.created.Add(float64(n)) }

// PartitionsAhead implements jobs.PartitionObserver.
func (p *Partitions) PartitionsAhead(table string, months int) {
	p.ahead.WithLabelValues(table).Set(float64(months))
}

// NewWebsockets registers a gauge of the open websockets, read from active at each scrape
// (httpapi.Sockets.Active).
func NewWebsockets(reg prometheus.Registerer, active func() int) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "workingtracker_websocket_connections",
		Help: "Websockets open now (GraphQL over graphql-transport-ws or graphql-ws).",
	}, func() float64 { return float64(active()) }))
}
