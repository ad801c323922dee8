package handlers

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/ntf"
)

// Metric names of SMP-server ownership, per instance (only on a shared
// database, where instances divide the servers among them).
const (
	MetricServersOwned   = "tryst_ntf_servers_owned"         // SMP servers whose lease this instance holds
	MetricLiveInstances  = "tryst_ntf_live_instances"        // instances seen live at the last heartbeat
	MetricLeaseRenewals  = "tryst_ntf_lease_renewals_total"  // lease renewals
	MetricLeaseTakeovers = "tryst_ntf_lease_takeovers_total" // leases taken over after another instance's expired
	MetricLeaseChanges   = "tryst_ntf_lease_changes_total"   // {change}: acquired, released, lost
)

// OwnershipStats is what the ownership metrics read.
type OwnershipStats interface {
	Stats() ntf.OwnershipStats
}

// OwnershipCollector exports src's figures at scrape time.
func OwnershipCollector(src OwnershipStats) prometheus.Collector { return ownershipCollector{src} }

type ownershipCollector struct{ src OwnershipStats }

var (
	descServersOwned   = prometheus.NewDesc(MetricServersOwned, "SMP servers whose subscriptions this instance holds (their lease).", nil, nil)
	descLiveInstances  = prometheus.NewDesc(MetricLiveInstances, "Instances live at this instance's last heartbeat.", nil, nil)
	descLeaseRenewals  = prometheus.NewDesc(MetricLeaseRenewals, "SMP-server lease renewals.", nil, nil)
	descLeaseTakeovers = prometheus.NewDesc(MetricLeaseTakeovers, "SMP-server leases taken over after another instance let them expire.", nil, nil)
	descLeaseChanges   = prometheus.NewDesc(MetricLeaseChanges, "SMP-server leases acquired, released, and lost (dropped unrenewed).", []string{"change"}, nil)
)

func (ownershipCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descServersOwned, descLiveInstances, descLeaseRenewals, descLeaseTakeovers, descLeaseChanges} {
		ch <- d
	}
}

func (c ownershipCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descServersOwned, s.ServersOwned)
	gauge(descLiveInstances, s.LiveInstances)
	counter(descLeaseRenewals, s.Renewals)
	counter(descLeaseTakeovers, s.Takeovers)
	counter(descLeaseChanges, s.Acquired, "acquired")
	counter(descLeaseChanges, s.Released, "released")
	counter(descLeaseChanges, s.Lost, "lost")
}
