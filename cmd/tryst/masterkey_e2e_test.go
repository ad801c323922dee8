package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trystgw/tryst/push/pushtest"
)

// TestServeRefusesLostMasterKey checks that serve does not quietly replace
// a master key that is missing or empty while tokens sealed with it are
// stored, and does replace an empty one while nothing is sealed.
func TestServeRefusesLostMasterKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, defaultMasterKeyFile)
	fresh := t.TempDir()
	if err := os.WriteFile(filepath.Join(fresh, defaultMasterKeyFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, append([]string{"--data-dir", fresh}, noTokenLimits...)...)
	if err := s.stop(); err != nil {
		t.Fatalf("serve with an empty key file and no tokens: %v, want a new key and a clean start", err)
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, defaultMasterKeyFile)); len(strings.TrimSpace(string(b))) != 64 {
		t.Errorf("key file after start = %q, want 64 hex digits", b)
	}

	s = startServer(t, append([]string{"--data-dir", dir}, noTokenLimits...)...)
	newDevice("apns", pushtest.APNsToken("sealed")).register(t, s)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for _, lose := range []func() error{
		func() error { return os.Remove(keyFile) },
		func() error { return os.WriteFile(keyFile, nil, 0o600) },
	} {
		if err := lose(); err != nil {
			t.Fatal(err)
		}
		err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "restore the key file") {
			t.Errorf("serve with the key lost and sealed tokens stored = %v, want a refusal", err)
		}
		if b, _ := os.ReadFile(keyFile); len(b) != 0 {
			t.Error("a refused start wrote a new key")
		}
	}
}
