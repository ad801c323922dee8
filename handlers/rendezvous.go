package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
)

// rendezvousHandlers serves one flavour at one mount.
type rendezvousHandlers struct {
	cfg      Config
	mount    api.Mount
	logger   *slog.Logger
	rdv      *rendezvous.Service
	limit    limits
	draining context.Context
	// polls caps waiting long-polls per client and in total, across
	// every mount.
	polls *ratelimit.Concurrency
}

// sessionPath is the path of session id under this mount.
func (h rendezvousHandlers) sessionPath(id rendezvous.ID) string {
	return strings.TrimSuffix(h.mount.Path, "/") + "/" + string(id)
}

// absoluteURL makes path absolute with the configured public URL, or with
// the request's own scheme and host.
func (h rendezvousHandlers) absoluteURL(r *http.Request, path string) string {
	if h.cfg.PublicURL != "" {
		return strings.TrimSuffix(h.cfg.PublicURL, "/") + path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

// pathID parses the session ID in the path. A malformed ID names no
// session, so it answers 404 like an unknown one.
func pathID(r *http.Request) (rendezvous.ID, error) {
	id, err := rendezvous.ParseID(r.PathValue("id"))
	if err != nil {
		return "", rendezvous.ErrNotFound
	}
	return id, nil
}

// wait runs a long-poll: it returns the session once its version differs
// from known or the wait ends. When the server starts shutting down, the
// wait ends at once and the caller answers with what it has.
func (h rendezvousHandlers) wait(r *http.Request, id rendezvous.ID, known string, d time.Duration) (rendezvous.Session, error) {
	client := clientKey(r, h.cfg.TrustedProxies)
	if !h.polls.Acquire(client) {
		return rendezvous.Session{}, errTooManyLongPolls
	}
	defer h.polls.Release(client)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if h.draining != nil {
		stop := context.AfterFunc(h.draining, cancel)
		defer stop()
	}
	sess, err := h.rdv.Wait(ctx, id, known, d)
	if err != nil && r.Context().Err() == nil && ctx.Err() != nil {
		return sess, nil // draining: answer "unchanged"
	}
	return sess, err
}

// longPollRetryAfter is what a client refused a long-poll is told to
// wait: a slot frees up when any of its waits ends.
const longPollRetryAfter = 5 * time.Second

// errTooManyLongPolls refuses a long-poll over the per-client or total
// cap: each one holds a connection, a file descriptor, for up to
// MaxWait, and one client must not hold them all.
var errTooManyLongPolls = &limitedError{msg: "too many waiting long-polls: retry later or poll without waiting", retryAfter: longPollRetryAfter}

// appliedWait is the wait the server grants for a requested one.
func (h rendezvousHandlers) appliedWait(requested time.Duration) time.Duration {
	return min(requested, h.rdv.Config().MaxWait)
}

func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// clientGone reports whether err only says the client left, when there is
// nobody to answer.
func clientGone(r *http.Request, err error) bool {
	return r.Context().Err() != nil && errors.Is(err, r.Context().Err())
}
