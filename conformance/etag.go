package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/trystgw/tryst/api"
)

// The ETag flavours (simple, msc4108): the payload is the raw body and its
// version travels in ETag, If-Match and If-None-Match.

// textPlain is the content type the checker writes: the one both ETag
// flavours must accept, spelled as browsers send it.
const textPlain = "text/plain;charset=UTF-8"

// etagCreated is the JSON answer to a POST.
type etagCreated struct {
	ID          string `json:"id"`
	MaxBytes    int    `json:"max_bytes"`
	URL         string `json:"url"`
	ExpiresInMs int64  `json:"expires_in_ms"`
}

// etagSession is a session the checker created.
type etagSession struct {
	path    string // below the base URL
	body    etagCreated
	etag    string // as the server sent it
	payload []byte
	created response
}

// sharedSession is the session of the read-only checks, or why there is
// none.
type sharedSession struct {
	etag etagSession
	json jsonSession
	err  error
}

func (t *target) etagChecks() []check {
	cs := []check{
		{name: "create", run: t.withETag(t.etagCreate)},
		{name: "session-url", run: t.withETag(t.etagSessionURL)},
		{name: "headers", run: t.withETag(t.etagHeaders)},
		{name: "etag-format", run: t.withTag(t.etagFormat)},
		{name: "lifetime", run: t.withETag(t.etagLifetime)},
		{name: "expires-header", run: t.withETag(t.etagExpiresHeader)},
		{name: "clock-skew", run: t.withETag(t.etagClockSkew)},
		{name: "read", run: t.withETag(t.etagRead)},
		{name: "not-modified", run: t.withTag(t.etagNotModified)},
		{name: "if-none-match-forms", run: t.withTag(t.etagIfNoneMatchForms)},
		{name: "cors", run: t.withETag(t.etagCORS)},
		{name: "etag-changes", run: t.etagChanges},
		{name: "stale-write", run: t.etagStaleWrite},
		{name: "idempotent-retry", run: t.etagIdempotentRetry},
		{name: "content-type", run: t.etagContentType},
	}
	if t.mount.Flavour == api.FlavourMSC4108 {
		cs = append(cs, check{name: "if-match-required", run: t.etagIfMatchRequired})
	} else {
		cs = append(cs, check{name: "if-match-optional", run: t.etagIfMatchOptional})
	}
	return append(cs,
		check{name: "too-large", run: t.etagTooLarge},
		check{name: "not-found", run: t.notFound},
		check{name: "cors-errors", run: t.etagCORSErrors},
		check{name: "preflight", run: t.etagPreflight},
		check{name: "delete", run: t.etagDelete},
		check{name: "long-poll", run: t.etagLongPoll},
		check{name: "expiry", run: t.etagExpiry, background: true},
	)
}

// createETag POSTs a session and reads the answer; it fails unless the
// server created one.
func (t *target) createETag(ctx context.Context, body []byte, contentType string) (etagSession, error) {
	hdr := http.Header{}
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	resp, err := t.c.do(ctx, request{method: http.MethodPost, path: t.basePath(), body: body, header: hdr})
	if err != nil {
		return etagSession{}, fmt.Errorf("create a session: %w", err)
	}
	if err := wantStatus(resp, http.StatusOK, http.StatusCreated); err != nil {
		return etagSession{}, fmt.Errorf("create a session: %w", err)
	}
	created, err := decodeJSON[etagCreated](resp)
	if err != nil {
		return etagSession{}, fmt.Errorf("create a session: %w", err)
	}
	if created.ID == "" || !urlSafe(created.ID) {
		return etagSession{}, fmt.Errorf("create a session: answer has no usable id (%q)", created.ID)
	}
	return etagSession{path: t.itemPath(created.ID), body: created, etag: resp.header.Get("ETag"),
		payload: body, created: resp}, nil
}

// sharedETag returns the session of the read-only checks, creating it on
// first use.
func (t *target) sharedETag(ctx context.Context) (etagSession, error) {
	if t.shared == nil {
		s, err := t.createETag(ctx, payload("shared", 0), textPlain)
		t.shared = &sharedSession{etag: s, err: err}
	}
	return t.shared.etag, t.shared.err
}

// withETag adapts a check of the shared session.
func (t *target) withETag(fn func(context.Context, etagSession) (string, error)) func(context.Context) (string, error) {
	return onShared(t.sharedETag, fn)
}

