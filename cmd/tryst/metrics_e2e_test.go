package main

import (
	"fmt"
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
