package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"go.uber.org/goleak"

	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

const project = "tryst-test"

type fixture struct {
	fake *pushtest.FCM
	sa   []byte
	s    *Sender
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ff := pushtest.NewFCM()
	t.Cleanup(ff.Close)
	sa := ff.ServiceAccount(project)
	s, err := New(context.Background(), Config{App: "chat", ServiceAccountJSON: sa, Endpoint: ff.Endpoint(), RootCAs: ff.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{fake: ff, sa: sa, s: s}
}

func note(seed string) *push.Notification {
	return &push.Notification{
		Token: push.MustParseDeviceToken(push.FCM, pushtest.FCMToken(seed)),
		App:   "chat",
		Alert: push.AlertContent{Title: "Hi", Body: "there"},
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSendAlert(t *testing.T) {
	f := newFixture(t)
	n := note("alert")
	n.CollapseID = "thread-7"
	n.Expiration = time.Now().Add(time.Hour + 30*time.Second)
	n.Alert.Sound = "default"
	n.Data = map[string]string{"k": "v"}
	name, err := f.s.Send(ctx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "projects/"+project+"/messages/") {
		t.Fatalf("name %q", name)
	}
	got := f.fake.ReceivedFor(n.Token.String())
	if len(got) != 1 {
		t.Fatalf("%d sends", len(got))
	}
	r := got[0]
	if r.Project != project || r.Title != "Hi" || r.Body != "there" || r.Data["k"] != "v" ||
		r.AndroidPriority != "high" || r.CollapseKey != "thread-7" || r.APNSHeaders["apns-priority"] != "10" || r.APNSHeaders["apns-push-type"] != "alert" {
		t.Fatalf("request %+v", r)
	}
	ttl, err := time.ParseDuration(r.TTL)
	if err != nil || ttl < time.Hour || ttl > time.Hour+31*time.Second {
		t.Fatalf("ttl %q", r.TTL)
	}
	if r.Client != "fire-admin-go/"+firebase.Version {
		t.Fatalf("X-Firebase-Client %q", r.Client)
	}
	if !strings.Contains(r.ServiceAccount, project) {
		t.Fatalf("service account %q", r.ServiceAccount)
	}
	// The access token is cached across sends.
	if _, err := f.s.Send(ctx(t), note("again")); err != nil {
		t.Fatal(err)
	}
	if n := f.fake.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests", n)
	}
}

func TestSendBackground(t *testing.T) {
	f := newFixture(t)
	n := note("bg")
	n.Kind = push.Background
	n.Alert = push.AlertContent{}
	n.Data = map[string]string{"wake": "1"}
	if _, err := f.s.Send(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	r := f.fake.ReceivedFor(n.Token.String())[0]
	var m map[string]any
	json.Unmarshal(r.Message, &m)
	if _, ok := m["notification"]; ok || r.AndroidPriority != "normal" || r.APNSHeaders["apns-push-type"] != "background" || r.APNSHeaders["apns-priority"] != "5" {
		t.Fatalf("request %+v / %s", r, r.Message)
	}
	if !strings.Contains(string(r.Message), `"content-available":1`) {
		t.Fatalf("no content-available: %s", r.Message)
	}
	// High-priority data message (to wake a dozing Android app).
	n.Priority = push.PriorityHigh
	n.Token = push.MustParseDeviceToken(push.FCM, pushtest.FCMToken("bg-high"))
	if _, err := f.s.Send(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	if r := f.fake.ReceivedFor(n.Token.String())[0]; r.AndroidPriority != "high" {
		t.Fatalf("priority %q", r.AndroidPriority)
	}
}

// TestErrorMatrix drives every FCM error through the real Firebase SDK
// and checks the classification, and that the SDK made exactly one
// request (its own retries are disabled).
func TestErrorMatrix(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name       string
		answer     pushtest.FCMAnswer
		class      push.Class
		reason     push.Reason
		retryAfter time.Duration
	}{
		{"unregistered", pushtest.FCMUnregistered(), push.ClassToken, push.ReasonUnregistered, 0},
		{"invalid-token", pushtest.FCMInvalidToken(), push.ClassToken, push.ReasonBadToken, 0},
		{"invalid-payload", pushtest.FCMInvalidArgument("message.android.ttl", "Invalid value at 'message.android.ttl'"), push.ClassPayload, push.ReasonPayload, 0},
		{"too-big", pushtest.FCMInvalidArgument("message", "Message is too big"), push.ClassPayload, push.ReasonPayloadTooLarge, 0},
		{"sender-id-mismatch", pushtest.FCMSenderIDMismatch(), push.ClassToken, push.ReasonWrongTopic, 0},
		{"quota", pushtest.FCMQuotaExceeded("42"), push.ClassRetryable, push.ReasonRateLimited, 42 * time.Second},
		{"unavailable", pushtest.FCMUnavailable("9"), push.ClassRetryable, push.ReasonUnavailable, 9 * time.Second},
		{"unavailable-long", pushtest.FCMUnavailable("600"), push.ClassRetryable, push.ReasonUnavailable, 600 * time.Second},
		{"unavailable-no-retry-after", pushtest.FCMUnavailable(""), push.ClassRetryable, push.ReasonUnavailable, 0},
		{"internal", pushtest.FCMInternal(), push.ClassRetryable, push.ReasonUnavailable, 0},
		{"unspecified", pushtest.FCMUnspecified(), push.ClassRetryable, push.ReasonUnavailable, 0},
		{"third-party-auth", pushtest.FCMThirdPartyAuth(), push.ClassCredential, push.ReasonCredential, 0},
		{"permission-denied", pushtest.FCMPermissionDenied(), push.ClassCredential, push.ReasonCredential, 0},
		{"drop", pushtest.FCMDrop(), push.ClassRetryable, push.ReasonNetwork, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := note("matrix-" + c.name)
			f.fake.Script(n.Token.String(), c.answer)
			start := time.Now()
			_, err := f.s.Send(ctx(t), n)
			e, ok := push.AsError(err)
			if !ok {
				t.Fatalf("error %v is not a *push.Error", err)
			}
			if e.Class != c.class || e.Reason != c.reason || e.RetryAfter != c.retryAfter {
				t.Fatalf("got %s/%s retry-after %s (%v); want %s/%s %s", e.Class, e.Reason, e.RetryAfter, e, c.class, c.reason, c.retryAfter)
			}
			if got := len(f.fake.ReceivedFor(n.Token.String())); got != 1 {
				t.Fatalf("SDK made %d requests, want 1", got)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("send took %s: SDK slept", el)
			}
			if _, err := f.s.Send(ctx(t), n); err != nil {
				t.Fatalf("follow-up send: %v", err)
			}
		})
	}
}

func TestClassifyBodies(t *testing.T) {
	cases := []struct {
		status int
		body   string
		class  push.Class
		reason push.Reason
	}{
		{404, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`, push.ClassToken, push.ReasonUnregistered},
		{400, `{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}`, push.ClassToken, push.ReasonBadToken},
		{400, `{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"},{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}]}}`, push.ClassToken, push.ReasonBadToken},
		{400, `{"error":{"code":400,"message":"Invalid value at 'message.data[0].value'","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data[0].value"}]}]}}`, push.ClassPayload, push.ReasonPayload},
		{401, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_EXPIRED","domain":"googleapis.com"}]}}`, push.ClassCredential, push.ReasonCredential},
		{404, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}`, push.ClassCredential, push.ReasonCredential},
		{404, `<html>not found</html>`, push.ClassCredential, push.ReasonCredential},
		{429, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`, push.ClassRetryable, push.ReasonRateLimited},
		{500, `{"error":{"code":500,"status":"INTERNAL","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INTERNAL"}]}}`, push.ClassRetryable, push.ReasonUnavailable},
		{502, `bad gateway`, push.ClassRetryable, push.ReasonUnavailable},
		{400, `{"error":{"code":400,"status":"FAILED_PRECONDITION"}}`, push.ClassPayload, push.ReasonPayload},
		{403, `{"error":{"code":403,"status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"SENDER_ID_MISMATCH"}]}}`, push.ClassToken, push.ReasonWrongTopic},
		{401, `{"error":{"code":401,"status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"APNS_AUTH_ERROR"}]}}`, push.ClassCredential, push.ReasonCredential},
	}
	for i, c := range cases {
		e := Classify(c.status, nil, []byte(c.body))
		if e.Class != c.class || e.Reason != c.reason {
			t.Errorf("case %d (%d %s): got %s/%s", i, c.status, c.body, e.Class, e.Reason)
		}
	}
	h := http.Header{}
	h.Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
	if e := Classify(503, h, nil); e.RetryAfter < 80*time.Second || e.RetryAfter > 91*time.Second {
		t.Errorf("HTTP-date Retry-After: %s", e.RetryAfter)
	}
}

// TestAccessTokenRenewed: FCM refuses the cached access token; the sender
// fetches a new one and retries once.
func TestAccessTokenRenewed(t *testing.T) {
	f := newFixture(t)
	if _, err := f.s.Send(ctx(t), note("a")); err != nil {
		t.Fatal(err)
	}
	f.fake.ExpireAccessTokens()
	if _, err := f.s.Send(ctx(t), note("b")); err != nil {
		t.Fatal(err)
	}
	if n := f.fake.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	// A 401 that persists is a credential error, after one renewal.
	n := note("c")
	f.fake.Script(n.Token.String(), pushtest.FCMUnauthenticated(), pushtest.FCMUnauthenticated())
	_, err := f.s.Send(ctx(t), n)
	if e, _ := push.AsError(err); e == nil || e.Class != push.ClassCredential || !strings.Contains(e.ProviderReason, "ACCESS_TOKEN_EXPIRED") {
		t.Fatalf("got %v", err)
	}
	if got := len(f.fake.ReceivedFor(n.Token.String())); got != 2 {
		t.Fatalf("%d sends", got)
	}
}

func TestRevokedServiceAccount(t *testing.T) {
	f := newFixture(t)
	f.fake.RevokeServiceAccount(f.sa)
	_, err := f.s.Send(ctx(t), note("x"))
	e, _ := push.AsError(err)
	if e == nil || e.Class != push.ClassCredential || e.Status != 400 {
		t.Fatalf("got %v", err)
	}
	if f.fake.Count() != 0 {
		t.Fatal("send reached FCM without a token")
	}
}

func TestWrongProject(t *testing.T) {
	f := newFixture(t)
	s, err := New(context.Background(), Config{ServiceAccountJSON: f.sa, ProjectID: "someone-else", Endpoint: f.fake.Endpoint(), RootCAs: f.fake.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Send(ctx(t), note("x"))
	if push.ClassOf(err) != push.ClassCredential {
		t.Fatalf("got %v", err)
	}
}

func TestTokenEndpointDown(t *testing.T) {
	ff := pushtest.NewFCM()
	sa := ff.ServiceAccount(project)
	endpoint, roots := ff.Endpoint(), ff.RootCAs()
	ff.Close()
	s, err := New(context.Background(), Config{ServiceAccountJSON: sa, Endpoint: endpoint, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Send(ctx(t), note("x"))
	if e, _ := push.AsError(err); e == nil || e.Class != push.ClassRetryable || e.Reason != push.ReasonNetwork {
		t.Fatalf("got %v", err)
	}
}

func TestLocalChecks(t *testing.T) {
	f := newFixture(t)
	for _, k := range []string{"from", "google.x", "gcm.y", "message_type", "notification"} {
		n := note("reserved")
		n.Data = map[string]string{k: "v"}
		if _, err := f.s.Send(ctx(t), n); push.ClassOf(err) != push.ClassPayload {
			t.Fatalf("reserved key %q: %v", k, err)
		}
	}
	n := note("big")
	n.Data = map[string]string{"blob": strings.Repeat("x", MaxPayload)}
	_, err := f.s.Send(ctx(t), n)
	if e, _ := push.AsError(err); e == nil || e.Reason != push.ReasonPayloadTooLarge {
		t.Fatalf("too large: %v", err)
	}
	n = note("old")
	n.Expiration = time.Now().Add(-time.Second)
	if _, err := f.s.Send(ctx(t), n); push.ClassOf(err) != push.ClassExpired {
		t.Fatalf("expired: %v", err)
	}
	n = note("apns")
	n.Token = push.MustParseDeviceToken(push.APNs, pushtest.APNsToken("x"))
	if _, err := f.s.Send(ctx(t), n); push.ClassOf(err) != push.ClassPayload {
		t.Fatalf("apns token: %v", err)
	}
	if f.fake.Count() != 0 {
		t.Fatal("locally refused notifications reached FCM")
	}
}

func TestContextCancel(t *testing.T) {
	f := newFixture(t)
	n := note("hang")
	f.fake.Script(n.Token.String(), pushtest.FCMAnswer{Hang: true})
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := f.s.Send(c, n)
	e, _ := push.AsError(err)
	if e == nil || e.Class != push.ClassRetryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestServiceAccountErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadServiceAccount(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing: %v", err)
	}
	cases := map[string]string{
		"not json":    `{`,
		"wrong type":  `{"type":"authorized_user"}`,
		"no email":    `{"type":"service_account","private_key":"x"}`,
		"no key":      `{"type":"service_account","client_email":"a@b"}`,
		"key not pem": `{"type":"service_account","client_email":"a@b","private_key":"nope"}`,
		"ec key":      `{"type":"service_account","client_email":"a@b","private_key":"` + strings.ReplaceAll(string(pushtest.KeyPEM(pushtest.NewAPNsKey())), "\n", `\n`) + `"}`,
	}
	for name, body := range cases {
		p := filepath.Join(dir, "sa.json")
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := LoadServiceAccount(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ff := pushtest.NewFCM()
	defer ff.Close()
	var sa map[string]string
	json.Unmarshal(ff.ServiceAccount(""), &sa)
	b, _ := json.Marshal(sa)
	if _, err := New(context.Background(), Config{ServiceAccountJSON: b}); err == nil || !strings.Contains(err.Error(), "project") {
		t.Fatalf("no project: %v", err)
	}
}

// TestSDKVersion: the version reported to Google matches the linked SDK,
// as firebase.NewApp would report it.
func TestSDKVersion(t *testing.T) {
	if SDKVersion != firebase.Version {
		t.Fatalf("SDKVersion %s, firebase.Version %s", SDKVersion, firebase.Version)
	}
}
