package handlers

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ntf"
)

// subscriptionBodyLimit bounds subscription request bodies: a few queues
// of an address, an id and a key each.
const subscriptionBodyLimit = 16 << 10

// subscriptionHandlers serves /v1/tokens/{id}/subscriptions.
type subscriptionHandlers struct {
	logger *slog.Logger
	subs   *ntf.Subscriptions
}

// create handles POST /v1/tokens/{id}/subscriptions. A repeated request
// answers the same subscription.
func (h subscriptionHandlers) create() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeStrict[api.SubscriptionCreateRequest](w, r, subscriptionBodyLimit)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		if len(req.Queues) == 0 {
			writeError(w, r, h.logger, missingParam("queues is required"))
			return
		}
		qs := make([]ntf.NewQueue, len(req.Queues))
		for i, c := range req.Queues {
			if qs[i], err = toNewQueue(c, "queues["+strconv.Itoa(i)+"]."); err != nil {
				writeError(w, r, h.logger, err)
				return
			}
		}
		sub, _, err := h.subs.Create(r.Context(), credentials(r), qs)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.Header().Set("Location", "/v1/tokens/"+string(sub.Token)+"/subscriptions/"+string(sub.ID))
		h.write(w, r, http.StatusCreated, sub)
	})
}

// toNewQueue parses one queue's credentials, naming a missing or bad
// field with prefix.
func toNewQueue(c api.QueueCredentials, prefix string) (ntf.NewQueue, error) {
	var missing []string
	for _, f := range [...]struct{ name, v string }{{"server", c.Server}, {"notifier_id", c.NotifierID}, {"notifier_key", c.NotifierKey}} {
		if f.v == "" {
			missing = append(missing, prefix+f.name)
		}
	}
	if len(missing) > 0 {
		return ntf.NewQueue{}, missingParam("required: " + strings.Join(missing, ", "))
	}
	q, err := ntf.ParseNewQueue(c.Server, c.NotifierID, c.NotifierKey)
	if fe, ok := errors.AsType[*ntf.FieldError](err); ok {
		return q, invalidParam(prefix + fe.Error())
	}
	return q, err
}

// get handles GET /v1/tokens/{id}/subscriptions/{sid}.
func (h subscriptionHandlers) get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, err := h.subs.Get(r.Context(), credentials(r), r.PathValue("sid"))
		h.answer(w, r, sub, err)
	})
}

// addQueue handles POST /v1/tokens/{id}/subscriptions/{sid}/queues.
func (h subscriptionHandlers) addQueue() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeStrict[api.QueueAddRequest](w, r, subscriptionBodyLimit)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		q, err := toNewQueue(req.QueueCredentials, "")
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		q.Rotate = req.Rotate
		sub, err := h.subs.AddQueue(r.Context(), credentials(r), r.PathValue("sid"), q)
		h.answer(w, r, sub, err)
	})
}

// removeQueue handles DELETE /v1/tokens/{id}/subscriptions/{sid}/queues/{n}.
// An index that is not a number is not found, like one out of range.
func (h subscriptionHandlers) removeQueue() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil {
			n = -1
		}
		sub, err := h.subs.RemoveQueue(r.Context(), credentials(r), r.PathValue("sid"), n)
		h.answer(w, r, sub, err)
	})
}

// delete handles DELETE /v1/tokens/{id}/subscriptions/{sid}.
func (h subscriptionHandlers) delete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.subs.Delete(r.Context(), credentials(r), r.PathValue("sid")); err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// answer writes a subscription with 200, or the error.
func (h subscriptionHandlers) answer(w http.ResponseWriter, r *http.Request, sub ntf.Subscription, err error) {
	if err != nil {
		writeError(w, r, h.logger, err)
		return
	}
	h.write(w, r, http.StatusOK, sub)
}

func (h subscriptionHandlers) write(w http.ResponseWriter, r *http.Request, status int, sub ntf.Subscription) {
	w.Header().Set("Cache-Control", "no-store")
	encode(w, r, h.logger, status, toAPISubscription(sub))
}

// toAPISubscription is a subscription's public state: never its keys.
func toAPISubscription(s ntf.Subscription) api.Subscription {
	out := api.Subscription{ID: string(s.ID), Queues: make([]api.SubscriptionQueue, len(s.Queues)), CreatedAt: formatTime(s.CreatedAt)}
	for i, q := range s.Queues {
		out.Queues[i] = api.SubscriptionQueue{Server: q.Server, NotifierID: base64.RawURLEncoding.EncodeToString(q.NotifierID),
			Status: string(q.Status), Error: q.Error}
	}
	return out
}
