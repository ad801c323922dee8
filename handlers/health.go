package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/trystgw/tryst/api"
)

// readyTimeout bounds each readiness check, so a hung store makes /readyz
// answer "not ready" rather than hang the prober.
const readyTimeout = 2 * time.Second

// handleHealthz answers as long as the process serves HTTP.
func handleHealthz(logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, r, logger, http.StatusOK, api.Health{Status: "ok"})
	})
}

// handleReadyz answers 200 when every check passes, else 503 naming the
// failed ones.
func handleReadyz(logger *slog.Logger, checks []ReadyCheck) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		res := api.Health{Status: "ok", Checks: map[string]string{}}
		status := http.StatusOK
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				res.Status, res.Checks[c.Name], status = "unavailable", "unavailable", http.StatusServiceUnavailable
				logger.WarnContext(r.Context(), "not ready", "check", c.Name, "err", err)
				continue
			}
			res.Checks[c.Name] = "ok"
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, r, logger, status, res)
	})
}
