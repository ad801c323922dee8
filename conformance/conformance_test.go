package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/conformance"
	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
)

// fakeClock is a server clock the checker's Sleep moves forward.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return ctx.Err()
}

// newGateway serves the gateway's handler over a memory store on a
// loopback port, with the given clock, limits and TTL.
func newGateway(t *testing.T, now func() time.Time, cfg handlers.Config, ttl time.Duration) *httptest.Server {
	t.Helper()
	rdv := rendezvous.NewService(memstore.NewRendezvous(now), memstore.NewNotifier[rendezvous.ID](), now, rendezvous.Config{TTL: ttl})
	h := handlers.New(cfg, handlers.Deps{
		Logger: slog.New(slog.DiscardHandler), Rendezvous: rdv, Registry: prometheus.NewRegistry(),
		Limiter: ratelimit.NewMemory(now, 100),
	})
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func TestRunPassesAgainstGateway(t *testing.T) {
	t.Parallel()
	srv := newGateway(t, time.Now, handlers.Config{}, 0)
	rep, err := conformance.Run(t.Context(), conformance.Config{BaseURL: srv.URL, Quick: true})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	for _, r := range rep.Results {
		if r.Status == conformance.StatusFail {
			t.Errorf("%s %s %s failed: %s", r.Flavour, r.Mount, r.Check, r.Reason)
		}
	}
	if rep.Err() != nil || rep.Passed == 0 || rep.Skipped != 5 {
		t.Errorf("report: %d passed, %d failed, %d skipped, want only the 5 expiry checks skipped", rep.Passed, rep.Failed, rep.Skipped)
	}
}

func TestExpiryWaitsForAdvertisedLifetime(t *testing.T) {
	t.Parallel()
	mounts, _ := conformance.ParseFlavours("all")
	for _, m := range mounts {
		t.Run(m.Path, func(t *testing.T) {
			t.Parallel()
			// One mount a server: the expiry checks of several mounts
			// would each move a shared fake clock.
			clk := &fakeClock{t: time.Now()}
			srv := newGateway(t, clk.now, handlers.Config{}, time.Minute)
			rep, err := conformance.Run(t.Context(), conformance.Config{BaseURL: srv.URL, Sleep: clk.sleep, Mounts: []api.Mount{m}})
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			if got := rep.Find("expiry"); len(got) != 1 || got[0].Status != conformance.StatusPass {
				t.Errorf("expiry = %+v, want one pass", got)
			}
		})
	}
}

func TestExpiryFailsWhenSessionsOutliveLifetime(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Now()}
	srv := newGateway(t, clk.now, handlers.Config{}, time.Minute)
	noTimePasses := func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	mounts, _ := conformance.ParseFlavours("simple")
	rep, err := conformance.Run(t.Context(), conformance.Config{BaseURL: srv.URL, Sleep: noTimePasses, Mounts: mounts})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := rep.Find("expiry"); len(got) != len(mounts) {
		t.Fatalf("%d expiry results, want one per mount (%d)", len(got), len(mounts))
	}
	for _, r := range rep.Find("expiry") {
		if r.Status != conformance.StatusFail || !strings.Contains(r.Reason, "after the advertised expiry") {
			t.Errorf("%s expiry = %s (%s), want a failure after the advertised expiry", r.Mount, r.Status, r.Reason)
		}
	}
}

func TestRateLimitedDeploymentIsCheckedSlowly(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Now()}
	srv := newGateway(t, clk.now, handlers.Config{CreateRate: ratelimit.Rule{Rate: 1, Burst: 2}}, 0)
	mounts, _ := conformance.ParseFlavours("msc4388")
	rep, err := conformance.Run(t.Context(), conformance.Config{BaseURL: srv.URL, Sleep: clk.sleep, Mounts: mounts, Quick: true})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	for _, r := range rep.Results {
		if r.Status == conformance.StatusFail && r.Check != "clock-skew" {
			t.Errorf("%s failed behind a rate limit: %s", r.Check, r.Reason)
		}
	}
	if rep.Passed < len(rep.Results)/2 {
		t.Errorf("only %d of %d checks passed behind a rate limit:\n%s", rep.Passed, len(rep.Results), reasons(rep))
	}
	if rep.RateLimited.Answers == 0 || rep.RateLimited.Waited < time.Second {
		t.Errorf("RateLimited = %+v, want the 429s waited out counted", rep.RateLimited)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "rate-limited (429)") || !strings.Contains(text.String(), "--create-rate 0") {
		t.Errorf("report does not explain the wait:\n%s", text.String())
	}
}

// reasons returns the failure reasons of rep, one a line.
func reasons(rep conformance.Report) string {
	var b strings.Builder
	for _, r := range rep.Results {
		if r.Status == conformance.StatusFail {
			b.WriteString(r.Check + ": " + r.Reason + "\n")
		}
	}
	return b.String()
}

