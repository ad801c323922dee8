package handlers

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/web"
)

// newRouter maps the whole API surface. Keep it in step with openapi.yaml.
func newRouter(cfg Config, deps Deps, m *metrics) *chi.Mux {
	r := chi.NewRouter()
	r.Method(http.MethodGet, "/healthz", handleHealthz(deps.Logger))
	r.Method(http.MethodGet, "/readyz", handleReadyz(deps.Logger, deps.Ready))
	r.Method(http.MethodGet, "/metrics", handleMetrics(deps.Registry))
	r.Method(http.MethodGet, "/demo", http.RedirectHandler("/demo/", http.StatusMovedPermanently))
	r.Method(http.MethodGet, "/demo/*", http.StripPrefix("/demo", web.Handler()))

	if deps.Rendezvous != nil {
		addRendezvousRoutes(r, cfg, deps, m)
	}
	if deps.Tokens != nil {
		addTokenRoutes(r, cfg, deps, m)
	}

	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, deps.Logger, errUnrecognized)
	})
	r.MethodNotAllowed(handleMethodNotAllowed(r, deps))
	return r
}

// addRendezvousRoutes mounts every configured rendezvous flavour. The
// long-poll caps are shared by every mount.
func addRendezvousRoutes(r chi.Router, cfg Config, deps Deps, m *metrics) {
	polls := ratelimit.NewConcurrency(cfg.LongPollsPerClient, cfg.LongPollsTotal)
	for _, mt := range cfg.Mounts {
		rz := rendezvousHandlers{cfg: cfg, mount: mt, logger: deps.Logger, rdv: deps.Rendezvous,
			limit: newLimits(cfg, deps, m), draining: deps.Draining, polls: polls}
		base, item := mt.Path, mt.Path+"/{id}"
		if base == "/" {
			item = "/{id}"
		}
		if mt.Flavour == api.FlavourMSC4388 {
			r.Method(http.MethodGet, base, rz.discover())
			r.Method(http.MethodPost, base, rz.limit.creates(rz.createJSON()))
			r.Method(http.MethodGet, item, rz.getJSON())
			r.Method(http.MethodPut, item, rz.limit.writes(rz.putJSON()))
			r.Method(http.MethodDelete, item, rz.limit.writes(rz.deleteJSON()))
			continue
		}
		r.Method(http.MethodPost, base, rz.limit.creates(rz.create()))
		r.Method(http.MethodGet, item, rz.get())
		r.Method(http.MethodPut, item, rz.limit.writes(rz.put()))
		r.Method(http.MethodDelete, item, rz.limit.writes(rz.delete()))
	}
}

// addTokenRoutes serves the push token API.
func addTokenRoutes(r chi.Router, cfg Config, deps Deps, m *metrics) {
	tk := tokenHandlers{logger: deps.Logger, tokens: deps.Tokens, limit: newLimits(cfg, deps, m),
		register: cfg.TokenRegisterRate, verify: cfg.TokenVerifyRate, update: cfg.TokenUpdateRate, perToken: cfg.TokenPerTokenRate}
	r.Method(http.MethodPost, "/v1/tokens", tk.create())
	r.Method(http.MethodGet, "/v1/tokens/{id}", tk.get())
	r.Method(http.MethodPut, "/v1/tokens/{id}", tk.replace())
	r.Method(http.MethodDelete, "/v1/tokens/{id}", tk.delete())
	r.Method(http.MethodPost, "/v1/tokens/{id}/verify", tk.verifyCode())
	r.Method(http.MethodPut, "/v1/tokens/{id}/checks", tk.checks())
}

// probeMethods are the methods a 405's Allow header may list.
var probeMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete}

// handleMethodNotAllowed answers 405 with the Allow header RFC 9110 asks for;
// chi's own 405 handler is replaced, so the allowed methods are found by
// matching the path against the router again.
func handleMethodNotAllowed(r *chi.Mux, deps Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		allowed := []string{http.MethodOptions}
		for _, m := range probeMethods {
			if r.Match(chi.NewRouteContext(), m, req.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		slices.Sort(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, req, deps.Logger, &statusError{http.StatusMethodNotAllowed, api.CodeUnrecognized, "method not allowed"})
	}
}
