package pushsetup_test

import (
	"testing"

	"github.com/trystgw/tryst/push/pushsetup"
)

func FuzzParseConfig(f *testing.F) {
	f.Add(`{"apps":[{"id":"a","platform":"fcm","fcm":{"service_account_file":"x"}}]}`)
	f.Add(`{"apps":[{"id":"a","platform":"apns","topic":"t","apns":{"key_file":"k","key_id":"ABC123DEFG","team_id":"DEF123GHIJ"}}],"dispatcher":{"base_backoff":"1s"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := pushsetup.ParseConfig([]byte(s))
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config fails validation: %v", err)
		}
	})
}