func TestBadDeployments(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>Welcome to nginx!</body></html>"))
	}))
	t.Cleanup(html.Close)
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 2<<20))
	}))
	t.Cleanup(huge.Close)

	tests := []struct {
		name, base string
		check      string // a check that must fail
		want       string // in its reason
	}{
		{name: "unreachable", base: closed.URL, check: "reachable", want: "connection refused"},
		{name: "untrusted certificate", base: tlsSrv.URL, check: "reachable", want: "TLS certificate not accepted"},
		{name: "https to an http server", base: strings.Replace(plain.URL, "http:", "https:", 1), check: "reachable", want: "TLS handshake failed"},
		{name: "not JSON", base: html.URL, check: "create", want: "body is not the expected JSON"},
		{name: "huge body", base: huge.URL, check: "reachable", want: "response body larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := conformance.Run(t.Context(), conformance.Config{BaseURL: tt.base, Quick: true, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("Run = %v, want a report", err)
			}
			if rep.Err() == nil {
				t.Fatalf("Run against %s passed, want failures", tt.name)
			}
			found := rep.Find(tt.check)
			if len(found) == 0 || found[0].Status != conformance.StatusFail || !strings.Contains(found[0].Reason, tt.want) {
				t.Errorf("%s = %+v, want a failure mentioning %q; all failures:\n%s", tt.check, found, tt.want, reasons(rep))
			}
		})
	}
}

func TestTimeoutsAreBounded(t *testing.T) {
	t.Parallel()
	// The server answers the reachability probe, then never answers again.
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.NotFound(w, r)
			return
		}
		io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(stop) })      // runs first: frees the handlers Close waits for
	const timeout = 300 * time.Millisecond // ample for a loopback answer, even under -race
	start := time.Now()
	rep, err := conformance.Run(t.Context(), conformance.Config{BaseURL: hang.URL, Quick: true, Timeout: timeout})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	// Each check makes a handful of requests, one after the other; the
	// mounts run side by side.
	if took := time.Since(start); took > 100*timeout {
		t.Errorf("Run against a hanging server took %v, want well under %v", took, 100*timeout)
	}
	if rep.Passed != 1 {
		t.Errorf("%d checks passed, want only reachable; report:\n%s", rep.Passed, reasons(rep))
	}
	if rep.Failed == 0 {
		t.Errorf("no check failed against a hanging server; report:\n%s", reasons(rep))
	}
	for _, r := range rep.Results {
		if r.Status == conformance.StatusFail && !strings.Contains(r.Reason, "timeout") {
			t.Errorf("%s failed with %q, want a timeout", r.Check, r.Reason)
		}
	}
}

func TestNoTrafficToOtherHosts(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	t.Cleanup(other.Close)
	// A deployment that redirects everything, and hands out session URLs
	// on the other host.
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", other.URL+"/rendezvous/abc")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]any{"id": "abcdefghijklmnopqrstuvwxyz", "url": other.URL + "/x", "sequence_token": "t"})
			return
		}
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	rep, err := conformance.Run(t.Context(), conformance.Config{BaseURL: redirecting.URL, Timeout: time.Second})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the checker sent %d requests to another host", n)
	}
	if !strings.Contains(reasons(rep), "which the checker does not follow") {
		t.Errorf("no failure names the redirect; failures:\n%s", reasons(rep))
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	srv := newGateway(t, time.Now, handlers.Config{}, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := conformance.Run(ctx, conformance.Config{BaseURL: srv.URL})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run(cancelled) = %v, want context.Canceled", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "127.0.0.1:8080", "ftp://host/", "http://host/?q=1", "http://user:pw@host/"} {
		_, err := conformance.Run(t.Context(), conformance.Config{BaseURL: base})
		if !errors.Is(err, conformance.ErrInvalidConfig) {
			t.Errorf("Run(BaseURL %q) = %v, want ErrInvalidConfig", base, err)
		}
	}
	if _, err := conformance.ParseFlavours("simple,msc9999"); !errors.Is(err, conformance.ErrInvalidConfig) {
		t.Errorf("ParseFlavours(unknown) = %v, want ErrInvalidConfig", err)
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	rep := conformance.Report{Results: []conformance.Result{
		{Check: "reachable", Status: conformance.StatusPass, Reason: "ok"},
		{Flavour: "simple", Mount: "/rendezvous", Check: "etag-format", Status: conformance.StatusFail, Reason: "ETag W/\"x\"\nis weak"},
		{Flavour: "simple", Mount: "/rendezvous", Check: "expiry", Status: conformance.StatusSkip, Reason: "quick mode"},
	}, Passed: 1, Failed: 1, Skipped: 1}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "PASS reachable: ok\n" +
		"FAIL simple /rendezvous etag-format: ETag W/\"x\" is weak\n" +
		"SKIP simple /rendezvous expiry: quick mode\n" +
		"1 skipped\n" +
		"1 passed, 1 failed\n"
	if b.String() != want {
		t.Errorf("WriteText =\n%s\nwant\n%s", b.String(), want)
	}
	var fe *conformance.FailedError
	if !errors.As(rep.Err(), &fe) || fe.Failed != 1 || fe.Total != 3 {
		t.Errorf("Err() = %v, want 1 of 3 checks failed", rep.Err())
	}
}
