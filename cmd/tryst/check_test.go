package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trystgw/tryst/conformance"
)

// noRateLimits serves without rate limits, so a check run is quick.
var noRateLimits = []string{"--create-rate", "0", "--write-rate", "0"}

// runCheckCmd runs `tryst check` with args and returns its output and error.
func runCheckCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), append([]string{"check"}, args...), func(string) string { return "" }, &out)
	return out.String(), err
}

// checkReport runs `tryst check --quick --json` against base.
func checkReport(t *testing.T, base string, args ...string) (conformance.Report, error) {
	t.Helper()
	out, err := runCheckCmd(t, append([]string{base, "--quick", "--json"}, args...)...)
	var rep conformance.Report
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
		t.Fatalf("check --json output is not a report (%v): %s", jerr, out)
	}
	return rep, err
}

func TestCheckPassesAgainstTryst(t *testing.T) {
	srv := startServer(t, noRateLimits...)
	for _, flavour := range []string{"simple", "msc4108", "msc4388", "all"} {
		t.Run(flavour, func(t *testing.T) {
			t.Parallel()
			out, err := runCheckCmd(t, srv.URL, "--flavour", flavour, "--quick")
			if err != nil {
				t.Errorf("check --flavour %s = %v, want nil; output:\n%s", flavour, err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			summary := lines[len(lines)-1]
			if !strings.HasSuffix(summary, " passed, 0 failed") || strings.HasPrefix(summary, "0 ") {
				t.Errorf("summary line = %q, want \"N passed, 0 failed\"", summary)
			}
			for _, l := range lines[:len(lines)-1] {
				if !strings.HasPrefix(l, "PASS ") && !strings.HasPrefix(l, "SKIP ") && !strings.HasSuffix(l, " skipped") {
					t.Errorf("unexpected line %q", l)
				}
			}
		})
	}
}

func TestCheckFlavourMounts(t *testing.T) {
	srv := startServer(t, append(noRateLimits, "--rendezvous-mounts", "simple:/,msc4388:/json")...)
	rep, err := checkReport(t, srv.URL, "--mount", "simple:/", "--mount", "msc4388:/json", "--flavour", "simple,msc4388")
	if err != nil {
		t.Fatalf("check with --mount = %v, want nil; report %+v", err, rep)
	}
	var mounts []string
	for _, r := range rep.Results {
		if r.Mount != "" && !slices.Contains(mounts, r.Mount) {
			mounts = append(mounts, r.Mount)
		}
	}
	if diff := cmp.Diff([]string{"/", "/json"}, mounts); diff != "" {
		t.Errorf("mounts checked (-want +got):\n%s", diff)
	}
}

func TestCheckBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no URL", args: nil, want: "want exactly one base URL"},
		{name: "two URLs", args: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, want: "want exactly one base URL"},
		{name: "not http", args: []string{"ftp://127.0.0.1/"}, want: "want http(s)://"},
		{name: "unknown flavour", args: []string{"http://127.0.0.1:1", "--flavour", "msc9999"}, want: "unknown flavour"},
		{name: "bad mount", args: []string{"http://127.0.0.1:1", "--mount", "simple"}, want: "want flavour:/path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCheckCmd(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check %q = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestCheckUnreachableExitsNonZero(t *testing.T) {
	ln := httptest.NewServer(http.NotFoundHandler())
	base := ln.URL
	ln.Close()
	out, err := runCheckCmd(t, base, "--timeout", "2s")
	if _, ok := errors.AsType[*conformance.FailedError](err); !ok {
		t.Errorf("check of a closed port = %v, want a *conformance.FailedError", err)
	}
	if !strings.Contains(out, "FAIL reachable:") || !strings.HasSuffix(out, "\n0 passed, 1 failed\n") {
		t.Errorf("output = %q, want a failed reachable line and \"0 passed, 1 failed\"", out)
	}
}

// proxyFault is a deployment fault that a proxy in front of tryst introduces.
type proxyFault struct {
	name   string
	modify func(*http.Response) error
	// dropHost makes a proxy that sends the gateway its own Host.
	dropHost bool
	// wantFail must fail on every ETag-flavour mount; mayFail may fail
	// too (consequences of the same fault); every other check must pass.
	wantFail, mayFail []string
}

func TestCheckFindsProxyFaults(t *testing.T) {
	srv := startServer(t, noRateLimits...)
	faults := []proxyFault{
		{name: "drops ETag", modify: func(r *http.Response) error { r.Header.Del("ETag"); return nil },
			wantFail: []string{"headers", "etag-format", "not-modified", "if-none-match-forms", "etag-changes", "stale-write", "idempotent-retry", "long-poll"}},
		{name: "weakens ETag", modify: weakenETag, wantFail: []string{"etag-format"}},
		{name: "strips CORS from errors", modify: stripErrorCORS, wantFail: []string{"cors-errors", "too-large"}},
		{name: "clock two minutes fast", modify: shiftDate(2 * time.Minute),
			wantFail: []string{"clock-skew"}, mayFail: []string{"expires-header"}},
		{name: "does not forward Host", dropHost: true, wantFail: []string{"session-url"}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			proxy := newProxy(t, srv.URL, !f.dropHost, f.modify)
			rep, err := checkReport(t, proxy.URL)
			if err == nil {
				t.Errorf("check through a proxy that %s = nil, want an error", f.name)
			}
			checkFailures(t, rep, f)
		})
	}
}

func TestCheckFindsReusedETag(t *testing.T) {
	srv := startServer(t, noRateLimits...)
	proxy := newETagReusingProxy(t, srv.URL)
	rep, err := checkReport(t, proxy.URL)
	if err == nil {
		t.Error("check through a proxy that reuses ETags = nil, want an error")
	}
	checkFailures(t, rep, proxyFault{name: "reuses ETags", wantFail: []string{"etag-changes"}})
}

// checkFailures compares the failed checks with what f should cause. The
// msc4388 flavour carries no ETags, so only clock faults may touch it.
func checkFailures(t *testing.T, rep conformance.Report, f proxyFault) {
	t.Helper()
	for _, r := range rep.Results {
		if r.Status != conformance.StatusFail {
			continue
		}
		if !slices.Contains(f.wantFail, r.Check) && !slices.Contains(f.mayFail, r.Check) {
			t.Errorf("%s %s %s failed, not caused by a proxy that %s: %s", r.Flavour, r.Mount, r.Check, f.name, r.Reason)
		}
	}
	for _, check := range f.wantFail {
		for _, r := range rep.Find(check) {
			if r.Flavour != "msc4388" && r.Status != conformance.StatusFail {
				t.Errorf("%s %s %s = %s (%s), want fail behind a proxy that %s", r.Flavour, r.Mount, check, r.Status, r.Reason, f.name)
			}
		}
		if len(rep.Find(check)) == 0 {
			t.Errorf("check %s did not run", check)
		}
	}
}

// newFaultyProxy serves a reverse proxy to target whose responses modify
// changes.
func newFaultyProxy(t *testing.T, target string, modify func(*http.Response) error) *httptest.Server {
	t.Helper()
	return newProxy(t, target, true, modify)
}

// newProxy serves a reverse proxy to target that forwards the client's Host
// when keepHost is set, and whose responses modify (if not nil) changes.
func newProxy(t *testing.T, target string, keepHost bool, modify func(*http.Response) error) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &httputil.ReverseProxy{
		Rewrite:        forwardTo(u, keepHost),
		ModifyResponse: modify,
		FlushInterval:  -1,
	}
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	return s
}