// withTag adapts a check of the shared session's entity tag.
func (t *target) withTag(fn func(context.Context, etagSession, string) (string, error)) func(context.Context) (string, error) {
	return t.withETag(func(ctx context.Context, s etagSession) (string, error) {
		tag, err := needETag("POST", s.created)
		if err != nil {
			return "", err
		}
		return fn(ctx, s, tag)
	})
}

// needETag fails when the server sent no ETag, which every conditional
// request needs.
func needETag(what string, resp response) (string, error) {
	tag := resp.header.Get("ETag")
	if tag == "" {
		return "", fmt.Errorf("no ETag on the %d answer to %s: conditional requests are impossible", resp.status, what)
	}
	return tag, nil
}

// opaqueTag is an entity tag without W/ and quotes.
func opaqueTag(tag string) string {
	return strings.Trim(strings.TrimPrefix(tag, "W/"), `"`)
}

func (t *target) get(ctx context.Context, path string, hdr ...string) (response, error) {
	return t.c.do(ctx, request{method: http.MethodGet, path: path, header: headerOf(hdr...)})
}

// put writes body to s with If-Match ifMatch ("" for none).
func (t *target) put(ctx context.Context, s etagSession, ifMatch string, body []byte) (response, error) {
	hdr := headerOf("Content-Type", textPlain)
	if ifMatch != "" {
		hdr.Set("If-Match", ifMatch)
	}
	return t.c.do(ctx, request{method: http.MethodPut, path: s.path, body: body, header: hdr})
}

// headerOf builds a header from name/value pairs.
func headerOf(pairs ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Set(pairs[i], pairs[i+1])
	}
	return h
}

// createdStatus is 200 on the seed mounts and 201 on the Matrix mounts.
func (t *target) createdStatus() int {
	if t.mount.Flavour == api.FlavourSimple && !strings.HasPrefix(t.mount.Path, "/_matrix/") {
		return http.StatusOK
	}
	return http.StatusCreated
}

func (t *target) etagCreate(ctx context.Context, s etagSession) (string, error) {
	var problems []string
	if err := wantStatus(s.created, t.createdStatus()); err != nil {
		problems = append(problems, err.Error())
	}
	if err := checkID(s.body.ID); err != nil {
		problems = append(problems, err.Error())
	}
	if s.body.URL == "" {
		problems = append(problems, "no url")
	}
	if s.body.MaxBytes <= 0 {
		problems = append(problems, fmt.Sprintf("max_bytes %d, want a positive limit", s.body.MaxBytes))
	}
	if s.body.ExpiresInMs <= 0 {
		problems = append(problems, fmt.Sprintf("expires_in_ms %d, want a positive lifetime", s.body.ExpiresInMs))
	}
	if err := joinProblems(problems); err != nil {
		return "", err
	}
	return fmt.Sprintf("POST answers %d with id, url, max_bytes and expires_in_ms", s.created.status), nil
}

