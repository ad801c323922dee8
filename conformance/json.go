package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The msc4388 flavour: JSON bodies, the version travels as sequence_token.

// tooLargeJSON is the data size the checker sends to provoke a 413: the
// flavour does not advertise its limit, and this is far above the
// contract's default of 4096 bytes.
const tooLargeJSON = 64<<10 + 1

// jsonSession is a session the checker created.
type jsonSession struct {
	path    string
	id      string
	token   string
	data    string
	expires int64
	created response
}

// jsonState is a session as the flavour returns it.
type jsonState struct {
	ID            string  `json:"id"`
	Data          *string `json:"data"`
	SequenceToken string  `json:"sequence_token"`
	ExpiresInMs   int64   `json:"expires_in_ms"`
}

func (t *target) jsonChecks() []check {
	return []check{
		{name: "discovery", run: t.jsonDiscovery},
		{name: "create", run: t.withJSON(t.jsonCreate)},
		{name: "lifetime", run: t.withJSON(t.jsonLifetime)},
		{name: "clock-skew", run: t.withJSON(t.jsonClockSkew)},
		{name: "read", run: t.withJSON(t.jsonRead)},
		{name: "cors", run: t.withJSON(t.jsonCORS)},
		{name: "navigation-refused", run: t.withJSON(t.jsonNavigation)},
		{name: "token-changes", run: t.jsonTokenChanges},
		{name: "stale-write", run: t.jsonStaleWrite},
		{name: "idempotent-retry", run: t.jsonIdempotentRetry},
		{name: "too-large", run: t.jsonTooLarge},
		{name: "not-found", run: t.notFound},
		{name: "cors-errors", run: t.jsonCORSErrors},
		{name: "preflight", run: t.jsonPreflight},
		{name: "delete", run: t.jsonDelete},
		{name: "long-poll", run: t.jsonLongPoll},
		{name: "expiry", run: t.jsonExpiry, background: true},
	}
}

// jsonBody encodes v.
func jsonBody(v any) []byte {
	b, _ := json.Marshal(v) // maps of strings always encode
	return b
}

func (t *target) createJSON(ctx context.Context, data string) (jsonSession, error) {
	resp, err := t.c.do(ctx, request{method: http.MethodPost, path: t.basePath(),
		body: jsonBody(map[string]string{"data": data}), header: headerOf("Content-Type", "application/json")})
	if err != nil {
		return jsonSession{}, fmt.Errorf("create a session: %w", err)
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return jsonSession{}, fmt.Errorf("create a session: %w", err)
	}
	st, err := decodeJSON[jsonState](resp)
	if err != nil {
		return jsonSession{}, fmt.Errorf("create a session: %w", err)
	}
	if st.ID == "" || !urlSafe(st.ID) || st.SequenceToken == "" {
		return jsonSession{}, fmt.Errorf("create a session: answer lacks a usable id (%q) or sequence_token (%q)", st.ID, st.SequenceToken)
	}
	return jsonSession{path: t.itemPath(st.ID), id: st.ID, token: st.SequenceToken, data: data,
		expires: st.ExpiresInMs, created: resp}, nil
}

func (t *target) sharedJSON(ctx context.Context) (jsonSession, error) {
	if t.shared == nil {
		s, err := t.createJSON(ctx, string(payload("shared", 0)))
		t.shared = &sharedSession{json: s, err: err}
	}
	return t.shared.json, t.shared.err
}

// withJSON adapts a check of the shared session.
func (t *target) withJSON(fn func(context.Context, jsonSession) (string, error)) func(context.Context) (string, error) {
	return onShared(t.sharedJSON, fn)
}

// putJSON writes data to s, naming token as the version written over.
func (t *target) putJSON(ctx context.Context, s jsonSession, token, data string) (response, error) {
	return t.c.do(ctx, request{method: http.MethodPut, path: s.path, header: headerOf("Content-Type", "application/json"),
		body: jsonBody(map[string]string{"data": data, "sequence_token": token})})
}

// readJSON GETs a session and decodes it.
func (t *target) readJSON(ctx context.Context, path string) (jsonState, response, error) {
	resp, err := t.get(ctx, path)
	if err != nil {
		return jsonState{}, resp, err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return jsonState{}, resp, fmt.Errorf("GET: %w", err)
	}
	st, err := decodeJSON[jsonState](resp)
	if err == nil && (st.Data == nil || st.SequenceToken == "") {
		err = fmt.Errorf("GET answer lacks data or sequence_token: %q", snippet(resp.body))
	}
	return st, resp, err
}

func (t *target) jsonDiscovery(ctx context.Context) (string, error) {
	resp, err := t.get(ctx, t.basePath())
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return "", fmt.Errorf("GET %s: %w", t.basePath(), err)
	}
	d, err := decodeJSON[struct {
		CreateAvailable *bool `json:"create_available"`
	}](resp)
	if err != nil {
		return "", err
	}
	if d.CreateAvailable == nil || !*d.CreateAvailable {
		return "", fmt.Errorf("discovery answers %q, want create_available: true", snippet(resp.body))
	}
	return "GET on the base answers create_available: true", nil
}

