package conformance

//lint:file-ignore ST1005 check failures are reasons shown to operators and start with the header they name.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rules of the contract shared by every flavour: statuses, the error
// envelope, CORS, lifetimes, clocks.

// Bounds of the contract (shared/spec/rendezvous.md).
const (
	minLifetime = 10 * time.Second
	maxLifetime = time.Hour
	// minIDLen is the shortest URL-safe ID that can carry 128 random bits
	// (six bits a character).
	minIDLen = 22
	maxIDLen = 255
	// headerSlack is how far Expires, Date and X-Expires-In-Ms may disagree:
	// HTTP dates have whole seconds, and each is rounded down.
	headerSlack = 2 * time.Second
)

// exposedHeaders are the response headers a cross-origin page must be able
// to read.
var exposedHeaders = []string{"ETag", "Location", "X-Max-Bytes", "Expires", "Last-Modified", "X-Expires-In-Ms", "Retry-After", "Preference-Applied"}

// apiError is the error envelope.
type apiError struct {
	ErrCode        string `json:"errcode"`
	Error          string `json:"error"`
	MSC4108ErrCode string `json:"org.matrix.msc4108.errcode"`
}

// wantStatus fails unless resp has one of the wanted statuses. A redirect
// is named as such: the checker does not follow it.
func wantStatus(resp response, want ...int) error {
	if slices.Contains(want, resp.status) {
		return nil
	}
	var wants []string
	for _, w := range want {
		wants = append(wants, strconv.Itoa(w))
	}
	got := fmt.Sprintf("status %d", resp.status)
	if loc := resp.header.Get("Location"); resp.status >= 300 && resp.status < 400 && loc != "" {
		got += fmt.Sprintf(" (a redirect to %s, which the checker does not follow)", loc)
	} else if e, err := decodeError(resp); err == nil && e.ErrCode != "" {
		got += fmt.Sprintf(" (%s: %s)", e.ErrCode, e.Error)
	}
	return fmt.Errorf("%s, want %s", got, strings.Join(wants, " or "))
}

// decodeJSON parses resp's body into a T, saying what was there instead
// when it is not JSON.
func decodeJSON[T any](resp response) (T, error) {
	var v T
	if err := json.Unmarshal(resp.body, &v); err != nil {
		return v, fmt.Errorf("body is not the expected JSON (%v): %q", err, snippet(resp.body))
	}
	return v, nil
}

func decodeError(resp response) (apiError, error) { return decodeJSON[apiError](resp) }

