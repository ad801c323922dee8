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
	r.Use(headAsGet)
	r.Method(http.MethodGet, "/healthz", handleHealthz(deps.Logger))
	r.Method(http.MethodGet, "/readyz", handleReadyz(deps.Logger, deps.Ready))
	if !cfg.MetricsElsewhere {
		r.Method(http.MethodGet, "/metrics", MetricsHandler(deps.Registry))
	}
	r.Method(http.MethodGet, "/demo", http.RedirectHandler("/demo/", http.StatusMovedPermanently))
	r.Method(http.MethodGet, "/demo/*", http.StripPrefix("/demo", web.Handler()))

	// The long-poll caps are shared by every route that waits.
	polls := ratelimit.NewConcurrency(cfg.LongPollsPerClient, cfg.LongPollsTotal)
	if deps.Rendezvous != nil {
		addRendezvousRoutes(r, cfg, deps, m, polls)
	}
	if deps.Tokens != nil {
		addTokenRoutes(r, cfg, deps, m)
	}
	if deps.Subscriptions != nil {
		addSubscriptionRoutes(r, deps)
	}
	if deps.DS != nil {
		addDeliveryRoutes(r, cfg, deps, m, polls)
	}

	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, deps.Logger, errUnrecognized)
	})
	r.MethodNotAllowed(handleMethodNotAllowed(r, cfg, deps))
	return r
}

// addRendezvousRoutes mounts every configured rendezvous flavour. The
// long-poll caps are shared by every mount.
func addRendezvousRoutes(r chi.Router, cfg Config, deps Deps, m *metrics, polls *ratelimit.Concurrency) {
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
	tk := tokenHandlers{logger: deps.Logger, tokens: deps.Tokens, subs: deps.Subscriptions, limit: newLimits(cfg, deps, m),
		register: cfg.TokenRegisterRate, verify: cfg.TokenVerifyRate, update: cfg.TokenUpdateRate, perToken: cfg.TokenPerTokenRate}
	r.Method(http.MethodPost, "/v1/tokens", tk.create())
	r.Method(http.MethodGet, "/v1/tokens/{id}", tk.get())
	r.Method(http.MethodPut, "/v1/tokens/{id}", tk.replace())
	r.Method(http.MethodDelete, "/v1/tokens/{id}", tk.delete())
	r.Method(http.MethodPost, "/v1/tokens/{id}/verify", tk.verifyCode())
	r.Method(http.MethodPut, "/v1/tokens/{id}/checks", tk.checks())
}

// headAsGet routes HEAD as GET: the same answer without the body, which
// the server drops (RFC 9110). chi's GetHead middleware needs a route
// context chi made itself, which withObservation's is not.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil && r.Method == http.MethodHead {
			rctx.RouteMethod = http.MethodGet
		}
		next.ServeHTTP(w, r)
	})
}

// addSubscriptionRoutes serves the notification subscription API.
func addSubscriptionRoutes(r chi.Router, deps Deps) {
	sh := subscriptionHandlers{logger: deps.Logger, subs: deps.Subscriptions}
	r.Method(http.MethodPost, "/v1/tokens/{id}/subscriptions", sh.create())
	r.Method(http.MethodGet, "/v1/tokens/{id}/subscriptions/{sid}", sh.get())
	r.Method(http.MethodDelete, "/v1/tokens/{id}/subscriptions/{sid}", sh.delete())
	r.Method(http.MethodPost, "/v1/tokens/{id}/subscriptions/{sid}/queues", sh.addQueue())
	r.Method(http.MethodDelete, "/v1/tokens/{id}/subscriptions/{sid}/queues/{n}", sh.removeQueue())
}

// probeMethods are the methods a 405's Allow header may list.
var probeMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete}

// handleMethodNotAllowed answers a method the path does not serve: 405
// with the Allow header RFC 9110 asks for, or, for a plain OPTIONS (not a
// CORS preflight, which the CORS layer answers), 204 with the same Allow
// header. chi's own handler is replaced, so the allowed methods are found
// by matching the path against the router again. The CORS layer adds no
// headers to a method it does not allow, so this adds the origin's.
func handleMethodNotAllowed(r *chi.Mux, cfg Config, deps Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		allowed := []string{http.MethodOptions}
		for _, m := range probeMethods {
			if r.Match(chi.NewRouteContext(), m, req.URL.Path) {
				allowed = append(allowed, m)
				if m == http.MethodGet {
					allowed = append(allowed, http.MethodHead)
				}
			}
		}
		slices.Sort(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		allowOrigin(w.Header(), req.Header.Get("Origin"), cfg.AllowedOrigins)
		if req.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeError(w, req, deps.Logger, &statusError{http.StatusMethodNotAllowed, api.CodeUnrecognized, "method not allowed"})
	}
}

// allowOrigin sets the CORS origin header for origin, if it is allowed
// and the CORS layer has not set it.
func allowOrigin(h http.Header, origin string, allowed []string) {
	if origin == "" || h.Get("Access-Control-Allow-Origin") != "" {
		return
	}
	h.Add("Vary", "Origin")
	switch {
	case len(allowed) == 0 || slices.Contains(allowed, "*"):
		h.Set("Access-Control-Allow-Origin", "*")
	case slices.Contains(allowed, origin):
		h.Set("Access-Control-Allow-Origin", origin)
	}
}

// addDeliveryRoutes serves the MLS Delivery Service and its client queues.
func addDeliveryRoutes(r chi.Router, cfg Config, deps Deps, m *metrics, polls *ratelimit.Concurrency) {
	dh := dsHandlers{logger: deps.Logger, ds: deps.DS}
	r.Method(http.MethodPost, "/v1/ds", dh.submit())
	r.Method(http.MethodGet, "/v1/ds/external-senders", dh.externalSenders())
	qh := queueHandlers{logger: deps.Logger, queues: deps.Queues, draining: deps.Draining, polls: polls, trusted: cfg.TrustedProxies}
	r.Method(http.MethodPost, "/v1/queues", newLimits(cfg, deps, m).wrap("queue_create", cfg.QueueCreateRate, qh.create()))
	r.Method(http.MethodGet, "/v1/queues/{id}/messages", qh.fetch())
	r.Method(http.MethodDelete, "/v1/queues/{id}/messages", qh.ack())
	r.Method(http.MethodDelete, "/v1/queues/{id}", qh.remove())
}
