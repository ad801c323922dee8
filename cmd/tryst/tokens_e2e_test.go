package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/push/pushtest"
)

// noTokenLimits turns the per-IP token limits off: every request of a
// test comes from 127.0.0.1.
var noTokenLimits = []string{"--token-register-rate", "0", "--token-verify-rate", "0",
	"--token-update-rate", "0", "--token-rate-per-token", "0"}

// TestTokensEndToEnd drives the token API of a running gateway whose
// pushes go through the real APNs and FCM senders to the fakes.
func TestTokensEndToEnd(t *testing.T) {
	fakes := newPushFakes(t)
	s := startServer(t, append([]string{"--push-config", fakes.config}, noTokenLimits...)...)
	for _, tc := range []struct{ platform, first, second, dead string }{
		{"apns", pushtest.APNsToken("first"), pushtest.APNsToken("second"), pushtest.APNsToken("dead")},
		{"fcm", pushtest.FCMToken("first"), pushtest.FCMToken("second"), pushtest.FCMToken("dead")},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			d := newDevice(tc.platform, tc.first)
			d.register(t, s)
			code := d.open(t, fakes.verificationData(t, tc.platform, tc.first))
			d.waitStatus(t, s, "confirmed") // the provider accepted the push
			d.verify(t, s, code)

			// The OS rotated the device token: re-verification.
			status, m := d.call(t, s, http.MethodPut, "", `{"device_token":"`+tc.second+`"}`)
			if status != http.StatusOK || m["status"] != "registered" {
				t.Fatalf("replace = %d %v, want 200 registered", status, m)
			}
			newCode := d.open(t, fakes.verificationData(t, tc.platform, tc.second))
			if status, _ := d.call(t, s, http.MethodPost, "/verify", `{"code":"`+code+`"}`); status != http.StatusForbidden {
				t.Errorf("verify with the old code after replace = %d, want 403", status)
			}
			d.verify(t, s, newCode)

			// The provider says the token is gone: invalid, with the reason.
			if tc.platform == "fcm" {
				fakes.fcm.Script(tc.dead, pushtest.FCMUnregistered())
			} else {
				fakes.apns.Script(tc.dead, pushtest.APNsGone("Unregistered", time.Now()))
			}
			dead := newDevice(tc.platform, tc.dead)
			dead.register(t, s)
			if m := dead.waitStatus(t, s, "invalid"); m["invalid_reason"] != "unregistered" {
				t.Errorf("dead token = %v, want invalid_reason unregistered", m)
			}
			if status, m := dead.call(t, s, http.MethodPost, "/verify", `{"code":"`+code+`"}`); status != http.StatusConflict || m["errcode"] != "M_CONFLICT" {
				t.Errorf("verify an invalid token = %d %v, want 409 M_CONFLICT", status, m)
			}
		})
	}
}

// TestTokensLogSenderByDefault checks zero set-up: without a push
// configuration the gateway registers tokens, logs the pushes instead of
// delivering them, and says so.
func TestTokensLogSenderByDefault(t *testing.T) {
	var log lockedOutput
	s := startServerLog(t, &log, noTokenLimits...)
	d := newDevice("apns", pushtest.APNsToken("log"))
	d.register(t, s)
	d.waitStatus(t, s, "confirmed") // the log sender "accepts" every push
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no push credentials configured", "push (log only, not delivered)", `"database"`, "master key generated"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not mention %q", want)
		}
	}
	if strings.Contains(log.String(), d.token) {
		t.Error("the log holds a full device token")
	}
}
