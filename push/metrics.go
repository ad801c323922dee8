package push

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, all registered on the Registerer given to NewDispatcher.
const (
	MetricSent        = "tryst_push_sent_total"            // {provider, app}
	MetricFailed      = "tryst_push_failed_total"          // {provider, app, reason}
	MetricRetries     = "tryst_push_retries_total"         // {provider, app}
	MetricRejected    = "tryst_push_rejected_total"        // {provider, app, reason}: Enqueue refusals
	MetricQueueDepth  = "tryst_push_queue_depth"           // {provider, app}: accepted, unfinished
	MetricLatency     = "tryst_push_send_duration_seconds" // {provider}: one provider call
	MetricCircuitOpen = "tryst_push_circuit_open"          // {provider, app}: 1 while open
)

type metrics struct {
	sent, failed, retries, rejected *prometheus.CounterVec
	depth, circuit                  *prometheus.GaugeVec
	latency                         *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricSent, Help: "Notifications accepted by the push provider.",
		}, []string{"provider", "app"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricFailed, Help: "Notifications that finished without delivery, by reason.",
		}, []string{"provider", "app", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRetries, Help: "Retries scheduled after transient push failures.",
		}, []string{"provider", "app"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRejected, Help: "Notifications refused by Enqueue, by reason.",
		}, []string{"provider", "app", "reason"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricQueueDepth, Help: "Notifications accepted and not yet finished (queued, in flight or waiting to retry).",
		}, []string{"provider", "app"}),
		circuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricCircuitOpen, Help: "1 while the route's circuit breaker is open after credential failures.",
		}, []string{"provider", "app"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricLatency,
			Help:    "Duration of one call to the push provider.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sent, m.failed, m.retries, m.rejected, m.depth, m.circuit, m.latency} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// laneMetrics are the children of one route, resolved once.
type laneMetrics struct {
	provider, app string
	m             *metrics
	sent, retries prometheus.Counter
	depth         prometheus.Gauge
	circuit       prometheus.Gauge
	latency       prometheus.Observer
}

func (m *metrics) lane(provider, app string) laneMetrics {
	return laneMetrics{
		provider: provider, app: app, m: m,
		sent:    m.sent.WithLabelValues(provider, app),
		retries: m.retries.WithLabelValues(provider, app),
		depth:   m.depth.WithLabelValues(provider, app),
		circuit: m.circuit.WithLabelValues(provider, app),
		latency: m.latency.WithLabelValues(provider),
	}
}

func (l *laneMetrics) failed(r Reason) {
	l.m.failed.WithLabelValues(l.provider, l.app, string(r)).Inc()
}

func (l *laneMetrics) rejected(r string) {
	l.m.rejected.WithLabelValues(l.provider, l.app, r).Inc()
}
