package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/handlers"
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

// metricsTimeout bounds each request to the metrics listener.
const metricsTimeout = 10 * time.Second

// serveMetrics serves /metrics on addr, a listener operators keep off the
// public network, until the returned stop is called. An empty addr
// serves nothing.
func serveMetrics(addr string, reg *prometheus.Registry, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", handlers.MetricsHandler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: metricsTimeout,
		WriteTimeout: metricsTimeout, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	logger.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
