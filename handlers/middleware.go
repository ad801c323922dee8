package handlers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ratelimit"
)

type ctxKey int

const requestIDKey ctxKey = iota

// requestID returns the request's ID, or "" outside a request.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// maxRequestIDLen bounds a client-supplied X-Request-Id we accept and echo.
const maxRequestIDLen = 64

// withRequestID gives every request an ID: the caller's X-Request-Id when it
// is short and URL-safe (so a proxy's ID carries through), else a random one.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > maxRequestIDLen || !urlSafe(id) {
			var b [12]byte
			rand.Read(b[:]) // never returns an error (crypto/rand)
			id = base64.RawURLEncoding.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// withRecover turns a panic in a handler into a 500 and a log line, so one
// bad request cannot take the server down.
func withRecover(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "handler panicked", "panic", v, "request_id", requestID(r.Context()))
				writeError(w, r, logger, errPanicked)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

var errPanicked = &statusError{http.StatusInternalServerError, api.CodeUnknown, "internal error"}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withObservation counts each request by route and status and, at debug
// level, logs it. The route is chi's pattern, so session IDs never reach
// logs or labels.
func withObservation(logger *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		// chi fills in a route context it finds already in place, which
		// lets this outer middleware read the matched pattern afterwards.
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, chi.NewRouteContext()))
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := routePattern(r, rec.status)
		m.observeRequest(route, r.Method, rec.status, time.Since(start))
		// Access lines are debug: a proxy in front usually keeps its own, and
		// who met whom is better not written down by default. Failures are
		// logged where they happen.
		if !logger.Enabled(r.Context(), slog.LevelDebug) {
			return
		}
		logger.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)), slog.String("request_id", requestID(r.Context())))
	})
}

// routePattern names the route a request matched, keeping label values
// bounded: CORS preflights and unmatched paths get fixed names.
func routePattern(r *http.Request, status int) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil && status != http.StatusNotFound {
		if p := rctx.RoutePattern(); p != "" {
			return p
		}
	}
	if r.Method == http.MethodOptions {
		return "preflight"
	}
	return "unmatched"
}

// clientKey names the client a request came from for per-client limits:
// its address as ratelimit.ClientKey puts it (IPv6 by /64), or the raw
// RemoteAddr in the unlikely case it does not parse.
func clientKey(r *http.Request, trusted []netip.Prefix) string {
	addr, ok := clientAddr(r, trusted)
	if !ok {
		return r.RemoteAddr
	}
	return ratelimit.ClientKey(addr)
}

// clientAddr returns the address a request came from: the peer, or, when
// the peer is a trusted proxy, the first address from the right of
// X-Forwarded-For that is not a trusted proxy. Every X-Forwarded-For line
// counts: a proxy may append a line of its own rather than extend the
// client's, and reading only the first would let the client choose its
// address. Each hop walked past was added by a trusted proxy, so a hop
// that does not parse ends the walk at the last trusted one.
func clientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	addr := peer.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr, true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap()
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return addr, true
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// withSortedPreflightHeaders puts a preflight's Access-Control-Request-Headers
// in the form browsers send (lower case, sorted, comma-joined), the only
// form rs/cors recognises, so that preflights made by hand or by other
// tools are answered like a browser's.
func withSortedPreflightHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			if vs := r.Header.Values("Access-Control-Request-Headers"); len(vs) > 0 {
				var names []string
				for _, v := range vs {
					for name := range strings.SplitSeq(v, ",") {
						if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
							names = append(names, name)
						}
					}
				}
				slices.Sort(names)
				r.Header.Set("Access-Control-Request-Headers", strings.Join(slices.Compact(names), ","))
			}
		}
		next.ServeHTTP(w, r)
	})
}
