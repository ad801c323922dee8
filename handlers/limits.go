package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/trystgw/tryst/ratelimit"
)

// limits applies the per-client-IP token buckets to the routes that create
// or write sessions.
type limits struct {
	limiter        ratelimit.Limiter
	create, write  ratelimit.Rule
	trustedProxies []netip.Prefix
	logger         *slog.Logger
	metrics        *metrics
}

func newLimits(cfg Config, deps Deps, m *metrics) limits {
	return limits{limiter: deps.Limiter, create: cfg.CreateRate, write: cfg.WriteRate,
		trustedProxies: cfg.TrustedProxies, logger: deps.Logger, metrics: m}
}

func (l limits) creates(next http.Handler) http.Handler { return l.wrap("create", l.create, next) }
func (l limits) writes(next http.Handler) http.Handler  { return l.wrap("write", l.write, next) }

// wrap limits next per client IP under rule.
func (l limits) wrap(kind string, rule ratelimit.Rule, next http.Handler) http.Handler {
	return l.wrapKeyed(kind, rule, func(r *http.Request) string { return clientKey(r, l.trustedProxies) }, next)
}

// perToken limits next per token under rule. The key is the token id with
// a digest of the bearer secret presented: requests of the token's holder
// share one bucket, while someone who only knows the id fills a bucket of
// their own and cannot lock the holder out.
func (l limits) perToken(kind string, rule ratelimit.Rule, next http.Handler) http.Handler {
	return l.wrapKeyed(kind, rule, func(r *http.Request) string {
		c := credentials(r)
		digest := sha256.Sum256([]byte(c.Secret))
		return c.ID + "|" + hex.EncodeToString(digest[:8])
	}, next)
}

// wrapKeyed limits next under rule, with a bucket for each key.
func (l limits) wrapKeyed(kind string, rule ratelimit.Rule, key func(*http.Request) string, next http.Handler) http.Handler {
	if l.limiter == nil || rule.Rate <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, retry, err := l.limiter.Allow(r.Context(), kind+"|"+key(r), rule)
		if err != nil {
			// A limiter we cannot reach must not take the service down
			// with it: the request goes through and the failure is logged.
			l.logger.WarnContext(r.Context(), "rate limiter unavailable", "err", err)
		} else if !ok {
			l.metrics.rateLimited.WithLabelValues(kind).Inc()
			writeError(w, r, l.logger, &limitedError{msg: "too many requests", retryAfter: retry})
			return
		}
		next.ServeHTTP(w, r)
	})
}
