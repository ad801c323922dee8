package pushsetup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushsetup"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "push.json")
	os.WriteFile(path, []byte(`{
		"apps": [
			{"id": "chat", "platform": "apns", "topic": "com.example.chat",
			 "apns": {"key_file": "AuthKey.p8", "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ"}},
			{"id": "legacy", "platform": "ios", "topic": "com.example.legacy",
			 "apns": {"cert_file": "/etc/legacy.p12", "cert_password_env": "P12_PW"}},
			{"id": "chat", "platform": "fcm", "fcm": {"service_account_file": "sa.json"}}
		],
		"dispatcher": {"queue_size": 10, "base_backoff": "250ms", "max_backoff": 30, "breaker_cooldown": "1m"}
	}`), 0o600)
	cfg, err := pushsetup.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Apps) != 3 || cfg.Apps[1].Platform != push.APNs || cfg.Apps[2].Platform != push.FCM {
		t.Fatalf("%+v", cfg.Apps)
	}
	if cfg.Path("AuthKey.p8") != filepath.Join(dir, "AuthKey.p8") || cfg.Path("/etc/legacy.p12") != "/etc/legacy.p12" {
		t.Fatal("Path")
	}
	dc := push.DispatcherConfig{QueueSize: 99}
	cfg.Dispatcher.ApplyTo(&dc)
	if dc.QueueSize != 99 || dc.BaseBackoff != 250*time.Millisecond || dc.MaxBackoff != 30*time.Second || dc.BreakerCooldown != time.Minute {
		t.Fatalf("%+v", dc)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]string{
		"unknown field":     `{"apps":[], "dispatch": {}}`,
		"bad platform":      `{"apps":[{"id":"a","platform":"web"}]}`,
		"no platform":       `{"apps":[{"id":"a"}]}`,
		"bad id":            `{"apps":[{"id":"a b","platform":"fcm","fcm":{"service_account_file":"x"}}]}`,
		"duplicate":         `{"apps":[{"id":"a","platform":"fcm","fcm":{"service_account_file":"x"}},{"id":"a","platform":"fcm","fcm":{"service_account_file":"y"}}]}`,
		"apns no topic":     `{"apps":[{"id":"a","platform":"apns","apns":{"cert_file":"c.p12"}}]}`,
		"apns no creds":     `{"apps":[{"id":"a","platform":"apns","topic":"t"}]}`,
		"apns both":         `{"apps":[{"id":"a","platform":"apns","topic":"t","apns":{"cert_file":"c","key_file":"k","key_id":"ABC123DEFG","team_id":"DEF123GHIJ"}}]}`,
		"apns bad key id":   `{"apps":[{"id":"a","platform":"apns","topic":"t","apns":{"key_file":"k","key_id":"short","team_id":"DEF123GHIJ"}}]}`,
		"apns no team":      `{"apps":[{"id":"a","platform":"apns","topic":"t","apns":{"key_file":"k","key_id":"ABC123DEFG"}}]}`,
		"fcm no sa":         `{"apps":[{"id":"a","platform":"fcm","fcm":{}}]}`,
		"fcm with apns":     `{"apps":[{"id":"a","platform":"fcm","fcm":{"service_account_file":"x"},"apns":{}}]}`,
		"bad duration":      `{"dispatcher":{"base_backoff":"soon"}}`,
		"negative duration": `{"dispatcher":{"max_backoff":-1}}`,
		"trailing":          `{} {}`,
	}
	for name, body := range cases {
		if _, err := pushsetup.ParseConfig([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err := pushsetup.ParseConfig([]byte(`{"apps":[{"id":"a","platform":"apns"},{"id":"b","platform":"fcm"}]}`))
	if err == nil || !strings.Contains(err.Error(), `app "a"`) || !strings.Contains(err.Error(), `app "b"`) {
		t.Fatalf("errors not all reported: %v", err)
	}
	if _, err := pushsetup.LoadConfig(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}
