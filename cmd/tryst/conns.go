package main

import (
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/netlimit"
)

// limitConns applies the connection caps to ln and exports their state.
func limitConns(ln net.Listener, cfg netlimit.Config, reg prometheus.Registerer) net.Listener {
	l := netlimit.NewListener(ln, cfg)
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tryst_http_connections_open", Help: "Client connections open now."},
			func() float64 { return float64(l.Open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tryst_http_connections_shed_total", Help: "Client connections refused over the total or per-IP cap."},
			func() float64 { return float64(l.Shed()) }),
	)
	return l
}
