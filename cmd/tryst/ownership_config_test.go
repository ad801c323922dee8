package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
)

// TestOwnershipConfig checks the defaults of the ownership flags, their
// TRYST_* fallbacks, and the refusal of a lease shorter than three
// heartbeats.
func TestOwnershipConfig(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	dir := t.TempDir()
	c, err := loadServeConfig([]string{"--data-dir", dir}, env(nil), io.Discard)
	own := c.subscriptions.ownership
	if err != nil || own.instanceID != "" || own.lease.Lease != ntf.DefaultLease || own.lease.Heartbeat != ntf.DefaultHeartbeat {
		t.Fatalf("defaults = %+v, %v", own, err)
	}
	c, err = loadServeConfig([]string{"--data-dir", dir, "--heartbeat", "1s"}, env(map[string]string{
		"TRYST_INSTANCE_ID": "gw-1", "TRYST_LEASE_DURATION": "4s", "TRYST_HEARTBEAT": "9s"}), io.Discard)
	own = c.subscriptions.ownership
	if err != nil || own.instanceID != "gw-1" || own.lease.Lease != 4*time.Second || own.lease.Heartbeat != time.Second {
		t.Errorf("from TRYST_* (heartbeat on the command line) = %+v, %v", own, err)
	}
	_, err = loadServeConfig([]string{"--data-dir", dir, "--lease-duration", "5s", "--heartbeat", "2s"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "three --heartbeat") {
		t.Errorf("lease of 2.5 heartbeats: %v, want a refusal", err)
	}
	if a, b := defaultInstanceID(), defaultInstanceID(); a == b || a == "" {
		t.Errorf("default instance ids %q and %q: want two different ones", a, b)
	}
}
