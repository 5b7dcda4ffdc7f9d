package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/workingtracker/api/internal/events"
)

// Events counts what the screenshot event bus does (events.Observer): subscriptions open,
// events published, delivered and dropped, and the health of its Redis subscription.
type Events struct {
	active    prometheus.Gauge
	published *prometheus.CounterVec
	delivered prometheus.Counter
	dropped   prometheus.Counter
	errors    prometheus.Counter
	connected prometheus.Gauge
}

var _ events.Observer = (*Events)(nil)

// NewEvents registers the event bus metrics with reg.
func NewEvents(reg prometheus.Registerer) *Events {
	e := &Events{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "workingtracker_subscriptions_active",
			Help: "GraphQL subscriptions listening to screenshot events now (websockets and SSE).",
		}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workingtracker_events_published_total",
			Help: "Screenshot events published, by result (ok, error: Redis did not take it; the event still reached this instance's subscribers).",
		}, []string{"result"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_events_delivered_total",
			Help: "Screenshot events handed to a subscription (one per subscription reached).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_events_dropped_total",
			Help: "Screenshot events dropped for a subscription whose buffer was full (a slow client).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workingtracker_events_pubsub_errors_total",
			Help: "Failures of the Redis subscription that carries screenshot events between instances (lost connection, Redis down); it reconnects.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "workingtracker_events_pubsub_connected",
			Help: "1 while the Redis subscription of screenshot events is up, 0 while it is down or without REDIS_URL.",
		}),
	}
	e.published.WithLabelValues("ok")
	e.published.WithLabelValues("error")
	reg.MustRegister(e.active, e.published, e.delivered, e.dropped, e.errors, e.connected)
	return e
}

// Published implements events.Observer.
func (e *Events) Published(err error) {
	if err != nil {
		e.published.WithLabelValues("error").Inc()
		return
	}
	e.published.WithLabelValues("ok").Inc()
}

// Delivered implements events.Observer.
func (e *Events) Delivered(n int) { e.delivered.Add(float64(n)) }

// Dropped implements events.Observer.
func (e *Events) Dropped(n int) { e.dropped.Add(float64(n)) }

// SubscriptionsChanged implements events.Observer.
func (e *Events) SubscriptionsChanged(delta int) { e.active.Add(float64(delta)) }

// PubSubFailed implements events.Observer.
func (e *Events) PubSubFailed(error) { e.errors.Inc() }

// PubSubConnected implements events.Observer.
func (e *Events) PubSubConnected(up bool) {
	if up {
		e.connected.Set(1)
		return
	}
	e.connected.Set(0)
}
