package handlers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/ntf"
)

// Notification server metric names, exported by SubscriptionCollector.
const (
	MetricSubscriptionQueues = "tryst_ntf_queues"                        // {status}: stored queues
	MetricSMPConnectionUp    = "tryst_ntf_smp_connection_up"             // {server}: 1 while connected
	MetricSMPDialFailures    = "tryst_ntf_smp_dial_failures_total"       // failed connection attempts
	MetricNSUB               = "tryst_ntf_nsub_total"                    // {result}: sent, confirmed, failed
	MetricNMSGReceived       = "tryst_ntf_nmsg_received_total"           // NMSG events received
	MetricNMSGStored         = "tryst_ntf_nmsg_stored_total"             // NMSG written to the outbox
	MetricOutboxDepth        = "tryst_ntf_outbox_depth"                  // notifications not yet delivered
	MetricOutboxOldest       = "tryst_ntf_outbox_oldest_age_seconds"     // age of the oldest of them
	MetricMessagePushes      = "tryst_ntf_message_pushes_total"          // {result}: queued, failed
	MetricNMSGToPush         = "tryst_ntf_nmsg_to_push_duration_seconds" // NMSG arrival to provider acceptance
	metricStatsTimeout       = 2 * time.Second                           // bounds the store queries of one scrape
)

// SubscriptionStats is where the notification server's figures come
// from.
type SubscriptionStats interface {
	Stats(ctx context.Context) (ntf.SubscriptionStats, error)
}

// SubscriptionCollector exports src's figures as Prometheus metrics at
// scrape time.
func SubscriptionCollector(src SubscriptionStats) prometheus.Collector {
	return subscriptionCollector{src}
}

type subscriptionCollector struct{ src SubscriptionStats }

var (
	descQueues       = prometheus.NewDesc(MetricSubscriptionQueues, "Stored SMP notifier queues by status.", []string{"status"}, nil)
	descSMPUp        = prometheus.NewDesc(MetricSMPConnectionUp, "1 while the SMP server's connection is up, 0 while it is being retried.", []string{"server"}, nil)
	descSMPDialFails = prometheus.NewDesc(MetricSMPDialFailures, "Failed attempts to connect to SMP servers.", nil, nil)
	descNSUB         = prometheus.NewDesc(MetricNSUB, "NSUB commands: sent, confirmed, failed.", []string{"result"}, nil)
	descNMSGReceived = prometheus.NewDesc(MetricNMSGReceived, "NMSG events received from SMP servers.", nil, nil)
	descNMSGStored   = prometheus.NewDesc(MetricNMSGStored, "NMSG events written to the outbox.", nil, nil)
	descOutboxDepth  = prometheus.NewDesc(MetricOutboxDepth, "Notifications in the outbox not yet delivered.", nil, nil)
	descOutboxOldest = prometheus.NewDesc(MetricOutboxOldest, "Age of the oldest notification not yet delivered (0 when none).", nil, nil)
	descMsgPushes    = prometheus.NewDesc(MetricMessagePushes, "Message pushes: queued, and failed (not accepted by the provider).", []string{"result"}, nil)
	descNMSGToPush   = prometheus.NewDesc(MetricNMSGToPush, "From an NMSG's arrival to the provider's acceptance of the push carrying it.", nil, nil)
)

func (subscriptionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueues, descSMPUp, descSMPDialFails, descNSUB, descNMSGReceived,
		descNMSGStored, descOutboxDepth, descOutboxOldest, descMsgPushes, descNMSGToPush} {
		ch <- d
	}
}

func (c subscriptionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), metricStatsTimeout)
	defer cancel()
	s, err := c.src.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descOutboxDepth, err)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for st, n := range s.Queues {
		gauge(descQueues, float64(n), string(st))
	}
	for server, ss := range s.Supervisor.PerServer {
		gauge(descSMPUp, boolFloat(ss.Up), server)
	}
	sup := s.Supervisor
	counter(descSMPDialFails, sup.DialFailures)
	counter(descNSUB, sup.NSUBSent, "sent")
	counter(descNSUB, sup.NSUBConfirmed, "confirmed")
	counter(descNSUB, sup.NSUBFailed, "failed")
	counter(descNMSGReceived, sup.NMSGReceived)
	counter(descNMSGStored, sup.NMSGStored)
	collectOutbox(ch, s.Outbox, gauge, counter)
}

func collectOutbox(ch chan<- prometheus.Metric, o ntf.OutboxStats, gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, int64, ...string)) {
	gauge(descOutboxDepth, float64(o.Depth))
	age := 0.0
	if !o.Oldest.IsZero() {
		age = max(time.Since(o.Oldest).Seconds(), 0)
	}
	gauge(descOutboxOldest, age)
	counter(descMsgPushes, o.Pushes, "queued")
	counter(descMsgPushes, o.PushFailures, "failed")
	buckets := make(map[float64]uint64, len(ntf.LatencyBounds))
	var total, cum uint64
	for i, b := range ntf.LatencyBounds {
		cum += uint64(o.Latency.Counts[i])
		buckets[b.Seconds()] = cum
	}
	total = cum + uint64(o.Latency.Counts[len(ntf.LatencyBounds)])
	ch <- prometheus.MustNewConstHistogram(descNMSGToPush, total, o.Latency.Sum.Seconds(), buckets)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
