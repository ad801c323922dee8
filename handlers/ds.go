package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/mls"
)

// dsHandlers serves POST /v1/ds.
type dsHandlers struct {
	logger *slog.Logger
	ds     *ds.Service
}

// submit handles POST /v1/ds: one TLS-encoded DSMessage in, one
// DSResponse out with 200 for every processed request, accepted or
// refused (docs/ds.md).
func (h dsHandlers) submit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, ds.MaxMessageSize)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		resp, err := h.ds.Handle(r.Context(), body)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write(resp.Marshal()); err != nil {
			h.logger.DebugContext(r.Context(), "response not written", "err", err)
		}
	})
}

// externalSenders handles GET /v1/ds/external-senders: the entries a
// group lists in its external_senders extension so that the DS may
// propose the removal of members whose queue is gone. They change only
// with the database's signing secret, so caches may keep them a while.
func (h dsHandlers) externalSenders() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.ds.Sender() == nil {
			writeError(w, r, h.logger, errNoExternalSender)
			return
		}
		out := api.ExternalSenders{Identity: ds.SenderIdentity, ExternalSenders: []api.ExternalSender{}}
		for cs := mls.CipherSuite(1); cs.Supported(); cs++ {
			es, err := h.ds.Sender().ExternalSender(cs)
			if err != nil {
				writeError(w, r, h.logger, err)
				return
			}
			out.ExternalSenders = append(out.ExternalSenders, api.ExternalSender{
				CipherSuite: uint16(cs), SignatureKey: es.SignatureKey, ExternalSender: es.Marshal()})
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		encode(w, r, h.logger, http.StatusOK, out)
	})
}

// deliveryErrorResponse maps the errors of packages ds and qs.
func deliveryErrorResponse(err error) (int, api.Error, bool) {
	switch {
	case errors.Is(err, ds.ErrMalformed):
		return http.StatusBadRequest, api.Error{ErrCode: api.CodeInvalidParam, Error: err.Error()}, true
	case errors.Is(err, ds.ErrUnknownRequest):
		return http.StatusBadRequest, api.Error{ErrCode: api.CodeInvalidParam, Error: "unknown DS request type"}, true
	case errors.Is(err, ds.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, api.Error{ErrCode: api.CodeTooLarge, Error: "DSMessage too large"}, true
	case errors.Is(err, ds.ErrGroupNotFound):
		return http.StatusNotFound, api.Error{ErrCode: api.CodeNotFound, Error: "no such group"}, true
	case errors.Is(err, ds.ErrUnknownSender), errors.Is(err, ds.ErrBadSignature):
		return http.StatusForbidden, api.Error{ErrCode: api.CodeForbidden, Error: "the DSMessage does not authenticate"}, true
	}
	return queueErrorResponse(err)
}