// snippet is the start of a body, for a reason line.
func snippet(b []byte) string {
	const n = 60
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// wantError fails unless resp is status with the error envelope naming
// errcode.
func wantError(resp response, status int, errcode string) error {
	if err := wantStatus(resp, status); err != nil {
		return err
	}
	e, err := decodeError(resp)
	if err != nil {
		return fmt.Errorf("status %d: %w", status, err)
	}
	if e.ErrCode != errcode {
		return fmt.Errorf("status %d with errcode %q, want %q", status, e.ErrCode, errcode)
	}
	return nil
}

// tooLarge fails unless resp refuses a POST of what with 413 M_TOO_LARGE
// that a page on origin can read.
func tooLarge(resp response, origin, what string) (string, error) {
	if err := wantError(resp, http.StatusRequestEntityTooLarge, "M_TOO_LARGE"); err != nil {
		return "", fmt.Errorf("POST of %s: %w", what, err)
	}
	if err := corsReadable(resp, origin); err != nil {
		return "", err
	}
	return what + " answer 413 M_TOO_LARGE, readable cross-origin", nil
}

// corsReadable fails unless a page on origin may read resp.
func corsReadable(resp response, origin string) error {
	acao := resp.header.Values("Access-Control-Allow-Origin")
	switch {
	case len(acao) == 0:
		return fmt.Errorf("no Access-Control-Allow-Origin on the %d response: a browser hides it from the page", resp.status)
	case len(acao) > 1:
		return fmt.Errorf("Access-Control-Allow-Origin sent %d times on the %d response (a proxy adding its own?): browsers refuse it", len(acao), resp.status)
	case acao[0] != "*" && acao[0] != origin:
		return fmt.Errorf("Access-Control-Allow-Origin %q on the %d response does not allow origin %s", acao[0], resp.status, origin)
	}
	return nil
}

// corsExposes fails unless resp exposes every header of the contract.
func corsExposes(resp response) error {
	var exposed []string
	for _, v := range resp.header.Values("Access-Control-Expose-Headers") {
		for h := range strings.SplitSeq(v, ",") {
			exposed = append(exposed, strings.ToLower(strings.TrimSpace(h)))
		}
	}
	if slices.Contains(exposed, "*") {
		return nil
	}
	var missing []string
	for _, h := range exposedHeaders {
		if !slices.Contains(exposed, strings.ToLower(h)) {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("Access-Control-Expose-Headers on the %d response lacks %s", resp.status, strings.Join(missing, ", "))
	}
	return nil
}

// corsFull checks that resp is readable and exposes the contract's headers.
func corsFull(resp response, origin string) error {
	if err := corsReadable(resp, origin); err != nil {
		return err
	}
	return corsExposes(resp)
}

// noStore fails unless resp forbids caching and transformation.
func noStore(resp response) error {
	cc := strings.ToLower(strings.Join(resp.header.Values("Cache-Control"), ","))
	if !strings.Contains(cc, "no-store") || !strings.Contains(cc, "no-transform") {
		return fmt.Errorf("Cache-Control %q on the %d response, want no-store, no-transform", cc, resp.status)
	}
	return nil
}

// checkLifetime fails unless a lifetime is within the contract's bounds.
func checkLifetime(ms int64) (string, error) {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d+headerSlack < minLifetime: // the server counts from before it answered
		return "", fmt.Errorf("sessions live %v, shorter than the contract's %v: too short for a QR scan", d, minLifetime)
	case d > maxLifetime+headerSlack:
		return "", fmt.Errorf("sessions live %v, longer than the contract's %v", d, maxLifetime)
	}
	return fmt.Sprintf("sessions live %v (expires_in_ms %d)", d.Round(time.Second), ms), nil
}

// clockSkew measures how far the server's Date is from the checker's clock
// at the moment of the answer, allowing for the round trip and Date's
// whole seconds.
func clockSkew(resp response, maxSkew time.Duration) (string, error) {
	date, err := http.ParseTime(resp.header.Get("Date"))
	if err != nil {
		return "", fmt.Errorf("no valid Date header (%q): clients cannot tell the server's time", resp.header.Get("Date"))
	}
	// The server stamped Date somewhere in [sent, received], and Date is
	// rounded down to the second.
	lo := date.Sub(resp.received)
	hi := date.Add(time.Second).Sub(resp.sent)
	skew := (lo + hi) / 2
	if lo > maxSkew || hi < -maxSkew {
		return "", fmt.Errorf("server clock is %v off the checker's (Date %s), more than %v: clients using Expires misjudge lifetimes",
			skew.Round(time.Second), date.Format(http.TimeFormat), maxSkew)
	}
	return fmt.Sprintf("server clock within %v of the checker's (measured %v)", maxSkew, skew.Round(100*time.Millisecond)), nil
}

// expiresHeaders fails unless Expires, Last-Modified and X-Expires-In-Ms
// agree with Date: a proxy that sets its own Expires breaks clients.
func expiresHeaders(resp response) error {
	date, err := http.ParseTime(resp.header.Get("Date"))
	if err != nil {
		return fmt.Errorf("no valid Date header (%q)", resp.header.Get("Date"))
	}
	exp, err := http.ParseTime(resp.header.Get("Expires"))
	if err != nil {
		return fmt.Errorf("Expires %q is not an HTTP date", resp.header.Get("Expires"))
	}
	if _, err := http.ParseTime(resp.header.Get("Last-Modified")); err != nil {
		return fmt.Errorf("Last-Modified %q is not an HTTP date", resp.header.Get("Last-Modified"))
	}
	ms, err := strconv.ParseInt(resp.header.Get("X-Expires-In-Ms"), 10, 64)
	if err != nil || ms < 0 {
		return fmt.Errorf("X-Expires-In-Ms %q is not a non-negative integer", resp.header.Get("X-Expires-In-Ms"))
	}
	want := date.Add(time.Duration(ms) * time.Millisecond)
	if diff := exp.Sub(want); diff > headerSlack || diff < -headerSlack {
		return fmt.Errorf("Expires %s is %v off Date + X-Expires-In-Ms (%s): a proxy rewrote Expires or Date?",
			exp.Format(http.TimeFormat), diff.Round(time.Second), want.Format(http.TimeFormat))
	}
	return nil
}

// checkID fails unless id has the form of the contract: URL-safe, long
// enough for 128 random bits, at most 255 characters.
func checkID(id string) error {
	switch {
	case len(id) < minIDLen:
		return fmt.Errorf("id %q has %d characters, too few for 128 random bits (want ≥ %d)", id, len(id), minIDLen)
	case len(id) > maxIDLen:
		return fmt.Errorf("id has %d characters, more than %d", len(id), maxIDLen)
	case !urlSafe(id):
		return fmt.Errorf("id %q is not URL-safe ([A-Za-z0-9_-])", id)
	}
	return nil
}

func urlSafe(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// refersTo fails unless ref (a URL or path, never dialled) names the
// session path.
func refersTo(what, ref, path string) error {
	u, err := url.Parse(ref)
	if err != nil || ref == "" {
		return fmt.Errorf("%s %q is not a URL", what, ref)
	}
	if !strings.HasSuffix(u.Path, path) {
		return fmt.Errorf("%s %q does not name the session path %s", what, ref, path)
	}
	return nil
}

// preflight is what a browser sends before a request it may not send
// unasked.
type preflight struct {
	method  string
	path    string
	headers []string // lower-case
}

// requestHeaders renders headers as browsers do: lower-case, sorted,
// comma-joined without spaces.
func (p preflight) requestHeaders() string {
	hs := slices.Clone(p.headers)
	slices.Sort(hs)
	return strings.Join(hs, ",")
}

// check sends the preflight and fails unless it allows the request.
func (p preflight) check(r response, origin string) error {
	if r.status != http.StatusOK && r.status != http.StatusNoContent {
		return fmt.Errorf("preflight for %s %s: status %d, want 200 or 204", p.method, p.path, r.status)
	}
	if err := corsReadable(r, origin); err != nil {
		return fmt.Errorf("preflight for %s: %w", p.method, err)
	}
	if !listHas(r.header.Values("Access-Control-Allow-Methods"), p.method, true) {
		return fmt.Errorf("preflight for %s: Access-Control-Allow-Methods %q lacks %s",
			p.method, r.header.Values("Access-Control-Allow-Methods"), p.method)
	}
	for _, h := range p.headers {
		if !listHas(r.header.Values("Access-Control-Allow-Headers"), h, false) {
			return fmt.Errorf("preflight for %s with headers %s: Access-Control-Allow-Headers %q lacks %s",
				p.method, p.requestHeaders(), r.header.Values("Access-Control-Allow-Headers"), h)
		}
	}
	return nil
}

// listHas reports whether a comma-separated header lists v (or "*").
func listHas(values []string, v string, caseSensitive bool) bool {
	for _, line := range values {
		for item := range strings.SplitSeq(line, ",") {
			item = strings.TrimSpace(item)
			if item == "*" || item == v || !caseSensitive && strings.EqualFold(item, v) {
				return true
			}
		}
	}
	return false
}
