package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestServeMetricsLabelsBounded sends requests with hundreds of made-up
// methods and checks that /metrics grows no series for them: they share
// one method="OTHER" label.
func TestServeMetricsLabelsBounded(t *testing.T) {
	s := startServer(t)
	const invented = 300
	for i := range invented {
		resp, _ := s.do(t, fmt.Sprintf("FOO%d", i), fmt.Sprintf("/x%d", i), "")
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("FOO%d = %d, want 404 or 405", i, resp.StatusCode)
		}
	}
	_, body := s.do(t, http.MethodGet, "/metrics", "")
	methods := map[string]bool{}
	series := 0
	label := regexp.MustCompile(`method="([^"]*)"`)
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, "tryst_http_requests_total{") {
			continue
		}
		series++
		if m := label.FindStringSubmatch(line); m != nil {
			methods[m[1]] = true
		}
	}
	if len(methods) > 10 {
		t.Errorf("%d distinct method labels after %d invented methods, want at most 10 (9 standard + OTHER)", len(methods), invented)
	}
	if !methods["OTHER"] {
		t.Errorf("no method=\"OTHER\" series; methods seen: %v", methods)
	}
	if series > 10 {
		t.Errorf("%d request series after %d requests to two routes, want at most 10", series, invented)
	}
	if want := fmt.Sprintf(`tryst_http_requests_total{method="OTHER",route="unmatched",status="405"} %d`, invented); !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %q", want)
	}
}

// TestServeMetricsAddr checks --metrics-addr: /metrics moves to its own
// listener and the public one no longer serves it.
func TestServeMetricsAddr(t *testing.T) {
	var log lockedOutput
	s := startServerLog(t, &log, "--metrics-addr", "127.0.0.1:0")
	var addr string
	for line := range strings.Lines(log.String()) {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "metrics listening" {
			addr = l.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no \"metrics listening\" line in the log:\n%s", log.String())
	}
	if resp, _ := s.do(t, http.MethodGet, "/metrics", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", resp.StatusCode)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `tryst_http_requests_total{method="GET",route="unmatched",status="404"} 1`) {
		t.Errorf("metrics listener /metrics = %d, want 200 counting the public 404:\n%.500s", resp.StatusCode, body)
	}
}
