package handlers

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/ds"
)

// DeliveryCollector exports the Delivery Service's Stats as Prometheus
// metrics at scrape time.
func DeliveryCollector(svc *ds.Service) prometheus.Collector { return deliveryCollector{svc} }

type deliveryCollector struct{ ds *ds.Service }

var (
	descDSRequests  = prometheus.NewDesc("tryst_ds_requests_total", "DS requests processed, by request type and response code.", []string{"type", "code"}, nil)
	descDSRefused   = prometheus.NewDesc("tryst_ds_unprocessed_total", "DSMessages not processed, by reason.", []string{"reason"}, nil)
	descDSConflicts = prometheus.NewDesc("tryst_ds_conflicts_total", "Group changes lost to another instance and retried.", nil, nil)
	descDSRestores  = prometheus.NewDesc("tryst_ds_group_restores_total", "Groups rebuilt from the store (not cached, or changed by another instance).", nil, nil)
	descDSRemovals  = prometheus.NewDesc("tryst_ds_removals_total", "Members whose queue is gone, by what the DS did: proposed their removal as external sender, or could not (the group does not list the DS).", []string{"outcome"}, nil)
)

func (c deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDSRequests, descDSRefused, descDSConflicts, descDSRestores, descDSRemovals} {
		ch <- d
	}
}

func (c deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.ds.Stats()
	for t, byCode := range s.Requests {
		for code, n := range byCode {
			ch <- prometheus.MustNewConstMetric(descDSRequests, prometheus.CounterValue, float64(n), t.String(), code.String())
		}
	}
	ch <- prometheus.MustNewConstMetric(descDSRefused, prometheus.CounterValue, float64(s.Malformed), "malformed")
	ch <- prometheus.MustNewConstMetric(descDSRefused, prometheus.CounterValue, float64(s.Rejected), "unauthenticated")
	ch <- prometheus.MustNewConstMetric(descDSConflicts, prometheus.CounterValue, float64(s.Conflicts))
	ch <- prometheus.MustNewConstMetric(descDSRestores, prometheus.CounterValue, float64(s.Restores))
	ch <- prometheus.MustNewConstMetric(descDSRemovals, prometheus.CounterValue, float64(s.Removals), "proposed")
	ch <- prometheus.MustNewConstMetric(descDSRemovals, prometheus.CounterValue, float64(s.Unremovable), "unremovable")
}
