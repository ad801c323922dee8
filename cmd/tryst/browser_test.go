package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/trystgw/tryst/web"
)

// Bounds of the browser tests.
const (
	browserTimeout = 90 * time.Second // the whole test, browser start included
	stepTimeout    = 20 * time.Second // one wait for the page
)

// findChromium returns the path of a Chromium binary: $TRYST_TEST_CHROMIUM,
// or chromium on PATH. Without one the test skips, unless CI=true or
// TRYST_TEST_REQUIRE_SERVICES=1, where it fails.
func findChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("TRYST_TEST_CHROMIUM"), "chromium", "/usr/bin/chromium"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	const how = "no Chromium found: install Debian's chromium package (apt-get install -y chromium) " +
		"or set TRYST_TEST_CHROMIUM to a Chromium binary"
	if os.Getenv("CI") == "true" || os.Getenv("TRYST_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal(how)
	}
	t.Skip(how)
	return ""
}

// newHeadlessBrowser starts a headless Chromium with a fresh profile; it is
// stopped at cleanup. The returned context is its first tab.
func newHeadlessBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(findChromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelTab)
	return tab
}

// browserErrors records the errors a tab reports: console.error and
// console.assert calls, uncaught exceptions, and the browser's own error
// log entries (CORS refusals and failed loads among them).
type browserErrors struct {
	mu   sync.Mutex
	errs []string // guarded by mu
}

// watch records tab's errors, prefixed with name, from now on.
func (c *browserErrors) watch(t *testing.T, tab context.Context, name string) {
	t.Helper()
	err := chromedp.Listen(tab, func(ev any) {
		if msg := browserErrorText(ev); msg != "" {
			c.mu.Lock()
			c.errs = append(c.errs, name+": "+msg)
			c.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to tab %s: %v", name, err)
	}
}

// browserErrorText describes ev when it reports an error, else returns "".
func browserErrorText(ev any) string {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return ""
		}
		var parts []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		return "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		return fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, text)
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return ""
		}
		return fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	}
	return ""
}

func (c *browserErrors) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// startDemoPage serves the demo page at /demo/ on its own loopback origin,
// apart from the API's.
func startDemoPage(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/demo/", http.StripPrefix("/demo", web.Handler()))
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s.URL
}

// demoURL is the page with the API on api.
func demoURL(page, api string) string {
	return page + "/demo/?" + url.Values{"api": {api}}.Encode()
}

// demoWait polls a JavaScript predicate in tab until it holds.
func demoWait(t *testing.T, tab context.Context, what, predicate string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		status, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('status').textContent`))
		t.Fatalf("waiting for %s: %v (page status: %q)", what, err, status)
	}
}

// demoHasMessage is a predicate: the message list of the page shows text.
func demoHasMessage(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#log li')].some((li) => li.textContent === %q)`, text)
}

// demoSend types text into the page and clicks Send, as a user would.
func demoSend(t *testing.T, tab context.Context, text string) {
	t.Helper()
	err := chromedp.Do(tab,
		chromedp.WaitVisible(chromedp.ID("text")),
		chromedp.SendKeys(chromedp.ID("text"), text),
		chromedp.Click(chromedp.ID("send-button")),
	)
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
}

func TestBrowserDemoExchangeAcrossOrigins(t *testing.T) {
	tab := newHeadlessBrowser(t)
	api := startServer(t, noRateLimits...)
	page := startDemoPage(t)
	if api.URL == page {
		t.Fatal("page and API share an origin; the test needs two")
	}
	link := demoExchange(t, tab, demoURL(page, api.URL))
	if !strings.HasPrefix(link, page+"/demo/?") || !strings.Contains(link, url.QueryEscape(api.URL)) {
		t.Errorf("invite link %q, want the page on %s with the API %s", link, page, api.URL)
	}
}

func TestBrowserDemoServedByTryst(t *testing.T) {
	tab := newHeadlessBrowser(t)
	api := startServer(t, noRateLimits...)
	link := demoExchange(t, tab, api.URL+"/demo/")
	if !strings.HasPrefix(link, api.URL+"/demo/?s=") {
		t.Errorf("invite link %q, want the page on %s", link, api.URL)
	}
}

// demoExchange runs a full exchange between device A, on pageURL in tabA,
// and device B, on the invite link in a second tab, and fails on any error
// the browser reports. It returns the invite link.
func demoExchange(t *testing.T, tabA context.Context, pageURL string) string {
	t.Helper()
	var errs browserErrors
	errs.watch(t, tabA, "A")

	// Device A creates the rendezvous and shows its link and QR code.
	if err := chromedp.Do(tabA, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("open the demo page: %v", err)
	}
	demoWait(t, tabA, "the invite link", `document.getElementById('link').href.includes('s=')`)
	link, err := chromedp.Run(tabA, chromedp.Evaluate[string](`document.getElementById('link').href`))
	if err != nil {
		t.Fatal(err)
	}
	if qr, _ := chromedp.Run(tabA, chromedp.Evaluate[int](`document.getElementById('qr').width`)); qr == 0 {
		t.Error("no QR code drawn")
	}

	// Device B opens the link in another tab; both write and read.
	tabB, cancelB := chromedp.NewContext(tabA)
	defer cancelB()
	errs.watch(t, tabB, "B")
	if err := chromedp.Do(tabB, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open the invite link: %v", err)
	}
	demoWait(t, tabA, "device B to join", demoHasMessage("Device B joined"))
	demoSend(t, tabB, "hello from B")
	demoWait(t, tabA, "A to receive B's message", demoHasMessage("B: hello from B"))
	demoSend(t, tabA, "hi from A")
	demoWait(t, tabB, "B to receive A's message", demoHasMessage("A: hi from A"))
	demoSend(t, tabB, "bye from B")
	demoWait(t, tabA, "A to receive B's second message", demoHasMessage("B: bye from B"))
	demoWait(t, tabA, "A's status", `document.getElementById('status').textContent === 'Connected to device B.'`)

	for _, e := range errs.list() {
		t.Errorf("browser reported an error: %s", e)
	}
	return link
}

// TestBrowserReportsCORSFailures proves that the error watch sees what a
// browser reports when the API's CORS headers are missing, so the exchange
// test above would fail on them.
func TestBrowserReportsCORSFailures(t *testing.T) {
	tab := newHeadlessBrowser(t)
	api := startServer(t, noRateLimits...)
	noCORS := newFaultyProxy(t, api.URL, func(r *http.Response) error {
		for k := range r.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				r.Header.Del(k)
			}
		}
		return nil
	})
	page := startDemoPage(t)
	var errs browserErrors
	errs.watch(t, tab, "A")
	if err := chromedp.Do(tab, chromedp.Navigate(demoURL(page, noCORS.URL))); err != nil {
		t.Fatalf("open the demo page: %v", err)
	}
	demoWait(t, tab, "the page to give up", `document.getElementById('status').classList.contains('error')`)
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		for _, e := range errs.list() {
			if strings.Contains(e, "CORS") {
				t.Logf("reported as expected: %s", e)
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // the log entry may trail the page's own reaction
	}
	t.Errorf("no CORS error reported; errors seen: %q", errs.list())
}
