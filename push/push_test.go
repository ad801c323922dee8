package push_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/push"
)

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]push.Platform{"apns": push.APNs, "iOS": push.APNs, " FCM ": push.FCM, "android": push.FCM, "firebase": push.FCM} {
		if got, err := push.ParsePlatform(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "gcm", "web"} {
		if _, err := push.ParsePlatform(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if push.APNs.String() != "apns" || push.FCM.String() != "fcm" || push.Platform(0).Valid() {
		t.Fatal("String/Valid")
	}
	var p push.Platform
	if err := p.UnmarshalText([]byte("fcm")); err != nil || p != push.FCM {
		t.Fatal("UnmarshalText")
	}
}

func TestParseEnvironment(t *testing.T) {
	for in, want := range map[string]push.Environment{"": push.Production, "production": push.Production, "PROD": push.Production, "development": push.Development, "sandbox": push.Development, "dev": push.Development} {
		if got, err := push.ParseEnvironment(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := push.ParseEnvironment("staging"); err == nil {
		t.Error("staging accepted")
	}
}

func TestParseDeviceToken(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	ok := []struct {
		p    push.Platform
		in   string
		want string
	}{
		{push.APNs, hex64, hex64},
		{push.APNs, strings.ToUpper(hex64), hex64},
		{push.APNs, strings.Repeat("0f", 100), strings.Repeat("0f", 100)},
		{push.FCM, "dGVzdC10b2tlbi0xMjM0NTY3:APA91bH-x_y", "dGVzdC10b2tlbi0xMjM0NTY3:APA91bH-x_y"},
	}
	for _, c := range ok {
		tok, err := push.ParseDeviceToken(c.p, c.in)
		if err != nil || tok.String() != c.want || tok.Platform() != c.p || tok.IsZero() {
			t.Errorf("%s %q: %v %v", c.p, c.in, tok, err)
		}
	}
	bad := []struct {
		p  push.Platform
		in string
	}{
		{push.APNs, ""},
		{push.APNs, strings.Repeat("ab", 31)},        // 62: too short
		{push.APNs, strings.Repeat("ab", 101)},       // 202: too long
		{push.APNs, strings.Repeat("ab", 32) + "a"},  // odd
		{push.APNs, strings.Repeat("zz", 32)},        // not hex
		{push.FCM, "short"},                          // too short
		{push.FCM, strings.Repeat("a", 4097)},        // too long
		{push.FCM, "has spaces in it, which is bad"}, // charset
		{push.FCM, "slash/es/are/not/in/fcm/tokens"}, // charset
		{0, hex64},
	}
	for _, c := range bad {
		if _, err := push.ParseDeviceToken(c.p, c.in); err == nil {
			t.Errorf("%s %q accepted", c.p, c.in)
		}
	}
	if r := push.MustParseDeviceToken(push.APNs, hex64).Redacted(); r != "abababab…" {
		t.Errorf("redacted %q", r)
	}
}

func TestValidate(t *testing.T) {
	now := time.Now()
	base := func() *push.Notification { return apnsNote("v") }
	cases := map[string]func(n *push.Notification){
		"no token":        func(n *push.Notification) { n.Token = push.DeviceToken{} },
		"no app":          func(n *push.Notification) { n.App = "" },
		"bad kind":        func(n *push.Notification) { n.Kind = 9 },
		"bad priority":    func(n *push.Notification) { n.Priority = 9 },
		"bad env":         func(n *push.Notification) { n.Environment = 9 },
		"long collapse":   func(n *push.Notification) { n.CollapseID = strings.Repeat("c", 65) },
		"bg with alert":   func(n *push.Notification) { n.Kind = push.Background; n.Alert.Body = "x" },
		"empty data key":  func(n *push.Notification) { n.Data = map[string]string{"": "x"} },
		"aps data key":    func(n *push.Notification) { n.Data = map[string]string{"aps": "x"} },
		"past expiration": func(n *push.Notification) { n.Expiration = now.Add(-time.Second) },
	}
	for name, mut := range cases {
		n := base()
		mut(n)
		err := n.Validate(now)
		want := push.ClassPayload
		if name == "past expiration" {
			want = push.ClassExpired
		}
		if push.ClassOf(err) != want {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := base().Validate(now); err != nil {
		t.Fatal(err)
	}
	if (*push.Notification)(nil).Validate(now) == nil {
		t.Fatal("nil accepted")
	}
}

func TestPriorityEffective(t *testing.T) {
	if push.PriorityDefault.Effective(push.Alert) != push.PriorityHigh || push.PriorityDefault.Effective(push.Background) != push.PriorityNormal || push.PriorityNormal.Effective(push.Alert) != push.PriorityNormal {
		t.Fatal("Effective")
	}
}

func TestErrorClassification(t *testing.T) {
	te := push.TokenError(push.ReasonUnregistered, "apns", "Unregistered", 410)
	te.Timestamp = time.Unix(1_700_000_000, 0)
	wrapped := errors.Join(errors.New("context"), te)
	if push.ClassOf(wrapped) != push.ClassToken || !push.IsTokenDead(wrapped) || push.ReasonOf(wrapped) != push.ReasonUnregistered {
		t.Fatal("wrapped token error")
	}
	if e, ok := push.AsError(wrapped); !ok || !e.Timestamp.Equal(te.Timestamp) {
		t.Fatal("AsError")
	}
	cases := []struct {
		err    error
		class  push.Class
		reason push.Reason
	}{
		{nil, push.ClassNone, ""},
		{push.ErrExpired, push.ClassExpired, push.ReasonNotificationExpired},
		{push.ErrShutdown, push.ClassShutdown, push.ReasonShutdown},
		{push.ErrCircuitOpen, push.ClassCredential, push.ReasonCircuitOpen},
		{errors.New("mystery"), push.ClassRetryable, push.ReasonNetwork},
		{push.ContextError("x", context.Canceled), push.ClassShutdown, push.ReasonShutdown},
		{push.ContextError("x", context.DeadlineExceeded), push.ClassRetryable, push.ReasonNetwork},
		{push.CredentialError("apns", "InvalidProviderToken", 403, nil), push.ClassCredential, push.ReasonCredential},
		{push.PayloadError("fcm", "INVALID_ARGUMENT", 400, nil), push.ClassPayload, push.ReasonPayload},
		{push.RetryableError(push.ReasonRateLimited, "fcm", time.Second, nil), push.ClassRetryable, push.ReasonRateLimited},
	}
	for _, c := range cases {
		if push.ClassOf(c.err) != c.class || push.ReasonOf(c.err) != c.reason {
			t.Errorf("%v: %s/%s", c.err, push.ClassOf(c.err), push.ReasonOf(c.err))
		}
	}
	msg := (&push.Error{Class: push.ClassRetryable, Reason: push.ReasonRateLimited, Provider: "apns", ProviderReason: "TooManyRequests", Status: 429, RetryAfter: 5 * time.Second}).Error()
	if msg != "push apns: rate_limited (429 TooManyRequests) retry after 5s" {
		t.Fatalf("message %q", msg)
	}
}