// sessionHeaders lists what is missing of the headers every answer about a
// session carries.
func sessionHeaders(resp response) []string {
	var problems []string
	for _, h := range []string{"ETag", "Expires", "Last-Modified", "X-Expires-In-Ms"} {
		if resp.header.Get(h) == "" {
			problems = append(problems, fmt.Sprintf("no %s on the %d answer", h, resp.status))
		}
	}
	if err := noStore(resp); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

func (t *target) etagHeaders(ctx context.Context, s etagSession) (string, error) {
	problems := writeHeaders(s.created, s.body.MaxBytes)
	if err := refersTo("Location", s.created.header.Get("Location"), s.path); err != nil {
		problems = append(problems, err.Error())
	}
	read, err := t.get(ctx, s.path)
	if err != nil {
		return "", err
	}
	problems = append(problems, sessionHeaders(read)...)
	w, err := t.createETag(ctx, payload("headers", 0), textPlain)
	if err != nil {
		return "", err
	}
	put, err := t.put(ctx, w, w.etag, payload("headers", 1))
	if err != nil {
		return "", err
	}
	if err := wantStatus(put, http.StatusAccepted); err != nil {
		return "", fmt.Errorf("PUT with If-Match %s: %w", w.etag, err)
	}
	problems = append(problems, writeHeaders(put, s.body.MaxBytes)...)
	if err := joinProblems(problems); err != nil {
		return "", err
	}
	return "POST, PUT and GET carry ETag, Expires, Last-Modified, X-Expires-In-Ms, Cache-Control; POST and PUT also X-Max-Bytes, Pragma; POST Location", nil
}

// writeHeaders lists what is missing of the headers of an answer to a
// write.
func writeHeaders(resp response, maxBytes int) []string {
	problems := sessionHeaders(resp)
	if got := resp.header.Get("X-Max-Bytes"); got != strconv.Itoa(maxBytes) {
		problems = append(problems, fmt.Sprintf("X-Max-Bytes %q on the %d answer, want %d as in max_bytes", got, resp.status, maxBytes))
	}
	if got := resp.header.Get("Pragma"); !strings.EqualFold(got, "no-cache") {
		problems = append(problems, fmt.Sprintf("Pragma %q on the %d answer, want no-cache", got, resp.status))
	}
	return problems
}

func (t *target) etagSessionURL(_ context.Context, s etagSession) (string, error) {
	u, err := url.Parse(s.body.URL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("url %q is not an absolute URL", s.body.URL)
	}
	base := t.c.base
	if u.Scheme != base.Scheme || !strings.EqualFold(canonicalHostPort(u), canonicalHostPort(base)) {
		return "", fmt.Errorf("url %s is on %s://%s, but the server was reached at %s://%s: clients handed it go elsewhere "+
			"(a proxy that does not forward Host, TLS ended at a proxy, or a wrong public URL setting?)",
			s.body.URL, u.Scheme, u.Host, base.Scheme, base.Host)
	}
	if want := base.Path + s.path; u.Path != want {
		return "", fmt.Errorf("url %s has path %s, want %s", s.body.URL, u.Path, want)
	}
	return "url is absolute and names the session on the origin checked", nil
}

func (t *target) etagFormat(ctx context.Context, s etagSession, tag string) (string, error) {
	switch {
	case strings.HasPrefix(tag, "W/"):
		return "", fmt.Errorf("ETag %s is weak: a proxy weakened it (compression?); If-Match needs a strong tag", tag)
	case len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"':
		return "", fmt.Errorf("ETag %s is not a quoted entity tag", tag)
	case !urlSafe(tag[1 : len(tag)-1]):
		return "", fmt.Errorf("ETag %s holds characters that are not URL-safe", tag)
	}
	return fmt.Sprintf("ETag %s is strong, quoted and URL-safe", tag), nil
}

func (t *target) etagLifetime(ctx context.Context, s etagSession) (string, error) {
	reason, err := checkLifetime(s.body.ExpiresInMs)
	if err != nil {
		return "", err
	}
	hdr, err := strconv.ParseInt(s.created.header.Get("X-Expires-In-Ms"), 10, 64)
	if err == nil && abs(hdr-s.body.ExpiresInMs) > headerSlack.Milliseconds() {
		return "", fmt.Errorf("X-Expires-In-Ms %d disagrees with expires_in_ms %d", hdr, s.body.ExpiresInMs)
	}
	return reason, nil
}

func abs(n int64) int64 { return max(n, -n) }

func (t *target) etagExpiresHeader(ctx context.Context, s etagSession) (string, error) {
	if err := expiresHeaders(s.created); err != nil {
		return "", err
	}
	return "Expires = Date + X-Expires-In-Ms; Last-Modified is an HTTP date", nil
}

func (t *target) etagClockSkew(ctx context.Context, s etagSession) (string, error) {
	return clockSkew(s.created, t.cfg.MaxSkew)
}

func (t *target) etagRead(ctx context.Context, s etagSession) (string, error) {
	resp, err := t.get(ctx, s.path)
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return "", err
	}
	var problems []string
	if string(resp.body) != string(s.payload) {
		problems = append(problems, fmt.Sprintf("GET returned %q, want the %q written", snippet(resp.body), s.payload))
	}
	if ct := resp.header.Get("Content-Type"); ct != textPlain {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want exactly %q as written", ct, textPlain))
	}
	if tag := resp.header.Get("ETag"); tag != s.etag {
		problems = append(problems, fmt.Sprintf("ETag %s on GET, want %s as on POST", tag, s.etag))
	}
	if err := joinProblems(problems); err != nil {
		return "", err
	}
	return "GET returns the bytes, exact Content-Type and ETag written", nil
}

func (t *target) etagNotModified(ctx context.Context, s etagSession, tag string) (string, error) {
	resp, err := t.get(ctx, s.path, "If-None-Match", tag)
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusNotModified); err != nil {
		return "", fmt.Errorf("If-None-Match %s: %w", tag, err)
	}
	if got := resp.header.Get("ETag"); got != tag {
		return "", fmt.Errorf("304 carries ETag %q, want %s", got, tag)
	}
	return "If-None-Match with the current tag answers 304 with the tag", nil
}

