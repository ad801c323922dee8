// Package handlers is the gateway's HTTP layer: the chi router (routes.go
// lists every route), the middleware, and one file per resource. It is the
// only package that speaks HTTP as a server; it decodes requests, calls one
// domain service method and encodes the answer.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
)

// Flavour is one of the HTTP dialects of the rendezvous API.
type Flavour string

// The rendezvous flavours of shared/spec/rendezvous.md.
const (
	FlavourSimple  Flavour = "simple"  // seed protocol and MSC3886: ETags, any content type
	FlavourMSC4108 Flavour = "msc4108" // ETags, If-Match required, text/plain only
	FlavourMSC4388 Flavour = "msc4388" // JSON bodies with sequence tokens
)

// Mount places a flavour at a base path.
type Mount struct {
	Flavour Flavour
	Path    string
}

// DefaultMounts is where each flavour is served unless configured otherwise.
const DefaultMounts = "simple:/rendezvous," +
	"simple:/_matrix/client/unstable/org.matrix.msc3886/rendezvous," +
	"msc4108:/_matrix/client/unstable/org.matrix.msc4108/rendezvous," +
	"msc4108:/_matrix/client/v1/rendezvous," +
	"msc4388:/_matrix/client/unstable/io.element.msc4388/rendezvous"

// ParseMounts parses a comma-separated list of flavour:path pairs. Paths
// must start with "/" and be unique; "/" mounts the simple flavour at the
// root of a dedicated deployment.
func ParseMounts(s string) ([]Mount, error) {
	var mounts []Mount
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		flavour, path, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "{}*") {
			return nil, fmt.Errorf("mount %q: want flavour:/path", item)
		}
		f := Flavour(flavour)
		if f != FlavourSimple && f != FlavourMSC4108 && f != FlavourMSC4388 {
			return nil, fmt.Errorf("mount %q: unknown flavour %q (simple, msc4108, msc4388)", item, flavour)
		}
		if path != "/" {
			path = strings.TrimRight(path, "/")
		}
		if seen[path] {
			return nil, fmt.Errorf("mount %q: path mounted twice", item)
		}
		seen[path] = true
		mounts = append(mounts, Mount{Flavour: f, Path: path})
	}
	return mounts, nil
}

// Config holds the HTTP layer's settings. The zero value serves the default
// mounts to any origin with no rate limits.
type Config struct {
	// PublicURL prefixes the absolute session URLs handed to clients
	// (scheme://host[/prefix]); empty means the request's own scheme and host.
	PublicURL string
	// AllowedOrigins for CORS; empty means any origin ("*").
	AllowedOrigins []string
	Mounts         []Mount
	// CreateRate and WriteRate are per-client-IP token buckets on creating
	// and on writing (PUT, DELETE) rendezvous sessions.
	CreateRate, WriteRate ratelimit.Rule
	// TrustedProxies are peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// TokenRegisterRate and TokenVerifyRate are per-client-IP token
	// buckets on push token registrations and verification attempts.
	TokenRegisterRate, TokenVerifyRate ratelimit.Rule
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
	Tokens  *ntf.Service
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
		cfg.Mounts, _ = ParseMounts(DefaultMounts)
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
