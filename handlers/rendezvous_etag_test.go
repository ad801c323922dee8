package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
)

func TestCreateStatusAndHeaders(t *testing.T) {
	tests := []struct {
		name, base string
		status     int
	}{
		{"seed mount answers 200", seedBase, http.StatusOK},
		{"msc3886 mount answers 201", msc3886Base, http.StatusCreated},
		{"msc4108 mount answers 201", msc4108Base, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{http: handlers.Config{PublicURL: "https://rz.example/prefix"}})
			rec := f.do(t, http.MethodPost, tt.base, "hello", "Content-Type", "text/plain")
			if rec.Code != tt.status {
				t.Fatalf("POST %s = %d, want %d; body %s", tt.base, rec.Code, tt.status, rec.Body)
			}
			got := decodeBody[api.RendezvousCreated](t, rec)
			loc := rec.Header().Get("Location")
			if loc != tt.base+"/"+got.ID || got.URL != "https://rz.example/prefix"+loc {
				t.Errorf("Location %q, url %q, want %s/<id> and the absolute URL", loc, got.URL, tt.base)
			}
			if got.MaxBytes != rendezvous.DefaultMaxBytes || got.ExpiresInMs != rendezvous.DefaultTTL.Milliseconds() {
				t.Errorf("max_bytes %d expires_in_ms %d, want defaults", got.MaxBytes, got.ExpiresInMs)
			}
			if len(got.ID) < 22 {
				t.Errorf("id %q carries fewer than 128 bits", got.ID)
			}
			for h, want := range map[string]string{
				"X-Max-Bytes": "4096", "Cache-Control": "no-store, no-transform", "Pragma": "no-cache",
				"X-Expires-In-Ms": "300000", "Expires": "Wed, 04 Mar 2026 05:11:07 GMT",
				"Last-Modified": "Wed, 04 Mar 2026 05:06:07 GMT", "Access-Control-Allow-Origin": "*",
			} {
				if v := rec.Header().Get(h); v != want {
					t.Errorf("header %s = %q, want %q", h, v, want)
				}
			}
			if etag := rec.Header().Get("ETag"); !validETag(etag) {
				t.Errorf("ETag %q is not a quoted URL-safe strong tag", etag)
			}
		})
	}
}

