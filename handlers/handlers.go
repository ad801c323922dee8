// Package handlers is the gateway's HTTP layer: the chi router (routes.go
// lists every route), the middleware, and one file per resource. It is the
// only package that speaks HTTP as a server; it decodes requests, calls one
// domain service method and encodes the answer.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
)

// Config holds the HTTP layer's settings. The zero value serves the default
// mounts to any origin with no rate limits.
type Config struct {
	// PublicURL prefixes the absolute session URLs handed to clients
	// (scheme://host[/prefix]); empty means the request's own scheme and host.
	PublicURL string
	// AllowedOrigins for CORS; empty means any origin ("*").
	AllowedOrigins []string
	Mounts         []api.Mount
	// CreateRate and WriteRate are per-client-IP token buckets on creating
	// and on writing (PUT, DELETE) rendezvous sessions.
	CreateRate, WriteRate ratelimit.Rule
	// TrustedProxies are peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// TokenRegisterRate and TokenVerifyRate are per-client-IP token
	// buckets on push token registrations and verification attempts.
	TokenRegisterRate, TokenVerifyRate ratelimit.Rule
	// TokenUpdateRate is the per-client-IP bucket on replacing a device
	// token and setting checks; TokenPerTokenRate the bucket of each
	// token on replace, checks and verify alike.
	TokenUpdateRate, TokenPerTokenRate ratelimit.Rule
	// QueueCreateRate is the per-client-IP bucket on creating client
	// queues (each is a stored row, created without credentials).
	QueueCreateRate ratelimit.Rule
	// LongPollsPerClient and LongPollsTotal cap the long-polls waiting at
	// once, per client IP (IPv6 by /64) and in all; beyond them a
	// long-poll is refused with 429. Zero means no cap.
	LongPollsPerClient, LongPollsTotal int
	// MetricsElsewhere leaves /metrics off this handler: it is served on
	// a listener of its own (see MetricsHandler).
	MetricsElsewhere bool
}

// ReadyCheck reports whether one dependency can serve requests.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Deps are the collaborators of the HTTP layer. A service's routes are
// served only when its collaborator is set: `tryst serve --services`
// leaves out the others, and their paths answer 404 M_UNRECOGNIZED.
type Deps struct {
	Logger *slog.Logger
	// Rendezvous serves the rendezvous mounts.
	Rendezvous *rendezvous.Service
	// Tokens serves /v1/tokens.
	Tokens *ntf.Service
	// Subscriptions serves /v1/tokens/{id}/subscriptions.
	Subscriptions *ntf.Subscriptions
	// DS serves /v1/ds and Queues /v1/queues.
	DS      *ds.Service
	Queues  *qs.Service
	Limiter ratelimit.Limiter
	// Registry receives the HTTP metrics and is served at /metrics; the
	// services register their own (RendezvousCollector, PushCollector).
	Registry *prometheus.Registry
	Ready    []ReadyCheck
	// Draining is cancelled when the server starts shutting down: waiting
	// long-polls then answer at once instead of holding the shutdown up.
	Draining context.Context
}

// CORS headers of shared/spec/rendezvous.md, sent by every route.
var (
	corsMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodOptions}
	corsHeaders = []string{"Content-Type", "If-Match", "If-None-Match", "Prefer", "Authorization", "X-Requested-With"}
	corsExposed = []string{"ETag", "Location", "X-Max-Bytes", "Expires", "Last-Modified", "X-Expires-In-Ms", "Retry-After", "Preference-Applied"}
)

// corsMaxAge lets browsers cache a preflight for a day.
const corsMaxAge = 86400

// New returns the gateway's HTTP handler.
func New(cfg Config, deps Deps) http.Handler {
	if cfg.Mounts == nil {
		cfg.Mounts, _ = api.ParseMounts(api.DefaultMounts)
	}
	m := newMetrics(deps.Registry)
	r := newRouter(cfg, deps, m)

	var h http.Handler = r
	origins := cfg.AllowedOrigins
	if len(origins) == 0 {
		origins = []string{"*"}
	}
	h = cors.New(cors.Options{
		AllowedOrigins: origins, AllowedMethods: corsMethods, AllowedHeaders: corsHeaders,
		ExposedHeaders: corsExposed, MaxAge: corsMaxAge,
	}).Handler(h)
	h = withSortedPreflightHeaders(h)
	h = withObservation(deps.Logger, m, h)
	h = withRequestID(h)
	h = withRecover(deps.Logger, h)
	return h
}
