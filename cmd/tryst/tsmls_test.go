package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// tsMLSDir holds the Node helper whose ts-mls clients drive the Delivery
// Service, and the node_modules `make jsdeps` installs there.
const tsMLSDir = "../../test/ts-mls"

// TestTSMLSInterop runs MLS clients of ts-mls, an implementation written
// elsewhere, against a running gateway over HTTP: key packages, a group
// created and grown by commits with UpdatePaths, Welcomes, joins from the
// DS's GroupInfo and tree, application messages, a stale commit refused
// with the current epoch and resent, an external commit sent under
// user_key_hash. Every client processes what its queue delivered; all
// must agree on the epoch authenticator.
func TestTSMLSInterop(t *testing.T) {
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(tsMLSDir, "node_modules", "ts-mls")); err != nil || statErr != nil {
		msg := "needs node and `npm ci` in test/ts-mls (make jsdeps does it when npm is installed)"
		if requireTools() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s := startServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "interop.mjs", s.URL)
	cmd.Dir = tsMLSDir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node interop.mjs: %v\n%s", err, out)
	}
	var res struct {
		Epoch          int
		Authenticators []string
		Messages       map[string][]string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("interop output %q: %v", out, err)
	}
	if res.Epoch != 5 || len(res.Authenticators) != 5 {
		t.Errorf("group at epoch %d with %d members reporting, want 5 and 5", res.Epoch, len(res.Authenticators))
	}
	for _, a := range res.Authenticators {
		if a != res.Authenticators[0] || len(a) != 64 {
			t.Errorf("epoch authenticators differ: %v", res.Authenticators)
			break
		}
	}
	if got := res.Messages["bob"]; len(got) != 2 || got[0] != "hello bob" || got[1] != "hello all" {
		t.Errorf("bob received %q, want hello bob, hello all", got)
	}
	if got := res.Messages["eve"]; len(got) != 1 || got[0] != "hello all" {
		t.Errorf("eve, who joined by external commit, received %q, want hello all", got)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve = %v", err)
	}
}
