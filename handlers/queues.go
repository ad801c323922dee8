package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/ratelimit"
)

// queueBodyLimit bounds POST /v1/queues bodies: two short strings.
const queueBodyLimit = 4 << 10

// queueHandlers serves /v1/queues.
type queueHandlers struct {
	logger   *slog.Logger
	queues   *qs.Service
	draining context.Context
	// polls caps waiting long-polls, shared with the other routes that
	// wait; trusted are the proxies whose X-Forwarded-For names a client.
	polls   *ratelimit.Concurrency
	trusted []netip.Prefix
}

// create handles POST /v1/queues.
func (h queueHandlers) create() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var link *ntf.Credentials
		if r.ContentLength != 0 {
			req, err := decodeStrict[api.QueueCreateRequest](w, r, queueBodyLimit)
			if err != nil {
				writeError(w, r, h.logger, err)
				return
			}
			if req.TokenID != "" || req.TokenSecret != "" {
				link = &ntf.Credentials{ID: req.TokenID, Secret: req.TokenSecret}
			}
		}
		q, secret, err := h.queues.Create(r.Context(), link)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.Header().Set("Location", "/v1/queues/"+string(q.ID))
		w.Header().Set("Cache-Control", "no-store")
		encode(w, r, h.logger, http.StatusCreated, api.QueueCreated{ID: string(q.ID), Secret: string(secret)})
	})
}

// queueCredentials reads the queue id from the path and the bearer
// secret; absent values are refused like wrong ones.
func queueCredentials(r *http.Request) qs.Credentials {
	c := credentials(r)
	return qs.Credentials{ID: c.ID, Secret: c.Secret}
}

// uintParam parses an optional non-negative integer query parameter.
func uintParam(r *http.Request, name string) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, invalidParam(name + ": want a non-negative integer")
	}
	return v, nil
}

// fetch handles GET /v1/queues/{id}/messages?after=&wait_ms=.
func (h queueHandlers) fetch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, err1 := uintParam(r, "after")
		waitMs, err2 := uintParam(r, "wait_ms")
		if err := errors.Join(err1, err2); err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		wait := time.Duration(min(waitMs, uint64(h.queues.Config().MaxWait.Milliseconds()))) * time.Millisecond
		msgs, err := h.wait(r, after, wait)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, r, h.logger, http.StatusOK, toAPIMessages(msgs))
	})
}

// wait fetches, holding a long-poll slot while it may wait. When the
// server starts shutting down the wait ends at once, answered with no
// messages.
func (h queueHandlers) wait(r *http.Request, after uint64, wait time.Duration) ([]qs.Message, error) {
	if wait > 0 {
		client := clientKey(r, h.trusted)
		if !h.polls.Acquire(client) {
			return nil, errTooManyLongPolls
		}
		defer h.polls.Release(client)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if h.draining != nil {
		stop := context.AfterFunc(h.draining, cancel)
		defer stop()
	}
	msgs, err := h.queues.Fetch(ctx, queueCredentials(r), after, wait)
	if err != nil && r.Context().Err() == nil && ctx.Err() != nil {
		return []qs.Message{}, nil // draining: answer "nothing yet"
	}
	return msgs, err
}

func toAPIMessages(msgs []qs.Message) api.QueueMessages {
	out := api.QueueMessages{Messages: make([]api.QueueMessage, len(msgs))}
	for i, m := range msgs {
		out.Messages[i] = api.QueueMessage{Seq: m.Seq, Data: m.Data, ReceivedAt: m.ReceivedAt.UTC().Format(time.RFC3339Nano)}
	}
	return out
}

// ack handles DELETE /v1/queues/{id}/messages?through=.
func (h queueHandlers) ack() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimSpace(r.URL.Query().Get("through")) == "" {
			writeError(w, r, h.logger, missingParam("through: required"))
			return
		}
		through, err := uintParam(r, "through")
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		if err := h.queues.Ack(r.Context(), queueCredentials(r), through); err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// remove handles DELETE /v1/queues/{id}: the queue and everything in it
// go; its credentials then fail like unknown ones.
func (h queueHandlers) remove() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.queues.Delete(r.Context(), queueCredentials(r)); err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// queueErrorResponse maps the errors of package qs.
func queueErrorResponse(err error) (int, api.Error, bool) {
	switch {
	case errors.Is(err, qs.ErrUnknownQueue):
		return http.StatusUnauthorized, api.Error{ErrCode: api.CodeUnknownQueue, Error: "unknown queue or wrong secret"}, true
	case errors.Is(err, qs.ErrTokenNotActive):
		return http.StatusConflict, api.Error{ErrCode: api.CodeConflict, Error: "the push token is not active: verify it first"}, true
	}
	return 0, api.Error{}, false
}