func validETag(s string) bool {
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for _, c := range s[1 : len(s)-1] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func TestGetReturnsExactContentType(t *testing.T) {
	f := newFixture(t, options{})
	for _, ct := range []string{"text/plain;charset=UTF-8", "application/json", "text/plain"} {
		path, _ := f.create(t, seedBase, `{"a":1}`, "Content-Type", ct)
		rec := f.do(t, http.MethodGet, path, "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ct || rec.Body.String() != `{"a":1}` {
			t.Errorf("GET after POST with %q = %d %q %q, want 200 with the same type and bytes", ct, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	path, _ := f.create(t, seedBase, "raw")
	if got := f.do(t, http.MethodGet, path, "").Header().Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("Content-Type of a payload posted without one = %q, want application/octet-stream", got)
	}
}

func TestIfNoneMatch(t *testing.T) {
	f := newFixture(t, options{})
	path, etag := f.create(t, seedBase, "x")
	opaque := strings.Trim(etag, `"`)
	tests := []struct {
		name, header string
		status       int
	}{
		{"exact tag", etag, http.StatusNotModified},
		{"weak form", "W/" + etag, http.StatusNotModified},
		{"gzip-mangled by a proxy", `"` + opaque + `-gzip"`, http.StatusNotModified},
		{"unquoted", opaque, http.StatusNotModified},
		{"star", "*", http.StatusNotModified},
		{"in a list", `"other-1", ` + etag, http.StatusNotModified},
		{"other tag", `"other-1"`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, http.MethodGet, path, "", "If-None-Match", tt.header)
			if rec.Code != tt.status {
				t.Fatalf("GET If-None-Match %s = %d, want %d", tt.header, rec.Code, tt.status)
			}
			if rec.Header().Get("ETag") != etag || rec.Header().Get("X-Expires-In-Ms") == "" {
				t.Errorf("ETag %q X-Expires-In-Ms %q, want %s and the expiry", rec.Header().Get("ETag"), rec.Header().Get("X-Expires-In-Ms"), etag)
			}
			if tt.status == http.StatusNotModified && rec.Body.Len() != 0 {
				t.Errorf("304 carries a body %q", rec.Body)
			}
		})
	}
}

func TestPut(t *testing.T) {
	f := newFixture(t, options{})
	path, etag := f.create(t, seedBase, "one", "Content-Type", "text/plain")

	// simple: no If-Match writes unconditionally.
	rec := f.do(t, http.MethodPut, path, "two", "Content-Type", "text/plain")
	if rec.Code != http.StatusAccepted || rec.Header().Get("ETag") == etag || rec.Header().Get("X-Max-Bytes") != "4096" {
		t.Fatalf("PUT without If-Match = %d ETag %s, want 202 with a new tag", rec.Code, rec.Header().Get("ETag"))
	}
	two := rec.Header().Get("ETag")

	// Same bytes again: still a new version.
	rec = f.do(t, http.MethodPut, path, "two", "Content-Type", "text/plain", "If-Match", two)
	if rec.Code != http.StatusAccepted || rec.Header().Get("ETag") == two {
		t.Fatalf("PUT of identical bytes = %d ETag %s, want 202 and a new tag", rec.Code, rec.Header().Get("ETag"))
	}
	three := rec.Header().Get("ETag")

	// The response was lost and the client retries: same answer, nothing changes.
	rec = f.do(t, http.MethodPut, path, "two", "Content-Type", "text/plain", "If-Match", two)
	if rec.Code != http.StatusAccepted || rec.Header().Get("ETag") != three {
		t.Errorf("retried PUT = %d ETag %s, want 202 with %s", rec.Code, rec.Header().Get("ETag"), three)
	}

	// A stale tag with other bytes conflicts and reports the current tag.
	rec = f.do(t, http.MethodPut, path, "four", "Content-Type", "text/plain", "If-Match", etag)
	checkError(t, "PUT with a stale If-Match", rec, http.StatusPreconditionFailed, api.CodeConcurrentWrite)
	if rec.Header().Get("ETag") != three {
		t.Errorf("412 ETag = %q, want the current %s", rec.Header().Get("ETag"), three)
	}
	// A weakened tag still matches.
	if rec := f.do(t, http.MethodPut, path, "five", "If-Match", "W/"+three); rec.Code != http.StatusAccepted {
		t.Errorf("PUT with a weakened current tag = %d, want 202", rec.Code)
	}
}

func TestMSC4108Rules(t *testing.T) {
	f := newFixture(t, options{})
	rec := f.do(t, http.MethodPost, msc4108Base, "{}", "Content-Type", "application/json")
	checkError(t, "msc4108 POST with JSON", rec, http.StatusBadRequest, api.CodeInvalidParam)

	path, etag := f.create(t, msc4108Base, "hi", "Content-Type", "text/plain")
	rec = f.do(t, http.MethodPut, path, "x", "Content-Type", "text/plain")
	checkError(t, "msc4108 PUT without If-Match", rec, http.StatusBadRequest, api.CodeMissingParam)

	rec = f.do(t, http.MethodPut, path, "x", "Content-Type", "text/plain", "If-Match", `"stale-9"`)
	checkError(t, "msc4108 PUT with a stale tag", rec, http.StatusPreconditionFailed, api.CodeConcurrentWrite)
	if e := decodeBody[api.Error](t, rec); e.MSC4108ErrCode != api.CodeConcurrentWrite {
		t.Errorf("org.matrix.msc4108.errcode = %q, want %s", e.MSC4108ErrCode, api.CodeConcurrentWrite)
	}
	if rec := f.do(t, http.MethodPut, path, "x", "Content-Type", "text/plain", "If-Match", etag); rec.Code != http.StatusAccepted {
		t.Errorf("msc4108 PUT with the current tag = %d, want 202", rec.Code)
	}
}

// TestHeadOptionsAnd405CORS checks the methods outside the API proper:
// HEAD answers as GET without a body, a plain OPTIONS answers 204 with
// Allow, and a 405 carries the CORS header like every other answer.
func TestHeadOptionsAnd405CORS(t *testing.T) {
	f := newFixture(t, options{})
	path, etag := f.create(t, seedBase, "hello", "Content-Type", "text/plain")
	head := f.do(t, http.MethodHead, path, "")
	if head.Code != http.StatusOK || head.Header().Get("ETag") != etag || head.Header().Get("Content-Length") != "5" {
		t.Errorf("HEAD = %d, ETag %q, Content-Length %q; want 200 with the GET's headers", head.Code, head.Header().Get("ETag"), head.Header().Get("Content-Length"))
	}
	if rec := f.do(t, http.MethodHead, "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("HEAD /healthz = %d, want 200", rec.Code)
	}
	opts := f.do(t, http.MethodOptions, path, "")
	if opts.Code != http.StatusNoContent || opts.Header().Get("Allow") != "DELETE, GET, HEAD, OPTIONS, PUT" {
		t.Errorf("plain OPTIONS = %d, Allow %q; want 204 with Allow", opts.Code, opts.Header().Get("Allow"))
	}
	checkError(t, "PATCH with an Origin", f.do(t, http.MethodPatch, path, ""), http.StatusMethodNotAllowed, api.CodeUnrecognized)
}

// TestMSC4108ServesTextOnly checks that a session written elsewhere with
// another content type is not served on the msc4108 mount, which
// promises text/plain.
func TestMSC4108ServesTextOnly(t *testing.T) {
	f := newFixture(t, options{})
	path, _ := f.create(t, seedBase, "<script>x</script>", "Content-Type", "text/html")
	id := path[strings.LastIndex(path, "/")+1:]
	checkError(t, "text/html session on msc4108", f.do(t, http.MethodGet, msc4108Base+"/"+id, ""), http.StatusNotFound, api.CodeNotFound)
	path, _ = f.create(t, seedBase, "hi", "Content-Type", "text/plain;charset=utf-8")
	id = path[strings.LastIndex(path, "/")+1:]
	if rec := f.do(t, http.MethodGet, msc4108Base+"/"+id, ""); rec.Code != http.StatusOK || rec.Body.String() != "hi" {
		t.Errorf("text/plain session on msc4108 = %d %q, want 200 hi", rec.Code, rec.Body)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t, options{rdv: rendezvous.Config{MaxBytes: 16}})
	path, etag := f.create(t, seedBase, "original", "Content-Type", "text/plain")
	big := strings.Repeat("x", 17)
	tests := []struct {
		name         string
		method, path string
		body         string
		hdr          []string
		status       int
		code         string
	}{
		{"unknown id", http.MethodGet, seedBase + "/AAAAAAAAAAAAAAAAAAAAAAAA", "", nil, 404, api.CodeNotFound},
		{"malformed id", http.MethodGet, seedBase + "/bad%20id", "", nil, 404, api.CodeNotFound},
		{"put unknown id", http.MethodPut, seedBase + "/AAAAAAAAAAAAAAAAAAAAAAAA", "x", nil, 404, api.CodeNotFound},
		{"delete unknown id", http.MethodDelete, seedBase + "/AAAAAAAAAAAAAAAAAAAAAAAA", "", nil, 404, api.CodeNotFound},
		{"malformed If-None-Match", http.MethodGet, path, "", []string{"If-None-Match", `"unterminated`}, 400, api.CodeInvalidParam},
		{"malformed If-Match", http.MethodPut, path, "x", []string{"If-Match", `"a" "b"`}, 400, api.CodeInvalidParam},
		{"malformed Prefer wait", http.MethodGet, path, "", []string{"If-None-Match", etag, "Prefer", "wait=soon"}, 400, api.CodeInvalidParam},
		{"malformed Content-Type", http.MethodPut, path, "x", []string{"Content-Type", "text/"}, 400, api.CodeInvalidParam},
		{"oversized put", http.MethodPut, path, big, nil, 413, api.CodeTooLarge},
		{"long Content-Type put", http.MethodPut, path, "x", []string{"Content-Type", "text/plain; a=" + strings.Repeat("b", 250)}, 400, api.CodeInvalidParam},
		{"long Content-Type post", http.MethodPost, seedBase, "x", []string{"Content-Type", "text/plain; a=" + strings.Repeat("b", 250)}, 400, api.CodeInvalidParam},
		{"oversized post", http.MethodPost, seedBase, big, nil, 413, api.CodeTooLarge},
		{"stale put", http.MethodPut, path, "x", []string{"If-Match", `"nope-1"`}, 412, api.CodeConcurrentWrite},
		{"wrong method", http.MethodPost, path, "x", nil, 405, api.CodeUnrecognized},
		{"unknown route", http.MethodGet, "/nowhere", "", nil, 404, api.CodeUnrecognized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, tt.method, tt.path, tt.body, tt.hdr...)
			checkError(t, tt.name, rec, tt.status, tt.code)
			get := f.do(t, http.MethodGet, path, "")
			if get.Code != http.StatusOK || get.Body.String() != "original" || get.Header().Get("ETag") != etag {
				t.Errorf("after %s the session is %d %q %s, want it unchanged", tt.name, get.Code, get.Body, get.Header().Get("ETag"))
			}
		})
	}
	if got := f.do(t, http.MethodPatch, path, "").Header().Get("Allow"); got != "DELETE, GET, HEAD, OPTIONS, PUT" {
		t.Errorf("405 Allow = %q, want DELETE, GET, HEAD, OPTIONS, PUT", got)
	}
	if n := f.rdv.Stats(t.Context()).Live; n != 1 {
		t.Errorf("live sessions after refused creations = %d, want 1", n)
	}
}