func (t *target) etagIfNoneMatchForms(ctx context.Context, s etagSession, tag string) (string, error) {
	v := opaqueTag(tag)
	forms := []struct {
		value string
		want  int
	}{
		{`W/"` + v + `"`, http.StatusNotModified},
		{`"` + v + `-gzip"`, http.StatusNotModified},
		{`"other-1", "` + v + `"`, http.StatusNotModified},
		{`*`, http.StatusNotModified},
		{`"other-1"`, http.StatusOK},
	}
	var problems []string
	for _, f := range forms {
		resp, err := t.get(ctx, s.path, "If-None-Match", f.value)
		if err != nil {
			return "", err
		}
		if err := wantStatus(resp, f.want); err != nil {
			problems = append(problems, fmt.Sprintf("If-None-Match %s: %v", f.value, err))
		}
	}
	if err := joinProblems(problems); err != nil {
		return "", err
	}
	return "weak, proxy-mangled (-gzip), listed and * forms of the tag answer 304; another tag 200", nil
}

func (t *target) etagCORS(ctx context.Context, s etagSession) (string, error) {
	read, err := t.get(ctx, s.path)
	if err != nil {
		return "", err
	}
	for _, resp := range []response{s.created, read} {
		if err := corsFull(resp, t.cfg.Origin); err != nil {
			return "", err
		}
	}
	return "POST and GET answers are readable cross-origin and expose the contract's headers", nil
}

// write creates a session and writes to it once, returning the session,
// the tag written over and the new tag.
func (t *target) write(ctx context.Context, name string, body []byte) (s etagSession, before, after string, err error) {
	if s, err = t.createETag(ctx, payload(name, 0), textPlain); err != nil {
		return s, "", "", err
	}
	if before, err = needETag("POST", s.created); err != nil {
		return s, "", "", err
	}
	resp, err := t.put(ctx, s, before, body)
	if err != nil {
		return s, "", "", err
	}
	if err := wantStatus(resp, http.StatusAccepted); err != nil {
		return s, "", "", fmt.Errorf("PUT with If-Match %s: %w", before, err)
	}
	after, err = needETag("PUT", resp)
	return s, before, after, err
}

func (t *target) etagChanges(ctx context.Context) (string, error) {
	same := payload("shared", 0) // the bytes the session was created with
	s, first, second, err := t.write(ctx, "shared", same)
	if err != nil {
		return "", err
	}
	if second == first {
		return "", fmt.Errorf("ETag %s unchanged after rewriting identical bytes: the tag is derived from the payload (or a proxy replaced it)", first)
	}
	resp, err := t.put(ctx, s, second, same)
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusAccepted); err != nil {
		return "", err
	}
	third, err := needETag("PUT", resp)
	if err != nil {
		return "", err
	}
	if third == second || third == first {
		return "", fmt.Errorf("ETag %s repeated after a second identical write (tags %s, %s, %s)", third, first, second, third)
	}
	read, err := t.get(ctx, s.path)
	if err != nil {
		return "", err
	}
	if got := read.header.Get("ETag"); got != third {
		return "", fmt.Errorf("GET after the writes has ETag %s, want %s", got, third)
	}
	return fmt.Sprintf("three writes of identical bytes gave three tags (%s, %s, %s)", first, second, third), nil
}

func (t *target) etagStaleWrite(ctx context.Context) (string, error) {
	s, stale, current, err := t.write(ctx, "stale-write", payload("stale-write", 1))
	if err != nil {
		return "", err
	}
	resp, err := t.put(ctx, s, stale, payload("stale-write", 2))
	if err != nil {
		return "", err
	}
	if err := wantError(resp, http.StatusPreconditionFailed, "M_CONCURRENT_WRITE"); err != nil {
		return "", fmt.Errorf("PUT with the stale If-Match %s and other bytes: %w", stale, err)
	}
	if t.mount.Flavour == api.FlavourMSC4108 {
		if e, _ := decodeError(resp); e.MSC4108ErrCode != "M_CONCURRENT_WRITE" {
			return "", fmt.Errorf("412 has org.matrix.msc4108.errcode %q, want M_CONCURRENT_WRITE", e.MSC4108ErrCode)
		}
	}
	if got := resp.header.Get("ETag"); got != current {
		return "", fmt.Errorf("412 carries ETag %q, want the current %s so the client can resynchronise", got, current)
	}
	if err := joinProblems(sessionHeaders(resp)); err != nil {
		return "", err
	}
	read, err := t.get(ctx, s.path)
	if err != nil {
		return "", err
	}
	if string(read.body) != string(payload("stale-write", 1)) {
		return "", fmt.Errorf("the refused write changed the session: GET returns %q", snippet(read.body))
	}
	return "a stale If-Match answers 412 M_CONCURRENT_WRITE with the current ETag, and writes nothing", nil
}

