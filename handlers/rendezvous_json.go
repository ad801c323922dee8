package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/rendezvous"
)

// The msc4388 flavour: JSON bodies, the version travels as sequence_token.

// jsonContentType is what msc4388 payloads are stored as; the flavour hands
// back only the data string.
const jsonContentType = "text/plain;charset=utf-8"

// jsonBodyLimit is the most JSON bytes a body holding maxData bytes of data
// may take: every byte escaped as \u00XX, plus room for the other fields.
func jsonBodyLimit(maxData int) int64 { return int64(maxData)*6 + 512 }

func (h rendezvousHandlers) discover() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		encode(w, r, h.logger, http.StatusOK, api.RendezvousDiscovery{CreateAvailable: true})
	})
}

func (h rendezvousHandlers) createJSON() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		req, err := decode[api.RendezvousCreateRequest](w, r, jsonBodyLimit(h.rdv.Config().MaxBytes))
		if err == nil && req.Data == nil {
			err = missingParam("data is required")
		}
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		sess, err := h.rdv.Create(r.Context(), []byte(*req.Data), jsonContentType)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		encode(w, r, h.logger, http.StatusOK, api.RendezvousCreatedJSON{
			ID: string(sess.ID), SequenceToken: sess.Version(),
			ExpiresInMs: sess.ExpiresIn(h.rdv.Now()).Milliseconds(),
		})
	})
}

func (h rendezvousHandlers) getJSON() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		if isNavigation(r) {
			writeError(w, r, h.logger, errForbidden)
			return
		}
		id, since, wait, err := parseGetJSON(r)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		sess, err := h.rdv.Get(r.Context(), id)
		if err == nil && since != "" && wait > 0 && since == sess.Version() {
			sess, err = h.wait(r, id, since, h.appliedWait(wait))
		}
		if err != nil {
			if !clientGone(r, err) {
				writeError(w, r, h.logger, err)
			}
			return
		}
		encode(w, r, h.logger, http.StatusOK, api.RendezvousSession{
			Data: string(sess.Payload), SequenceToken: sess.Version(),
			ExpiresInMs: sess.ExpiresIn(h.rdv.Now()).Milliseconds(),
		})
	})
}

// isNavigation reports a browser's top-level navigation, which must not be
// able to display a session (it could be a phishing page's payload).
func isNavigation(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Mode") == "navigate" || r.Header.Get("Sec-Fetch-Dest") == "document"
}

// parseGetJSON reads the session ID and the ?since= and ?wait_ms= long-poll
// parameters.
func parseGetJSON(r *http.Request) (rendezvous.ID, string, time.Duration, error) {
	id, err := pathID(r)
	if err != nil {
		return "", "", 0, err
	}
	q := r.URL.Query()
	var wait time.Duration
	if v := q.Get("wait_ms"); v != "" {
		ms, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return "", "", 0, invalidParam("wait_ms must be a non-negative integer")
		}
		wait = time.Duration(ms) * time.Millisecond
	}
	return id, q.Get("since"), wait, nil
}

func (h rendezvousHandlers) putJSON() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		req, err := decode[api.RendezvousUpdateRequest](w, r, jsonBodyLimit(h.rdv.Config().MaxBytes))
		switch {
		case err != nil:
		case req.Data == nil:
			err = missingParam("data is required")
		case req.SequenceToken == nil:
			err = missingParam("sequence_token is required")
		case *req.SequenceToken == "":
			err = invalidParam("sequence_token must not be empty")
		}
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		sess, err := h.rdv.Put(r.Context(), id, *req.SequenceToken, []byte(*req.Data), jsonContentType)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		encode(w, r, h.logger, http.StatusOK, api.RendezvousUpdated{SequenceToken: sess.Version()})
	})
}

func (h rendezvousHandlers) deleteJSON() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		id, err := pathID(r)
		if err == nil {
			err = h.rdv.Delete(r.Context(), id)
		}
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		encode(w, r, h.logger, http.StatusOK, struct{}{})
	})
}
