package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/push/pushtest"
)

// TestTokenReplaceFloodKeepsRegistrationOpen has one token holder replace
// its device token over and over while APNs answers slowly: each replace
// asks for a push, but the token holds only its small share of the
// route's queue, so another app still registers. The per-token and
// per-IP rate limits are off here, to see the queue share alone.
func TestTokenReplaceFloodKeepsRegistrationOpen(t *testing.T) {
	fakes := newPushFakes(t)
	cfg, err := os.ReadFile(fakes.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), `"dispatcher": {`, `"dispatcher": {"queue_size": 64, `, 1))
	if err := os.WriteFile(fakes.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	fakes.apns.SetTopicAnswer(apnsApp, pushtest.APNsAnswer{Delay: 2 * time.Second})
	s := startServer(t, append([]string{"--push-config", fakes.config}, noTokenLimits...)...)

	greedy := newDevice("apns", pushtest.APNsToken("greedy"))
	greedy.register(t, s)
	accepted, refused := 0, 0
	for i := range 200 {
		status, m := greedy.call(t, s, http.MethodPut, "", fmt.Sprintf(`{"device_token":%q}`, pushtest.APNsToken(fmt.Sprint("victim", i))))
		switch {
		case status == http.StatusOK:
			accepted++
		case status == http.StatusTooManyRequests && m["errcode"] == "M_LIMIT_EXCEEDED" && m["retry_after_ms"] != nil:
			refused++
		default:
			t.Fatalf("replace %d = %d %v, want 200 or 429 with retry_after_ms", i, status, m)
		}
	}
	t.Logf("200 replaces of one token against a 64-push queue: %d accepted, %d refused", accepted, refused)
	if accepted != 0 || refused != 200 {
		t.Errorf("%d replaces accepted while the token's verification push waits, want 0 (its share is 1)", accepted)
	}
	other := newDevice("apns", pushtest.APNsToken("other"))
	other.register(t, s) // fails the test unless 201
}
