package handlers

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/rendezvous"
)

// The ETag flavours (simple and msc4108): the payload is the raw body, its
// version travels in ETag / If-Match / If-None-Match.

const defaultContentType = "application/octet-stream"

// payloadCSP keeps a payload served from our origin from running as a page,
// whatever content type its writer chose; fetch readers are unaffected.
const payloadCSP = "default-src 'none'; sandbox"

func (h rendezvousHandlers) create() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		ct, err := h.contentType(r)
		if err != nil {
			h.fail(w, r, "", err)
			return
		}
		body, err := readBody(w, r, int64(h.rdv.Config().MaxBytes))
		if err != nil {
			h.fail(w, r, "", err)
			return
		}
		sess, err := h.rdv.Create(r.Context(), body, ct)
		if err != nil {
			h.fail(w, r, "", err)
			return
		}
		now := h.rdv.Now()
		path := h.sessionPath(sess.ID)
		setSessionHeaders(w.Header(), sess, now)
		w.Header().Set("Location", path)
		w.Header().Set("X-Max-Bytes", strconv.Itoa(h.rdv.Config().MaxBytes))
		encode(w, r, h.logger, h.createdStatus(), api.RendezvousCreated{
			ID: string(sess.ID), MaxBytes: h.rdv.Config().MaxBytes,
			URL: h.absoluteURL(r, path), ExpiresInMs: sess.ExpiresIn(now).Milliseconds(),
		})
	})
}

// createdStatus is 200 on the seed mounts, as the seed protocol says, and
// 201 on the Matrix mounts.
func (h rendezvousHandlers) createdStatus() int {
	if h.mount.Flavour == api.FlavourSimple && !strings.HasPrefix(h.mount.Path, "/_matrix/") {
		return http.StatusOK
	}
	return http.StatusCreated
}

func (h rendezvousHandlers) get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		id, inm, wait, err := parseGet(r)
		if err != nil {
			h.fail(w, r, "", err)
			return
		}
		sess, err := h.getOwn(r, id)
		if err == nil && inm != nil && wait > 0 && inm.matches(sess.Version()) {
			applied := h.appliedWait(wait)
			if sess, err = h.wait(r, id, sess.Version(), applied); err == nil {
				w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(applied/time.Second)))
			}
		}
		if err != nil {
			if !clientGone(r, err) {
				h.fail(w, r, "", err)
			}
			return
		}
		setSessionHeaders(w.Header(), sess, h.rdv.Now())
		if inm != nil && inm.matches(sess.Version()) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", sess.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(sess.Payload)))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", payloadCSP)
		w.WriteHeader(http.StatusOK)
		w.Write(sess.Payload)
	})
}

// getOwn reads session id if this mount may serve it: the msc4108 mount
// promises text/plain, so a session written with another type on another
// mount is not found here.
func (h rendezvousHandlers) getOwn(r *http.Request, id rendezvous.ID) (rendezvous.Session, error) {
	sess, err := h.rdv.Get(r.Context(), id)
	if err == nil && h.mount.Flavour == api.FlavourMSC4108 && !isTextPlain(sess.ContentType) {
		return rendezvous.Session{}, rendezvous.ErrNotFound
	}
	return sess, err
}

func isTextPlain(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "text/plain"
}

// parseGet reads a GET's session ID, If-None-Match and Prefer: wait.
func parseGet(r *http.Request) (rendezvous.ID, *tagList, time.Duration, error) {
	id, err := pathID(r)
	if err != nil {
		return "", nil, 0, err
	}
	var inm *tagList
	if v := r.Header.Get("If-None-Match"); v != "" {
		l, err := parseTagList(v)
		if err != nil {
			return "", nil, 0, invalidParam("If-None-Match: " + err.Error())
		}
		inm = &l
	}
	wait, err := parsePreferWait(strings.Join(r.Header.Values("Prefer"), ","))
	if err != nil {
		return "", nil, 0, invalidParam("Prefer: " + err.Error())
	}
	return id, inm, wait, nil
}

