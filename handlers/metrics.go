package handlers

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trystgw/tryst/rendezvous"
)

// metrics are the HTTP layer's Prometheus metrics, registered on the
// registry passed to New.
type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tryst_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tryst_http_request_duration_seconds", Help: "HTTP request latency by route (long-polls included).",
			Buckets: []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
		}, []string{"route"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tryst_rate_limited_total", Help: "Requests refused by the per-client rate limiter, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.requests, m.duration, m.rateLimited)
	return m
}

// observeRequest counts one request. Every label value comes from a
// closed set, so the number of series is bounded by construction:
//
//	route:  the router's patterns, plus "preflight" and "unmatched"
//	method: the nine methods of RFC 9110 and RFC 5789, plus "OTHER"
//	status: 100 to 599, plus "other"
//
// at most (routes+2) × 10 × 501 series of tryst_http_requests_total, and
// routes+2 of the duration histogram, whatever clients send.
func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, methodLabel(method), statusLabel(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// knownMethods are the methods that get a label of their own.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodDelete: true, http.MethodOptions: true, http.MethodPatch: true,
	http.MethodConnect: true, http.MethodTrace: true,
}

// methodLabel is method when it is a standard one, else "OTHER": a
// method is any token a client cares to send.
func methodLabel(method string) string {
	if knownMethods[method] {
		return method
	}
	return "OTHER"
}

// statusLabel is the status code, or "other" outside 100..599.
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// RendezvousCollector exports rdv's Stats as Prometheus metrics at scrape
// time.
func RendezvousCollector(rdv *rendezvous.Service) prometheus.Collector {
	return rendezvousCollector{rdv}
}

type rendezvousCollector struct{ rdv *rendezvous.Service }

var (
	descLive      = prometheus.NewDesc("tryst_rendezvous_sessions_live", "Live rendezvous sessions in the store.", nil, nil)
	descCreated   = prometheus.NewDesc("tryst_rendezvous_sessions_created_total", "Rendezvous sessions created.", nil, nil)
	descExpired   = prometheus.NewDesc("tryst_rendezvous_sessions_expired_total", "Expired rendezvous sessions reclaimed.", nil, nil)
	descEvicted   = prometheus.NewDesc("tryst_rendezvous_sessions_evicted_total", "Rendezvous sessions evicted to make room.", nil, nil)
	descConflicts = prometheus.NewDesc("tryst_rendezvous_write_conflicts_total", "Conditional writes refused for a stale version.", nil, nil)
	descWaiting   = prometheus.NewDesc("tryst_rendezvous_longpolls_waiting", "Long-poll requests waiting now.", nil, nil)
)

// scrapeTimeout bounds the store round trip a scrape may cause.
const scrapeTimeout = 2 * time.Second

func (c rendezvousCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLive, descCreated, descExpired, descEvicted, descConflicts, descWaiting} {
		ch <- d
	}
}

func (c rendezvousCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s := c.rdv.Stats(ctx)
	if s.Live >= 0 {
		ch <- prometheus.MustNewConstMetric(descLive, prometheus.GaugeValue, float64(s.Live))
	}
	ch <- prometheus.MustNewConstMetric(descCreated, prometheus.CounterValue, float64(s.Created))
	ch <- prometheus.MustNewConstMetric(descExpired, prometheus.CounterValue, float64(s.Expired))
	ch <- prometheus.MustNewConstMetric(descEvicted, prometheus.CounterValue, float64(s.Evicted))
	ch <- prometheus.MustNewConstMetric(descConflicts, prometheus.CounterValue, float64(s.Conflicts))
	ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(s.Waiting))
}

// MetricsHandler serves the metrics of gatherer in the Prometheus text
// format, for /metrics here or on a listener of its own.
func MetricsHandler(gatherer prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
}