func TestDeleteAndExpiry(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	f := newFixture(t, options{now: func() time.Time { return now }})
	path, _ := f.create(t, seedBase, "x")
	if rec := f.do(t, http.MethodDelete, path, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d, want 204", rec.Code)
	}
	checkError(t, "GET after DELETE", f.do(t, http.MethodGet, path, ""), 404, api.CodeNotFound)

	path, _ = f.create(t, seedBase, "x")
	now = now.Add(rendezvous.DefaultTTL - time.Millisecond)
	rec := f.do(t, http.MethodGet, path, "")
	if rec.Code != http.StatusOK || rec.Header().Get("X-Expires-In-Ms") != "1" {
		t.Errorf("GET 1 ms before expiry = %d X-Expires-In-Ms %s, want 200 and 1", rec.Code, rec.Header().Get("X-Expires-In-Ms"))
	}
	now = now.Add(time.Millisecond)
	checkError(t, "GET at expiry", f.do(t, http.MethodGet, path, ""), 404, api.CodeNotFound)
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, options{http: handlers.Config{CreateRate: ratelimit.Rule{Rate: 0.5, Burst: 2}}})
	for i := range 2 {
		if rec := f.do(t, http.MethodPost, seedBase, "x"); rec.Code != http.StatusOK {
			t.Fatalf("creation %d within burst = %d", i, rec.Code)
		}
	}
	rec := f.do(t, http.MethodPost, seedBase, "x")
	checkError(t, "creation past the burst", rec, http.StatusTooManyRequests, api.CodeLimitExceeded)
	e := decodeBody[api.Error](t, rec)
	if ra, _ := strconv.Atoi(rec.Header().Get("Retry-After")); ra != 2 || e.RetryAfterMs != 2000 {
		t.Errorf("Retry-After %q retry_after_ms %d, want 2 and 2000", rec.Header().Get("Retry-After"), e.RetryAfterMs)
	}
}