func (t *target) etagIdempotentRetry(ctx context.Context) (string, error) {
	body := payload("idempotent-retry", 1)
	s, before, after, err := t.write(ctx, "idempotent-retry", body)
	if err != nil {
		return "", err
	}
	resp, err := t.put(ctx, s, before, body)
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusAccepted); err != nil {
		return "", fmt.Errorf("retrying a PUT (If-Match %s, same bytes) after its answer was lost: %w", before, err)
	}
	if got := resp.header.Get("ETag"); got != after {
		return "", fmt.Errorf("the retried PUT answered ETag %q, want %s (the retry must not write again)", got, after)
	}
	return "a retried PUT with the replaced tag and identical bytes answers 202 with the same ETag", nil
}

func (t *target) etagContentType(ctx context.Context) (string, error) {
	if t.mount.Flavour == api.FlavourMSC4108 {
		resp, err := t.c.do(ctx, request{method: http.MethodPost, path: t.basePath(), body: payload("content-type", 0),
			header: headerOf("Content-Type", "application/octet-stream")})
		if err != nil {
			return "", err
		}
		if err := wantError(resp, http.StatusBadRequest, "M_INVALID_PARAM"); err != nil {
			return "", fmt.Errorf("POST application/octet-stream: %w", err)
		}
		return "a content type other than text/plain answers 400 M_INVALID_PARAM", nil
	}
	s, err := t.createETag(ctx, payload("content-type", 0), "")
	if err != nil {
		return "", fmt.Errorf("without Content-Type: %w", err)
	}
	resp, err := t.get(ctx, s.path)
	if err != nil {
		return "", err
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/octet-stream" {
		return "", fmt.Errorf("a payload written without Content-Type reads back as %q, want application/octet-stream", ct)
	}
	return "a payload written without Content-Type reads back as application/octet-stream", nil
}

func (t *target) etagIfMatchOptional(ctx context.Context) (string, error) {
	s, err := t.createETag(ctx, payload("if-match-optional", 0), textPlain)
	if err != nil {
		return "", err
	}
	resp, err := t.put(ctx, s, "", payload("if-match-optional", 1))
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusAccepted); err != nil {
		return "", fmt.Errorf("PUT without If-Match (which means *): %w", err)
	}
	return "PUT without If-Match writes unconditionally (202)", nil
}

func (t *target) etagIfMatchRequired(ctx context.Context) (string, error) {
	s, err := t.createETag(ctx, payload("if-match-required", 0), textPlain)
	if err != nil {
		return "", err
	}
	resp, err := t.put(ctx, s, "", payload("if-match-required", 1))
	if err != nil {
		return "", err
	}
	if err := wantError(resp, http.StatusBadRequest, "M_MISSING_PARAM"); err != nil {
		return "", fmt.Errorf("PUT without If-Match: %w", err)
	}
	return "PUT without If-Match answers 400 M_MISSING_PARAM", nil
}

// maxBytes is the server's advertised payload limit, or the contract's
// default when it advertised none.
func (t *target) maxBytes(ctx context.Context) int {
	if s, err := t.sharedETag(ctx); err == nil && s.body.MaxBytes > 0 {
		return s.body.MaxBytes
	}
	return 4096
}

func (t *target) etagTooLarge(ctx context.Context) (string, error) {
	n := t.maxBytes(ctx) + 1
	resp, err := t.c.do(ctx, request{method: http.MethodPost, path: t.basePath(), body: make([]byte, n),
		header: headerOf("Content-Type", textPlain)})
	if err != nil {
		return "", err
	}
	return tooLarge(resp, t.cfg.Origin, fmt.Sprintf("%d bytes", n))
}

// notFound GETs a session that does not exist.
func (t *target) notFound(ctx context.Context) (string, error) {
	resp, err := t.c.do(ctx, request{method: http.MethodGet, path: t.itemPath(unknownID())})
	if err != nil {
		return "", err
	}
	if err := wantError(resp, http.StatusNotFound, "M_NOT_FOUND"); err != nil {
		return "", fmt.Errorf("GET of an unknown id: %w", err)
	}
	return "an unknown id answers 404 M_NOT_FOUND", nil
}

