package metrics

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Statements is a pgx QueryTracer timing every statement, labelled by its command (the SQL's
// first keyword, from a fixed set) and never by its text. Compose it with other tracers through
// pgx's multitracer (store.Opts.Tracer takes one).
type Statements struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

var _ pgx.QueryTracer = (*Statements)(nil)

// NewStatements registers the statement metrics with reg.
func NewStatements(reg prometheus.Registerer) *Statements {
	s := &Statements{
		duration: prometheus.NewHistogramVec(nativeHistogram(prometheus.HistogramOpts{
			Name:    "workingtracker_db_statement_duration_seconds",
			Help:    "PostgreSQL statement latency by command (select, insert, update, delete, with, begin, commit, rollback, set, other).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}), []string{"command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workingtracker_db_statement_errors_total",
			Help: "PostgreSQL statements that failed (timeouts, cancellations, constraint violations, lost connections) by command.",
		}, []string{"command"}),
	}
	reg.MustRegister(s.duration, s.errors)
	return s
}

type statementKey struct{}

type statementTrace struct {
	start   time.Time
	command string
}

// TraceQueryStart implements pgx.QueryTracer.
func (s *Statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, statementKey{}, statementTrace{start: time.Now(), command: sqlCommand(data.SQL)})
}

// TraceQueryEnd implements pgx.QueryTracer.
func (s *Statements) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	t, ok := ctx.Value(statementKey{}).(statementTrace)
	if !ok {
		return
	}
	s.duration.WithLabelValues(t.command).Observe(time.Since(t.start).Seconds())
	if data.Err != nil {
		s.errors.WithLabelValues(t.command).Inc()
	}
}

// sqlCommand is the statement's first keyword when it is one of a fixed set, else "other".
func sqlCommand(sql string) string {
	i := 0
	for i < len(sql) && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r' || sql[i] == '(') {
		i++
	}
	j := i
	for j < len(sql) && j-i < 9 && (sql[j]|0x20 >= 'a' && sql[j]|0x20 <= 'z') {
		j++
	}
	var word [9]byte
	n := copy(word[:], sql[i:j])
	for k := range n {
		word[k] |= 0x20 // ASCII lower case
	}
	switch w := string(word[:n]); w {
	case "select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "set":
		return w
	}
	return "other"
}

// PoolCollector exports a pgx pool's statistics, read at each scrape.
type PoolCollector struct {
	stat func() *pgxpool.Stat

	acquired, idle, constructing, total, max     *prometheus.Desc
	acquires, acquireSeconds, emptyAcquires      *prometheus.Desc
	emptyWaitSeconds, canceledAcquires, newConns *prometheus.Desc
}

// NewPoolCollector collects stat (pgxpool.Pool.Stat); register it with the registry.
func NewPoolCollector(stat func() *pgxpool.Stat) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("workingtracker_db_pool_"+name, help, nil, nil)
	}
	return &PoolCollector{
		stat:             stat,
		acquired:         d("acquired_connections", "Connections in use by the application."),
		idle:             d("idle_connections", "Connections idle in the pool."),
		constructing:     d("constructing_connections", "Connections being opened."),
		total:            d("connections", "Connections open (acquired, idle and being opened)."),
		max:              d("max_connections", "The most connections the pool opens (DB_MAX_CONNS)."),
		acquires:         d("acquires_total", "Connections acquired from the pool."),
		acquireSeconds:   d("acquire_duration_seconds_total", "Time spent acquiring connections."),
		emptyAcquires:    d("empty_acquires_total", "Acquires that had to wait for a connection: none was idle (saturation)."),
		emptyWaitSeconds: d("empty_acquire_wait_seconds_total", "Time acquires spent waiting because no connection was idle."),
		canceledAcquires: d("canceled_acquires_total", "Acquires given up because their context ended (a request gave up waiting for a connection)."),
		newConns:         d("new_connections_total", "Connections opened."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.constructing, c.total, c.max, c.acquires, c.acquireSeconds,
		c.emptyAcquires, c.emptyWaitSeconds, c.canceledAcquires, c.newConns} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.emptyWaitSeconds, s.EmptyAcquireWaitTime().Seconds())
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.newConns, float64(s.NewConnsCount()))
}
