package handlers

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/push"
)

// Push metric names, exported by PushCollector.
const (
	MetricPushSent        = "tryst_push_sent_total"            // {provider, app}
	MetricPushFailed      = "tryst_push_failed_total"          // {provider, app, reason}
	MetricPushRetries     = "tryst_push_retries_total"         // {provider, app}
	MetricPushRejected    = "tryst_push_rejected_total"        // {provider, app, reason}: Enqueue refusals
	MetricPushQueueDepth  = "tryst_push_queue_depth"           // {provider, app}: accepted, unfinished
	MetricPushLatency     = "tryst_push_send_duration_seconds" // {provider}: one provider call
	MetricPushCircuitOpen = "tryst_push_circuit_open"          // {provider, app}: 1 while open
)

// PushStats is where push figures come from; *push.Dispatcher is one.
type PushStats interface {
	Stats() push.Stats
}

// PushCollector exports src's Stats as Prometheus metrics at scrape time.
func PushCollector(src PushStats) prometheus.Collector { return pushCollector{src} }

type pushCollector struct{ src PushStats }

var (
	routeLabels      = []string{"provider", "app"}
	descPushSent     = prometheus.NewDesc(MetricPushSent, "Notifications accepted by the push provider.", routeLabels, nil)
	descPushFailed   = prometheus.NewDesc(MetricPushFailed, "Notifications that finished without delivery, by reason.", []string{"provider", "app", "reason"}, nil)
	descPushRetries  = prometheus.NewDesc(MetricPushRetries, "Retries scheduled after transient push failures.", routeLabels, nil)
	descPushRejected = prometheus.NewDesc(MetricPushRejected, "Notifications refused by Enqueue, by reason.", []string{"provider", "app", "reason"}, nil)
	descPushDepth    = prometheus.NewDesc(MetricPushQueueDepth, "Notifications accepted and not yet finished (queued, in flight or waiting to retry).", routeLabels, nil)
	descPushCircuit  = prometheus.NewDesc(MetricPushCircuitOpen, "1 while the route's circuit breaker is open after credential failures.", routeLabels, nil)
	descPushLatency  = prometheus.NewDesc(MetricPushLatency, "Duration of one call to the push provider.", []string{"provider"}, nil)
)

func (pushCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPushSent, descPushFailed, descPushRetries, descPushRejected, descPushDepth, descPushCircuit, descPushLatency} {
		ch <- d
	}
}

func (c pushCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	for _, r := range mergeByLabels(s.Routes) {
		collectPushRoute(ch, r)
	}
	bounds := push.LatencyBounds()
	for _, l := range s.Latency {
		buckets := make(map[float64]uint64, len(bounds))
		for i, b := range bounds {
			buckets[b.Seconds()] = l.Buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(descPushLatency, l.Count, l.Sum.Seconds(), buckets, l.Provider)
	}
}

// mergeByLabels sums the routes that share a provider and an app label
// (the log sender serves both platforms' wildcards as provider "log").
func mergeByLabels(routes []push.RouteStats) []push.RouteStats {
	var out []push.RouteStats
	at := map[[2]string]int{}
	for _, r := range routes {
		key := [2]string{r.Provider, appLabel(r.Route)}
		i, ok := at[key]
		if !ok {
			at[key] = len(out)
			out = append(out, r)
			continue
		}
		m := &out[i]
		m.Sent, m.Retries, m.Pending = m.Sent+r.Sent, m.Retries+r.Retries, m.Pending+r.Pending
		m.CircuitOpen = m.CircuitOpen || r.CircuitOpen
		m.Failed, m.Rejected = sumMaps(m.Failed, r.Failed), sumMaps(m.Rejected, r.Rejected)
	}
	return out
}

func sumMaps[K comparable](a, b map[K]uint64) map[K]uint64 {
	out := make(map[K]uint64, len(a)+len(b))
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

func appLabel(r push.Route) string {
	if r.App == "" {
		return "*"
	}
	return r.App
}

func collectPushRoute(ch chan<- prometheus.Metric, r push.RouteStats) {
	app := appLabel(r.Route)
	counter := func(d *prometheus.Desc, v uint64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{r.Provider, app}, extra...)...)
	}
	counter(descPushSent, r.Sent)
	counter(descPushRetries, r.Retries)
	for reason, n := range r.Failed {
		counter(descPushFailed, n, string(reason))
	}
	for reason, n := range r.Rejected {
		counter(descPushRejected, n, reason)
	}
	circuit := 0.0
	if r.CircuitOpen {
		circuit = 1
	}
	ch <- prometheus.MustNewConstMetric(descPushDepth, prometheus.GaugeValue, float64(r.Pending), r.Provider, app)
	ch <- prometheus.MustNewConstMetric(descPushCircuit, prometheus.GaugeValue, circuit, r.Provider, app)
}