func (t *target) jsonCreate(ctx context.Context, s jsonSession) (string, error) {
	var problems []string
	if err := checkID(s.id); err != nil {
		problems = append(problems, err.Error())
	}
	if s.expires <= 0 {
		problems = append(problems, fmt.Sprintf("expires_in_ms %d, want a positive lifetime", s.expires))
	}
	if err := noStore(s.created); err != nil {
		problems = append(problems, err.Error())
	}
	if err := joinProblems(problems); err != nil {
		return "", err
	}
	return "POST answers 200 with id, sequence_token and expires_in_ms", nil
}

func (t *target) jsonLifetime(ctx context.Context, s jsonSession) (string, error) {
	return checkLifetime(s.expires)
}

func (t *target) jsonClockSkew(ctx context.Context, s jsonSession) (string, error) {
	return clockSkew(s.created, t.cfg.MaxSkew)
}

func (t *target) jsonRead(ctx context.Context, s jsonSession) (string, error) {
	st, _, err := t.readJSON(ctx, s.path)
	if err != nil {
		return "", err
	}
	if *st.Data != s.data || st.SequenceToken != s.token {
		return "", fmt.Errorf("GET returned data %q token %q, want %q and %q as created", *st.Data, st.SequenceToken, s.data, s.token)
	}
	return "GET returns the data and sequence_token written", nil
}

func (t *target) jsonCORS(ctx context.Context, s jsonSession) (string, error) {
	_, read, err := t.readJSON(ctx, s.path)
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

func (t *target) jsonNavigation(ctx context.Context, s jsonSession) (string, error) {
	resp, err := t.c.do(ctx, request{method: http.MethodGet, path: s.path, noOrigin: true,
		header: headerOf("Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document")})
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusForbidden); err != nil {
		return "", fmt.Errorf("a top-level navigation to a session: %w", err)
	}
	return "a top-level navigation to a session answers 403", nil
}

// writeJSON creates a session and writes data over its first version.
func (t *target) writeJSON(ctx context.Context, name, data string) (s jsonSession, before, after string, err error) {
	if s, err = t.createJSON(ctx, string(payload(name, 0))); err != nil {
		return s, "", "", err
	}
	resp, err := t.putJSON(ctx, s, s.token, data)
	if err != nil {
		return s, "", "", err
	}
	after, err = updatedToken(resp)
	return s, s.token, after, err
}

// updatedToken reads the answer to a successful PUT.
func updatedToken(resp response) (string, error) {
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return "", fmt.Errorf("PUT: %w", err)
	}
	u, err := decodeJSON[jsonState](resp)
	if err == nil && u.SequenceToken == "" {
		err = fmt.Errorf("PUT answer has no sequence_token: %q", snippet(resp.body))
	}
	return u.SequenceToken, err
}

func (t *target) jsonTokenChanges(ctx context.Context) (string, error) {
	same := string(payload("token-changes", 0))
	s, first, second, err := t.writeJSON(ctx, "token-changes", same)
	if err != nil {
		return "", err
	}
	if second == first {
		return "", fmt.Errorf("sequence_token %q unchanged after rewriting identical data", first)
	}
	resp, err := t.putJSON(ctx, s, second, same)
	if err != nil {
		return "", err
	}
	third, err := updatedToken(resp)
	if err != nil {
		return "", err
	}
	if third == second || third == first {
		return "", fmt.Errorf("sequence_token %q repeated after a second identical write", third)
	}
	return fmt.Sprintf("three writes of identical data gave three tokens (%s, %s, %s)", first, second, third), nil
}

func (t *target) jsonStaleWrite(ctx context.Context) (string, error) {
	written := string(payload("stale-write", 1))
	s, stale, _, err := t.writeJSON(ctx, "stale-write", written)
	if err != nil {
		return "", err
	}
	resp, err := t.putJSON(ctx, s, stale, string(payload("stale-write", 2)))
	if err != nil {
		return "", err
	}
	if err := wantError(resp, http.StatusConflict, "M_CONCURRENT_WRITE"); err != nil {
		return "", fmt.Errorf("PUT with a stale sequence_token and other data: %w", err)
	}
	st, _, err := t.readJSON(ctx, s.path)
	if err != nil {
		return "", err
	}
	if *st.Data != written {
		return "", fmt.Errorf("the refused write changed the session: GET returns %q", *st.Data)
	}
	return "a stale sequence_token answers 409 M_CONCURRENT_WRITE and writes nothing", nil
}

func (t *target) jsonIdempotentRetry(ctx context.Context) (string, error) {
	data := string(payload("idempotent-retry", 1))
	s, before, after, err := t.writeJSON(ctx, "idempotent-retry", data)
	if err != nil {
		return "", err
	}
	resp, err := t.putJSON(ctx, s, before, data)
	if err != nil {
		return "", err
	}
	got, err := updatedToken(resp)
	if err != nil {
		return "", fmt.Errorf("retrying a PUT (same token, same data) after its answer was lost: %w", err)
	}
	if got != after {
		return "", fmt.Errorf("the retried PUT answered sequence_token %q, want %q (the retry must not write again)", got, after)
	}
	return "a retried PUT with the replaced token and identical data answers 200 with the same token", nil
}

