package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sdkDir holds the scripts that drive tryst with the real matrix-js-sdk
// transports, and the node_modules `make test` installs there.
const sdkDir = "../../test/matrix-js-sdk"

// requireTools reports whether missing tools must fail a test instead of
// skipping it: in CI, where the project's own scripts install them.
func requireTools() bool {
	return os.Getenv("CI") == "true" || os.Getenv("TRYST_TEST_REQUIRE_SERVICES") == "1"
}

// TestMatrixJSSDK runs matrix-js-sdk's MSC3886SimpleHttpRendezvousTransport
// (v31, the last release that has it) and MSC4108RendezvousSession (v37)
// through full exchanges against a real server, on every mount they use.
func TestMatrixJSSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(sdkDir, "node_modules")); err != nil || statErr != nil {
		msg := "needs node and `npm ci` in test/matrix-js-sdk (make test does it when npm is installed)"
		if requireTools() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s := startServer(t, "--create-rate", "0", "--write-rate", "0")
	for _, script := range []string{"msc3886.mjs", "msc4108.mjs"} {
		t.Run(strings.TrimSuffix(script, ".mjs"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, script, s.URL)
			cmd.Dir = sdkDir
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": ok") {
				t.Errorf("node %s: %v\n%s", script, err, out)
			}
		})
	}
}
