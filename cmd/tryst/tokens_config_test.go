package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenStorageConfig(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	dir := t.TempDir()
	c, err := loadServeConfig([]string{"--data-dir", dir}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sqlite://" + filepath.Join(dir, "tryst.db"); c.databaseURL != want {
		t.Errorf("default database = %q, want %q", c.databaseURL, want)
	}
	c, err = loadServeConfig(nil, env(map[string]string{"TRYST_DATABASE_URL": "postgres://db/tryst", "TRYST_MASTER_KEY_FILE": "/k",
		"TRYST_PUSH_CONFIG": "/p.json", "TRYST_TOKEN_VERIFY_RATE": "0.5"}), io.Discard)
	if err != nil || c.databaseURL != "postgres://db/tryst" || c.masterKeyFile != "/k" || c.pushConfig != "/p.json" || c.http.TokenVerifyRate.Rate != 0.5 {
		t.Errorf("config from TRYST_* = %+v, %v", c, err)
	}
	_, err = loadServeConfig([]string{"--database-url", "postgres://db/tryst"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "master-key-file") {
		t.Errorf("postgres without a master key file: %v, want an error naming --master-key-file", err)
	}
	if _, err = loadServeConfig([]string{"--token-register-rate", "-1"}, env(nil), io.Discard); err == nil {
		t.Error("a negative token rate was accepted")
	}
}

// TestServeRefusesBadStorage checks that serve stops at start-up, naming
// the problem, when the database or the push configuration is unusable.
func TestServeRefusesBadStorage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown scheme", []string{"--database-url", "mysql://x"}, "sqlite:// or postgres://"},
		{"missing push config", []string{"--push-config", filepath.Join(t.TempDir(), "none.json")}, "push config"},
		{"missing master key", []string{"--master-key-file", filepath.Join(t.TempDir(), "none.key")}, "masterkey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
			err := run(t.Context(), args, func(string) string { return "" }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("serve %v = %v, want an error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}