func (t *target) jsonTooLarge(ctx context.Context) (string, error) {
	resp, err := t.c.do(ctx, request{method: http.MethodPost, path: t.basePath(), header: headerOf("Content-Type", "application/json"),
		body: jsonBody(map[string]string{"data": strings.Repeat("x", tooLargeJSON)})})
	if err != nil {
		return "", err
	}
	if resp.status == http.StatusOK {
		if st, err := decodeJSON[jsonState](resp); err == nil && st.ID != "" {
			t.c.do(ctx, request{method: http.MethodDelete, path: t.itemPath(st.ID)}) // best effort: tidy up
		}
		return "", skip("the server accepts %d bytes of data; its limit is higher", tooLargeJSON)
	}
	return tooLarge(resp, t.cfg.Origin, fmt.Sprintf("%d bytes of data", tooLargeJSON))
}

func (t *target) jsonCORSErrors(ctx context.Context) (string, error) {
	s, err := t.createJSON(ctx, string(payload("cors-errors", 0)))
	if err != nil {
		return "", err
	}
	resps, err := t.doAll(ctx, []request{
		{method: http.MethodGet, path: t.itemPath(unknownID())},
		{method: http.MethodPut, path: s.path, header: headerOf("Content-Type", "application/json"),
			body: jsonBody(map[string]string{"data": "x", "sequence_token": "stale-1"})},
	})
	if err != nil {
		return "", err
	}
	return corsOnErrors(resps, t.cfg.Origin)
}

func (t *target) jsonPreflight(ctx context.Context) (string, error) {
	item := t.itemPath(unknownID())
	return t.preflights(ctx, []preflight{
		{method: http.MethodPost, path: t.basePath(), headers: []string{"content-type"}},
		{method: http.MethodPut, path: item, headers: []string{"content-type"}},
		{method: http.MethodGet, path: item, headers: []string{"x-requested-with", "authorization"}},
		{method: http.MethodDelete, path: item},
	})
}

func (t *target) jsonDelete(ctx context.Context) (string, error) {
	s, err := t.createJSON(ctx, string(payload("delete", 0)))
	if err != nil {
		return "", err
	}
	resp, err := t.c.do(ctx, request{method: http.MethodDelete, path: s.path})
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return "", fmt.Errorf("DELETE: %w", err)
	}
	if _, err := decodeJSON[map[string]any](resp); err != nil {
		return "", fmt.Errorf("DELETE: %w", err)
	}
	return t.goneAfterDelete(ctx, s.path, "DELETE answers 200 {}")
}

// pollPath is a session path with the long-poll parameters.
func pollPath(path, since string, wait time.Duration) string {
	q := url.Values{"since": {since}, "wait_ms": {strconv.FormatInt(wait.Milliseconds(), 10)}}
	return path + "?" + q.Encode()
}

func (t *target) jsonLongPoll(ctx context.Context) (string, error) {
	s, err := t.createJSON(ctx, string(payload("long-poll", 0)))
	if err != nil {
		return "", err
	}
	start := t.c.now()
	probe, err := t.c.do(ctx, request{method: http.MethodGet, path: pollPath(s.path, s.token, probeWait), wait: probeWait})
	if err != nil {
		return "", err
	}
	if err := wantStatus(probe, http.StatusOK); err != nil {
		return "", fmt.Errorf("long-poll on an unchanged session: %w", err)
	}
	if t.c.now().Sub(start) < heldAtLeast {
		return "", skip("%v (wait_ms answered at once)", errNotOffered)
	}
	next := string(payload("long-poll", 1))
	req := request{method: http.MethodGet, path: pollPath(s.path, s.token, wakeWait), wait: wakeWait}
	res, err := t.wake(ctx, req, func() error {
		resp, err := t.putJSON(ctx, s, s.token, next)
		if err == nil {
			_, err = updatedToken(resp)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if err := wantStatus(res.resp, http.StatusOK); err != nil {
		return "", fmt.Errorf("woken long-poll: %w", err)
	}
	st, err := decodeJSON[jsonState](res.resp)
	if err != nil {
		return "", err
	}
	if st.Data == nil || *st.Data != next || st.SequenceToken == s.token {
		return "", fmt.Errorf("woken long-poll returned %q, want the new data %q and a new token", snippet(res.resp.body), next)
	}
	return fmt.Sprintf("?since=&wait_ms= holds GET and a write answers it at once (%v)", res.took.Round(time.Millisecond)), nil
}

func (t *target) jsonExpiry(ctx context.Context) (string, error) {
	if t.cfg.Quick {
		return "", skip("quick mode: not waiting for a session to expire")
	}
	s, err := t.createJSON(ctx, string(payload("expiry", 0)))
	if err != nil {
		return "", err
	}
	return t.expiry(ctx, s.expires, s.path)
}