// errorResponses provokes the error answers of an ETag flavour: 404, 412,
// and (msc4108) 400.
func (t *target) etagErrorResponses(ctx context.Context) ([]response, error) {
	s, err := t.createETag(ctx, payload("cors-errors", 0), textPlain)
	if err != nil {
		return nil, err
	}
	reqs := []request{
		{method: http.MethodGet, path: t.itemPath(unknownID())},
		{method: http.MethodPut, path: s.path, body: payload("cors-errors", 1),
			header: headerOf("Content-Type", textPlain, "If-Match", `"stale-1"`)},
	}
	if t.mount.Flavour == api.FlavourMSC4108 {
		reqs = append(reqs, request{method: http.MethodPut, path: s.path, body: payload("cors-errors", 1),
			header: headerOf("Content-Type", textPlain)})
	}
	return t.doAll(ctx, reqs)
}

// doAll sends each request in turn.
func (t *target) doAll(ctx context.Context, reqs []request) ([]response, error) {
	var out []response
	for _, r := range reqs {
		resp, err := t.c.do(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, resp)
	}
	return out, nil
}

func (t *target) etagCORSErrors(ctx context.Context) (string, error) {
	resps, err := t.etagErrorResponses(ctx)
	if err != nil {
		return "", err
	}
	return corsOnErrors(resps, t.cfg.Origin)
}

// corsOnErrors fails unless every response is an error readable
// cross-origin.
func corsOnErrors(resps []response, origin string) (string, error) {
	var statuses []string
	for _, resp := range resps {
		if resp.status < 400 {
			return "", fmt.Errorf("expected an error answer, got status %d", resp.status)
		}
		if err := corsFull(resp, origin); err != nil {
			return "", err
		}
		statuses = append(statuses, strconv.Itoa(resp.status))
	}
	return fmt.Sprintf("error answers (%s) are readable cross-origin and expose the contract's headers", strings.Join(statuses, ", ")), nil
}

func (t *target) etagPreflight(ctx context.Context) (string, error) {
	item := t.itemPath(unknownID())
	return t.preflights(ctx, []preflight{
		{method: http.MethodPost, path: t.basePath(), headers: []string{"content-type"}},
		{method: http.MethodGet, path: item, headers: []string{"if-none-match", "prefer"}},
		{method: http.MethodGet, path: item, headers: []string{"x-requested-with", "authorization"}},
		{method: http.MethodPut, path: item, headers: []string{"content-type", "if-match"}},
		{method: http.MethodDelete, path: item},
	})
}

// preflights sends each preflight as a browser would and checks it.
func (t *target) preflights(ctx context.Context, pfs []preflight) (string, error) {
	var done []string
	for _, p := range pfs {
		hdr := headerOf("Access-Control-Request-Method", p.method)
		if len(p.headers) > 0 {
			hdr.Set("Access-Control-Request-Headers", p.requestHeaders())
		}
		resp, err := t.c.do(ctx, request{method: http.MethodOptions, path: p.path, header: hdr})
		if err != nil {
			return "", err
		}
		if err := p.check(resp, t.cfg.Origin); err != nil {
			return "", err
		}
		done = append(done, strings.TrimSpace(p.method+" "+p.requestHeaders()))
	}
	return "preflights allowed: " + strings.Join(done, "; "), nil
}

func (t *target) etagDelete(ctx context.Context) (string, error) {
	s, err := t.createETag(ctx, payload("delete", 0), textPlain)
	if err != nil {
		return "", err
	}
	resp, err := t.c.do(ctx, request{method: http.MethodDelete, path: s.path})
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusNoContent); err != nil {
		return "", fmt.Errorf("DELETE: %w", err)
	}
	return t.goneAfterDelete(ctx, s.path, "DELETE answers 204")
}

// goneAfterDelete fails unless path now answers 404.
func (t *target) goneAfterDelete(ctx context.Context, path, reason string) (string, error) {
	resp, err := t.get(ctx, path)
	if err != nil {
		return "", err
	}
	if err := wantError(resp, http.StatusNotFound, "M_NOT_FOUND"); err != nil {
		return "", fmt.Errorf("GET after DELETE: %w", err)
	}
	return reason + "; the session then answers 404", nil
}

// errNotOffered marks a server that does not hold a long-poll.
var errNotOffered = errors.New("long-poll not offered")