func (h rendezvousHandlers) put() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		id, err := pathID(r)
		if err != nil {
			h.fail(w, r, "", err)
			return
		}
		ifMatch, err := h.ifMatch(r, id)
		if err != nil {
			h.fail(w, r, id, err)
			return
		}
		ct, err := h.contentType(r)
		if err != nil {
			h.fail(w, r, id, err)
			return
		}
		body, err := readBody(w, r, int64(h.rdv.Config().MaxBytes))
		if err != nil {
			h.fail(w, r, id, err)
			return
		}
		sess, err := h.rdv.Put(r.Context(), id, ifMatch, body, ct)
		if err != nil {
			h.fail(w, r, id, err)
			return
		}
		setSessionHeaders(w.Header(), sess, h.rdv.Now())
		w.Header().Set("X-Max-Bytes", strconv.Itoa(h.rdv.Config().MaxBytes))
		w.WriteHeader(http.StatusAccepted)
	})
}

// ifMatch returns the version a PUT is conditional on ("" for none). The
// header is required by msc4108; "*" or its absence writes unconditionally.
// Of a list of tags, the current version is chosen if listed; the store's
// compare-and-swap still decides.
func (h rendezvousHandlers) ifMatch(r *http.Request, id rendezvous.ID) (string, error) {
	v := r.Header.Get("If-Match")
	if v == "" {
		if h.mount.Flavour == api.FlavourMSC4108 {
			return "", missingParam("If-Match header is required")
		}
		return "", nil
	}
	l, err := parseTagList(v)
	if err != nil {
		return "", invalidParam("If-Match: " + err.Error())
	}
	if l.any {
		return "", nil
	}
	if len(l.tags) == 1 {
		return l.tags[0], nil
	}
	if sess, err := h.rdv.Get(r.Context(), id); err == nil && l.matches(sess.Version()) {
		return sess.Version(), nil
	}
	return l.tags[0], nil
}

func (h rendezvousHandlers) delete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		id, err := pathID(r)
		if err == nil {
			err = h.rdv.Delete(r.Context(), id)
		}
		if err != nil {
			h.fail(w, r, "", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// contentType returns the request's content type as sent (the reader gets
// exactly these bytes back), defaulting to application/octet-stream.
// msc4108 accepts text/plain only.
func (h rendezvousHandlers) contentType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = defaultContentType
	}
	if len(ct) > rendezvous.MaxContentType {
		return "", rendezvous.ErrContentType
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return "", invalidParam("Content-Type is malformed")
	}
	if h.mount.Flavour == api.FlavourMSC4108 && !isTextPlain(ct) {
		return "", invalidParam("Content-Type must be text/plain")
	}
	return ct, nil
}

// fail answers an ETag-flavour request with err. A stale If-Match is 412
// here; msc4108 repeats the code in its namespaced field. When a session
// exists, its headers go with the error, so a client can resynchronise.
func (h rendezvousHandlers) fail(w http.ResponseWriter, r *http.Request, id rendezvous.ID, err error) {
	status, body := errorResponse(err)
	if errors.Is(err, rendezvous.ErrConflict) {
		status = http.StatusPreconditionFailed
	}
	if h.mount.Flavour == api.FlavourMSC4108 {
		body.MSC4108ErrCode = body.ErrCode
	}
	if id != "" && status != http.StatusNotFound && status < http.StatusInternalServerError {
		if sess, err := h.rdv.Get(r.Context(), id); err == nil {
			setSessionHeaders(w.Header(), sess, h.rdv.Now())
		}
	}
	writeErrorBody(w, r, h.logger, status, body, err)
}

func setNoStore(hdr http.Header) {
	hdr.Set("Cache-Control", "no-store, no-transform")
	hdr.Set("Pragma", "no-cache")
}

// setSessionHeaders sets the version and expiry headers every ETag-flavour
// response about a session carries. X-Expires-In-Ms is relative, so clients
// whose clocks are wrong still know how long they have.
func setSessionHeaders(hdr http.Header, s rendezvous.Session, now time.Time) {
	hdr.Set("ETag", quoteETag(s.Version()))
	hdr.Set("Expires", s.Expires.UTC().Format(http.TimeFormat))
	hdr.Set("Last-Modified", s.Modified.UTC().Format(http.TimeFormat))
	hdr.Set("X-Expires-In-Ms", millis(s.ExpiresIn(now)))
}
