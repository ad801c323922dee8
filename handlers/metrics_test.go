package handlers

import (
	"fmt"
	"testing"
)

// TestMetricLabelsClosedSets checks the bound stated on observeRequest:
// whatever method and status come in, the labels stay in their sets.
func TestMetricLabelsClosedSets(t *testing.T) {
	methods := map[string]bool{}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "get", "FOO", "", "PROPFIND"} {
		methods[methodLabel(m)] = true
	}
	for i := range 1000 {
		methods[methodLabel(fmt.Sprintf("M%d", i))] = true
	}
	if len(methods) != 10 || !methods["OTHER"] || methods["get"] {
		t.Errorf("method labels = %v, want the 9 standard methods and OTHER", methods)
	}
	statuses := map[string]bool{}
	for s := -5; s < 2000; s++ {
		statuses[statusLabel(s)] = true
	}
	if len(statuses) != 501 || !statuses["other"] || !statuses["599"] || statuses["600"] {
		t.Errorf("%d status labels, want 501 (100..599 and other)", len(statuses))
	}
}