func TestSessionLimit(t *testing.T) {
	f := newFixture(t, options{rdv: rendezvous.Config{MaxSessions: 1}})
	f.create(t, seedBase, "x")
	checkError(t, "creation over the session limit", f.do(t, http.MethodPost, seedBase, "x"), http.StatusTooManyRequests, api.CodeLimitExceeded)

	f = newFixture(t, options{rdv: rendezvous.Config{MaxSessions: 1, EvictOldest: true}})
	old, _ := f.create(t, seedBase, "x")
	f.create(t, seedBase, "y")
	checkError(t, "GET of the evicted session", f.do(t, http.MethodGet, old, ""), 404, api.CodeNotFound)
}

func TestPayloadCannotRunAsPage(t *testing.T) {
	f := newFixture(t, options{})
	path, _ := f.create(t, seedBase, "<script>alert(1)</script>", "Content-Type", "text/html")
	rec := f.do(t, http.MethodGet, path, "")
	if rec.Header().Get("Content-Type") != "text/html" || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "sandbox") ||
		rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v, want the writer's type under a sandboxing CSP and nosniff", rec.Header())
	}
}

func TestPreflight(t *testing.T) {
	f := newFixture(t, options{})
	for _, requested := range []string{"content-type,if-match", "If-Match, Content-Type", "if-match", "Prefer,If-None-Match"} {
		rec := f.do(t, http.MethodOptions, seedBase+"/AAAAAAAAAAAAAAAAAAAAAAAA", "",
			"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", requested)
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(rec.Header().Get("Access-Control-Allow-Methods"), "PUT") {
			t.Errorf("preflight for %q = %d %v, want 204 allowing any origin and PUT", requested, rec.Code, rec.Header())
		}
	}
	rec := f.do(t, http.MethodOptions, seedBase, "", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-unknown")
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight for a header outside the list was allowed: %v", rec.Header())
	}
}
