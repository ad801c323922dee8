package apns

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trystgw/tryst/push"
)

// FuzzPayload: the hand-written payload encoder always produces valid
// JSON that decodes back to the (UTF-8-sanitised) input.
func FuzzPayload(f *testing.F) {
	f.Add("title", "body", "key", "value")
	f.Add("\x00\"\\", "\xff\xfe", "\u2028", "🚀")
	f.Fuzz(func(t *testing.T, title, body, k, v string) {
		if k == "" || k == "aps" {
			return
		}
		n := &push.Notification{Alert: push.AlertContent{Title: title, Body: body}, Data: map[string]string{k: v, k + "2": v}}
		b := buildPayload(n)
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		fix := func(s string) string { // like encoding/json: U+FFFD per invalid byte
			var b strings.Builder
			for _, r := range s {
				b.WriteRune(r)
			}
			return b.String()
		}
		if got[fix(k)] != fix(v) {
			t.Fatalf("data %q=%q came back as %v", k, v, got[fix(k)])
		}
		if title != "" {
			alert := got["aps"].(map[string]any)["alert"].(map[string]any)
			if alert["title"] != fix(title) {
				t.Fatalf("title %q came back as %v", title, alert["title"])
			}
		}
	})
}