// forwardTo sends requests to u. With keepHost they keep their Host, as a
// well-configured proxy does, so the gateway's session URLs name the proxy.
func forwardTo(u *url.URL, keepHost bool) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		if keepHost {
			pr.Out.Host = pr.In.Host
		}
	}
}

func weakenETag(r *http.Response) error {
	if tag := r.Header.Get("ETag"); tag != "" {
		r.Header.Set("ETag", "W/"+tag)
	}
	return nil
}

func stripErrorCORS(r *http.Response) error {
	if r.StatusCode >= 400 {
		for k := range r.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				r.Header.Del(k)
			}
		}
	}
	return nil
}

func shiftDate(d time.Duration) func(*http.Response) error {
	return func(r *http.Response) error {
		date, err := http.ParseTime(r.Header.Get("Date"))
		if err != nil {
			date = time.Now()
		}
		r.Header.Set("Date", date.Add(d).UTC().Format(http.TimeFormat))
		return nil
	}
}

type bodyKey struct{}

// newETagReusingProxy serves a proxy that emulates a server deriving its
// ETag from the payload: a write of the bytes a session already holds gets
// the session's previous tag back.
func newETagReusingProxy(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		last = map[string][2]string{} // session path -> payload, tag
	)
	p := &httputil.ReverseProxy{
		Rewrite: forwardTo(u, true),
		ModifyResponse: func(r *http.Response) error {
			tag := r.Header.Get("ETag")
			body, _ := r.Request.Context().Value(bodyKey{}).(string)
			path := r.Request.URL.Path
			if r.Request.Method == http.MethodPost {
				path = r.Header.Get("Location")
			}
			if tag == "" || r.StatusCode >= 300 || (r.Request.Method != http.MethodPost && r.Request.Method != http.MethodPut) {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, ok := last[path]; ok && prev[0] == body {
				r.Header.Set("ETag", prev[1])
				return nil
			}
			last[path] = [2]string{body, tag}
			return nil
		},
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, string(body))))
	}))
	t.Cleanup(s.Close)
	return s
}
