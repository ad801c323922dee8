package main

import (
	"io"
	"testing"
	"time"

	"github.com/trystgw/tryst/netlimit"
)

// TestConnectionCapDefaults checks the caps serve derives at start: the
// total below the open-file limit, long-polls at most half of it, per-IP
// caps on, and a read timeout short enough that trickled bodies do not
// hold connections for long.
func TestConnectionCapDefaults(t *testing.T) {
	c, err := loadServeConfig([]string{"--data-dir", t.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := netlimit.FDLimit()
	if err != nil {
		t.Fatal(err)
	}
	if c.conns.Max != netlimit.MaxFor(fds) || c.conns.Max >= fds {
		t.Errorf("max conns = %d with %d files allowed, want %d", c.conns.Max, fds, netlimit.MaxFor(fds))
	}
	if c.http.LongPollsTotal != c.conns.Max/2 || c.http.LongPollsPerClient != defaultLongPollsPerIP || c.conns.PerClient != defaultMaxConnsPerIP {
		t.Errorf("long-polls %d total, %d per IP; conns %d per IP", c.http.LongPollsTotal, c.http.LongPollsPerClient, c.conns.PerClient)
	}
	if c.readTimeout > 10*time.Second {
		t.Errorf("read timeout %v, want at most 10s", c.readTimeout)
	}
	for _, bad := range [][]string{{"--max-conns", "-1"}, {"--longpolls-per-ip", "-2"}, {"--read-timeout", "0s"}} {
		if _, err := loadServeConfig(append([]string{"--data-dir", t.TempDir()}, bad...), func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
