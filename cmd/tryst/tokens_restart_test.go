package main

import (
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// TestTokensSurviveRestart stops the gateway and starts it again on the
// same database: every token, status and secret must still work, and the
// server keys sealed with the master key must still open.
func TestTokensSurviveRestart(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		dir := t.TempDir()
		testRestart(t, []string{"--data-dir", dir}, func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(dir, "master.key"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("generated master key: %v, mode %v; want a 0600 file", err, fi.Mode().Perm())
			}
			if _, err := os.Stat(filepath.Join(dir, "tryst.db")); err != nil {
				t.Errorf("database file: %v", err)
			}
		})
	})
	t.Run("Postgres", func(t *testing.T) {
		url := sqlstoretest.PostgresURL(t)
		testRestart(t, []string{"--database-url", url, "--master-key-file", writeMasterKey(t)}, func(*testing.T) {})
	})
}

// masterKeyBytes is a fixed master key for tests.
func masterKeyBytes() []byte {
	k := make([]byte, masterkey.Size)
	for i := range k {
		k[i] = byte(i*7 + 3)
	}
	return k
}

func testRestart(t *testing.T, storage []string, checkFiles func(*testing.T)) {
	fakes := newPushFakes(t)
	args := append(append([]string{"--push-config", fakes.config}, noTokenLimits...), storage...)

	s := startServer(t, args...)
	active := newDevice("apns", pushtest.APNsToken("restart-active"))
	active.register(t, s)
	active.verify(t, s, active.open(t, fakes.verificationData(t, "apns", active.token)))
	if status, _ := active.call(t, s, http.MethodPut, "/checks", `{"interval_minutes":45}`); status != http.StatusOK {
		t.Fatalf("PUT checks = %d", status)
	}
	pending := newDevice("fcm", pushtest.FCMToken("restart-pending"))
	pending.register(t, s)
	pendingCode := pending.open(t, fakes.verificationData(t, "fcm", pending.token))
	pending.waitStatus(t, s, "confirmed")
	if err := s.stop(); err != nil {
		t.Fatalf("first run = %v", err)
	}
	checkFiles(t)

	s = startServer(t, args...)
	m := active.waitStatus(t, s, "active")
	if m["check_interval_minutes"] != float64(45) || m["environment"] != "development" {
		t.Errorf("active token after restart = %v, want 45-minute checks, development", m)
	}
	pending.verify(t, s, pendingCode) // the code's hash survived
	// The server key, sealed with the master key, still encrypts codes.
	rotated := pushtest.APNsToken("restart-rotated")
	if status, _ := active.call(t, s, http.MethodPut, "", `{"device_token":"`+rotated+`"}`); status != http.StatusOK {
		t.Fatalf("replace after restart = %d", status)
	}
	active.verify(t, s, active.open(t, fakes.verificationData(t, "apns", rotated)))
	wrong := *pending
	wrong.secret = active.secret
	if status, m := wrong.call(t, s, http.MethodGet, "", ""); status != http.StatusUnauthorized || m["errcode"] != "M_UNKNOWN_TOKEN" {
		t.Errorf("another token's secret after restart = %d %v, want 401 M_UNKNOWN_TOKEN", status, m)
	}
	if status, _ := pending.call(t, s, http.MethodDelete, "", ""); status != http.StatusNoContent {
		t.Errorf("DELETE after restart = %d, want 204", status)
	}
}

// writeMasterKey writes masterKeyBytes to a 0600 file and returns its path.
func writeMasterKey(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(masterKeyBytes())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
