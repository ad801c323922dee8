package apns

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

	"github.com/golang-jwt/jwt/v4"
	"github.com/sideshow/apns2"
	"go.uber.org/goleak"

	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

const (
	keyID  = "KEY1234567"
	teamID = "TEAM123456"
	topic  = "com.example.chat"
)

type fixture struct {
	fake *pushtest.APNs
	s    *Sender
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fa := pushtest.NewAPNs()
	t.Cleanup(fa.Close)
	key := fa.NewKey(keyID, teamID, topic)
	s, err := New(Config{App: "chat", Topic: topic, Key: key, KeyID: keyID, TeamID: teamID,
		ProductionURL: fa.ProductionURL(), DevelopmentURL: fa.DevelopmentURL(), RootCAs: fa.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{fake: fa, s: s}
}

func note(seed string) *push.Notification {
	return &push.Notification{
		Token: push.MustParseDeviceToken(push.APNs, pushtest.APNsToken(seed)),
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
	n.Expiration = time.Now().Add(time.Hour).Truncate(time.Second)
	n.MutableContent = true
	n.Data = map[string]string{"k": "v", "a": "b\"\n"}
	id, err := f.s.Send(ctx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	got := f.fake.ReceivedFor(n.Token.String())
	if len(got) != 1 {
		t.Fatalf("fake got %d requests", len(got))
	}
	r := got[0]
	if r.Status != 200 || id == "" {
		t.Fatalf("status %d id %q", r.Status, id)
	}
	if r.Environment != push.Production || r.Topic != topic || r.PushType != "alert" || r.Priority != "10" ||
		r.CollapseID != "thread-7" || r.Auth != "token" || r.KeyID != keyID || r.TeamID != teamID {
		t.Fatalf("request %+v", r)
	}
	if r.Expiration != jsonInt(n.Expiration.Unix()) {
		t.Fatalf("expiration %q", r.Expiration)
	}
	var p struct {
		Aps struct {
			Alert          struct{ Title, Body string }
			MutableContent int `json:"mutable-content"`
		}
		K, A string
	}
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", r.Payload, err)
	}
	if p.Aps.Alert.Title != "Hi" || p.Aps.Alert.Body != "there" || p.Aps.MutableContent != 1 || p.K != "v" || p.A != "b\"\n" {
		t.Fatalf("payload %s", r.Payload)
	}
}

func jsonInt(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestSendBackgroundDevelopment(t *testing.T) {
	f := newFixture(t)
	n := note("bg")
	n.Alert = push.AlertContent{}
	n.Kind = push.Background
	n.Priority = push.PriorityHigh // APNs forbids 10 for background: sender must send 5
	n.Environment = push.Development
	f.fake.SetTokenEnvironment(n.Token.String(), push.Development)
	if _, err := f.s.Send(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	r := f.fake.ReceivedFor(n.Token.String())[0]
	if r.Environment != push.Development || r.PushType != "background" || r.Priority != "5" {
		t.Fatalf("request %+v", r)
	}
	if string(r.Payload) != `{"aps":{"content-available":1}}` {
		t.Fatalf("payload %s", r.Payload)
	}
	// The same development token sent to production is a bad token.
	n2 := *n
	n2.Environment = push.Production
	_, err := f.s.Send(ctx(t), &n2)
	if e, _ := push.AsError(err); e == nil || e.Class != push.ClassToken || e.Reason != push.ReasonBadToken || e.ProviderReason != "BadDeviceToken" {
		t.Fatalf("got %v", err)
	}
}

func TestNormalPriorityAlert(t *testing.T) {
	f := newFixture(t)
	n := note("low")
	n.Priority = push.PriorityNormal
	if _, err := f.s.Send(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	if r := f.fake.ReceivedFor(n.Token.String())[0]; r.Priority != "5" || r.PushType != "alert" {
		t.Fatalf("request %+v", r)
	}
}

// TestErrorMatrix drives every scripted APNs answer through the real apns2
// client and checks the classification.
func TestErrorMatrix(t *testing.T) {
	f := newFixture(t)
	gone := time.UnixMilli(1_700_000_000_000)
	cases := []struct {
		answer     pushtest.APNsAnswer
		class      push.Class
		reason     push.Reason
		retryAfter time.Duration
	}{
		{pushtest.APNsFail(400, "BadCollapseId"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(400, "BadDeviceToken"), push.ClassToken, push.ReasonBadToken, 0},
		{pushtest.APNsFail(400, "BadExpirationDate"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(400, "BadMessageId"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(400, "BadPriority"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(400, "BadTopic"), push.ClassCredential, push.ReasonCredential, 0},
		{pushtest.APNsFail(400, "DeviceTokenNotForTopic"), push.ClassToken, push.ReasonWrongTopic, 0},
		{pushtest.APNsFail(400, "DuplicateHeaders"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(400, "IdleTimeout"), push.ClassRetryable, push.ReasonNetwork, 0},
		{pushtest.APNsFail(400, "InvalidPushType"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(400, "MissingDeviceToken"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(400, "MissingTopic"), push.ClassCredential, push.ReasonCredential, 0},
		{pushtest.APNsFail(400, "PayloadEmpty"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(400, "TopicDisallowed"), push.ClassCredential, push.ReasonCredential, 0},
		{pushtest.APNsFail(403, "BadCertificate"), push.ClassCredential, push.ReasonCredential, 0},
		{pushtest.APNsFail(403, "BadCertificateEnvironment"), push.ClassCredential, push.ReasonCredential, 0},
		{pushtest.APNsFail(403, "Forbidden"), push.ClassCredential, push.ReasonCredential, 0},
		{pushtest.APNsFail(403, "InvalidProviderToken"), push.ClassCredential, push.ReasonCredential, 0},
		{pushtest.APNsFail(403, "MissingProviderToken"), push.ClassCredential, push.ReasonCredential, 0},
		{pushtest.APNsFail(404, "BadPath"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsFail(405, "MethodNotAllowed"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsGone("Unregistered", gone), push.ClassToken, push.ReasonUnregistered, 0},
		{pushtest.APNsGone("ExpiredToken", gone), push.ClassToken, push.ReasonTokenExpired, 0},
		{pushtest.APNsFail(413, "PayloadTooLarge"), push.ClassPayload, push.ReasonPayloadTooLarge, 0},
		{pushtest.APNsFail(429, "TooManyRequests"), push.ClassRetryable, push.ReasonRateLimited, 0},
		{pushtest.APNsAnswer{Status: 429, Reason: "TooManyRequests", RetryAfter: "7"}, push.ClassRetryable, push.ReasonRateLimited, 7 * time.Second},
		{pushtest.APNsFail(429, "TooManyProviderTokenUpdates"), push.ClassRetryable, push.ReasonRateLimited, 0},
		{pushtest.APNsFail(500, "InternalServerError"), push.ClassRetryable, push.ReasonUnavailable, 0},
		{pushtest.APNsFail(503, "ServiceUnavailable"), push.ClassRetryable, push.ReasonUnavailable, 0},
		{pushtest.APNsAnswer{Status: 503, Reason: "Shutdown", RetryAfter: "30"}, push.ClassRetryable, push.ReasonUnavailable, 30 * time.Second},
		{pushtest.APNsFail(500, "SomethingNew"), push.ClassRetryable, push.ReasonUnavailable, 0},
		{pushtest.APNsFail(400, "SomethingNew"), push.ClassPayload, push.ReasonPayload, 0},
		{pushtest.APNsDrop(), push.ClassRetryable, push.ReasonNetwork, 0},
	}
	for i, c := range cases {
		name := c.answer.Reason
		if c.answer.Drop {
			name = "drop"
		}
		t.Run(name, func(t *testing.T) {
			n := note("matrix-" + name + string(rune('a'+i)))
			f.fake.Script(n.Token.String(), c.answer)
			_, err := f.s.Send(ctx(t), n)
			e, ok := push.AsError(err)
			if !ok {
				t.Fatalf("error %v is not a *push.Error", err)
			}
			if e.Class != c.class || e.Reason != c.reason || e.RetryAfter != c.retryAfter {
				t.Fatalf("got class %s reason %s retry-after %s (%v); want %s %s %s", e.Class, e.Reason, e.RetryAfter, e, c.class, c.reason, c.retryAfter)
			}
			if !c.answer.Drop && (e.Status != c.answer.Status || e.ProviderReason != c.answer.Reason) {
				t.Fatalf("status %d reason %q", e.Status, e.ProviderReason)
			}
			if c.answer.Status == http.StatusGone && !e.Timestamp.Equal(gone) {
				t.Fatalf("410 timestamp %v, want %v", e.Timestamp, gone)
			}
			// The connection survives (or is re-made) for the next push.
			if _, err := f.s.Send(ctx(t), n); err != nil {
				t.Fatalf("follow-up send: %v", err)
			}
		})
	}
}

// TestClassifyTable checks every documented reason has a mapping.
func TestClassifyTable(t *testing.T) {
	documented := map[string]int{
		apns2.ReasonBadCollapseID: 400, apns2.ReasonBadDeviceToken: 400, apns2.ReasonBadExpirationDate: 400,
		apns2.ReasonBadMessageID: 400, apns2.ReasonBadPriority: 400, apns2.ReasonBadTopic: 400,
		apns2.ReasonDeviceTokenNotForTopic: 400, apns2.ReasonDuplicateHeaders: 400, apns2.ReasonIdleTimeout: 400,
		apns2.ReasonInvalidPushType: 400, apns2.ReasonMissingDeviceToken: 400, apns2.ReasonMissingTopic: 400,
		apns2.ReasonPayloadEmpty: 400, apns2.ReasonTopicDisallowed: 400,
		apns2.ReasonBadCertificate: 403, apns2.ReasonBadCertificateEnvironment: 403, apns2.ReasonExpiredProviderToken: 403,
		apns2.ReasonForbidden: 403, apns2.ReasonInvalidProviderToken: 403, apns2.ReasonMissingProviderToken: 403,
		apns2.ReasonBadPath: 404, apns2.ReasonMethodNotAllowed: 405,
		apns2.ReasonExpiredToken: 410, apns2.ReasonUnregistered: 410,
		apns2.ReasonPayloadTooLarge:             413,
		apns2.ReasonTooManyProviderTokenUpdates: 429, apns2.ReasonTooManyRequests: 429,
		apns2.ReasonInternalServerError: 500, apns2.ReasonServiceUnavailable: 503, apns2.ReasonShutdown: 503,
	}
	for reason, status := range documented {
		if _, ok := reasons[reason]; !ok {
			t.Errorf("reason %s not mapped", reason)
		}
		e := Classify(status, reason)
		// Token errors only from the token reasons; never from 5xx.
		switch {
		case status >= 500 && e.Class != push.ClassRetryable:
			t.Errorf("%s: 5xx not retryable", reason)
		case status == 403 && e.Class != push.ClassCredential:
			t.Errorf("%s: 403 not a credential error", reason)
		case status == 410 && e.Class != push.ClassToken:
			t.Errorf("%s: 410 not a token error", reason)
		case status == 429 && e.Class != push.ClassRetryable:
			t.Errorf("%s: 429 not retryable", reason)
		}
	}
	if len(Reasons()) < len(documented) {
		t.Fatalf("Reasons() lists %d", len(Reasons()))
	}
	for _, c := range []struct {
		status int
		class  push.Class
	}{{410, push.ClassToken}, {413, push.ClassPayload}, {429, push.ClassRetryable}, {403, push.ClassCredential}, {502, push.ClassRetryable}, {418, push.ClassPayload}} {
		if got := Classify(c.status, "").Class; got != c.class {
			t.Errorf("status %d without reason: %s, want %s", c.status, got, c.class)
		}
	}
}

func TestFakeChecksCredentials(t *testing.T) {
	f := newFixture(t)
	// A key the fake does not know.
	other := pushtest.NewAPNsKey()
	s2, err := New(Config{Topic: topic, Key: other, KeyID: "OTHER12345", TeamID: teamID,
		ProductionURL: f.fake.ProductionURL(), DevelopmentURL: f.fake.DevelopmentURL(), RootCAs: f.fake.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	_, err = s2.Send(ctx(t), note("x"))
	if e, _ := push.AsError(err); e == nil || e.Class != push.ClassCredential || e.ProviderReason != "InvalidProviderToken" {
		t.Fatalf("unknown key: %v", err)
	}
	// Right key id, wrong signature (another key claiming the id).
	s3, _ := New(Config{Topic: topic, Key: other, KeyID: keyID, TeamID: teamID,
		ProductionURL: f.fake.ProductionURL(), DevelopmentURL: f.fake.DevelopmentURL(), RootCAs: f.fake.RootCAs()})
	defer s3.Close()
	_, err = s3.Send(ctx(t), note("x"))
	if e, _ := push.AsError(err); e == nil || e.ProviderReason != "InvalidProviderToken" {
		t.Fatalf("bad signature: %v", err)
	}
	// A topic the key may not push to.
	s4, _ := New(Config{Topic: "com.example.other", Key: f.s.tok.AuthKey, KeyID: keyID, TeamID: teamID,
		ProductionURL: f.fake.ProductionURL(), DevelopmentURL: f.fake.DevelopmentURL(), RootCAs: f.fake.RootCAs()})
	defer s4.Close()
	_, err = s4.Send(ctx(t), note("x"))
	if e, _ := push.AsError(err); e == nil || e.Class != push.ClassCredential || e.ProviderReason != "TopicDisallowed" {
		t.Fatalf("topic: %v", err)
	}
	// Revocation.
	if _, err := f.s.Send(ctx(t), note("before")); err != nil {
		t.Fatal(err)
	}
	f.fake.RevokeKey(keyID)
	_, err = f.s.Send(ctx(t), note("after"))
	if e, _ := push.AsError(err); e == nil || e.Class != push.ClassCredential || e.ProviderReason != "InvalidProviderToken" {
		t.Fatalf("revoked: %v", err)
	}
}

// TestExpiredProviderTokenRenewed: APNs calls the JWT stale, the sender
// signs a new one and retries once.
func TestExpiredProviderTokenRenewed(t *testing.T) {
	f := newFixture(t)
	stale := &jwt.Token{
		Header: map[string]any{"alg": "ES256", "kid": keyID},
		Claims: jwt.MapClaims{"iss": teamID, "iat": time.Now().Add(-61 * time.Minute).Unix()},
		Method: jwt.SigningMethodES256,
	}
	bearer, err := stale.SignedString(f.s.tok.AuthKey)
	if err != nil {
		t.Fatal(err)
	}
	f.s.tok.Bearer = bearer // IssuedAt stays current: only APNs notices
	f.s.tok.IssuedAt--      // renewal must still produce a different token within the same second
	f.s.issued.Store(f.s.tok.IssuedAt)
	n := note("stale")
	if _, err := f.s.Send(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	got := f.fake.ReceivedFor(n.Token.String())
	if len(got) != 2 || got[0].Reason != "ExpiredProviderToken" || got[1].Status != 200 {
		t.Fatalf("requests %+v", got)
	}
}

// TestTokenRefresh: the JWT is replaced after 40 minutes, before Apple's
// hour.
func TestTokenRefresh(t *testing.T) {
	f := newFixture(t)
	first := f.s.tok.Bearer
	if _, err := f.s.Send(ctx(t), note("r1")); err != nil {
		t.Fatal(err)
	}
	if f.s.tok.Bearer != first {
		t.Fatal("token replaced too early")
	}
	f.s.tok.IssuedAt -= 41 * 60 // pretend it was signed 41 minutes ago
	f.s.issued.Store(f.s.tok.IssuedAt)
	if _, err := f.s.Send(ctx(t), note("r2")); err != nil {
		t.Fatal(err)
	}
	if f.s.tok.Bearer == first || time.Now().Unix()-f.s.tok.IssuedAt > 5 {
		t.Fatal("token not refreshed after 41 minutes")
	}
}

func TestCertificateAuth(t *testing.T) {
	fa := pushtest.NewAPNs()
	defer fa.Close()
	cert := pushtest.NewClientCertificate(topic, time.Time{}, time.Time{})
	fa.AddCertificate(cert.Leaf, []string{topic})
	dir := t.TempDir()
	path := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(path, pushtest.CertificatePEM(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCertificate(path, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Topic: topic, Certificate: &loaded, ProductionURL: fa.ProductionURL(), DevelopmentURL: fa.DevelopmentURL(), RootCAs: fa.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := note("cert")
	if _, err := s.Send(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	if r := fa.ReceivedFor(n.Token.String())[0]; r.Auth != "certificate" || r.Topic != topic {
		t.Fatalf("request %+v", r)
	}
	// A certificate APNs does not know.
	unknown := pushtest.NewClientCertificate(topic, time.Time{}, time.Time{})
	s2, _ := New(Config{Topic: topic, Certificate: &unknown, ProductionURL: fa.ProductionURL(), DevelopmentURL: fa.DevelopmentURL(), RootCAs: fa.RootCAs()})
	defer s2.Close()
	_, err = s2.Send(ctx(t), note("cert2"))
	if e, _ := push.AsError(err); e == nil || e.Class != push.ClassCredential || e.ProviderReason != "BadCertificate" {
		t.Fatalf("unknown cert: %v", err)
	}
	// A production-only certificate used against the sandbox.
	prodOnly := pushtest.NewClientCertificate(topic, time.Time{}, time.Time{})
	fa.AddCertificate(prodOnly.Leaf, []string{topic}, push.Production)
	s3, _ := New(Config{Topic: topic, Certificate: &prodOnly, ProductionURL: fa.ProductionURL(), DevelopmentURL: fa.DevelopmentURL(), RootCAs: fa.RootCAs()})
	defer s3.Close()
	n3 := note("cert3")
	n3.Environment = push.Development
	_, err = s3.Send(ctx(t), n3)
	if e, _ := push.AsError(err); e == nil || e.ProviderReason != "BadCertificateEnvironment" {
		t.Fatalf("wrong env cert: %v", err)
	}
}

func TestLoadCertificateP12(t *testing.T) {
	// testdata/apns.p12 was made with openssl (legacy PBE, password "tryst").
	cert, err := LoadCertificate("testdata/apns.p12", "tryst")
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf == nil || !strings.Contains(cert.Leaf.Subject.CommonName, "com.example.chat") {
		t.Fatalf("leaf %+v", cert.Leaf)
	}
	fa := pushtest.NewAPNs()
	defer fa.Close()
	fa.AddCertificate(cert.Leaf, []string{topic})
	s, err := New(Config{Topic: topic, Certificate: &cert, ProductionURL: fa.ProductionURL(), DevelopmentURL: fa.DevelopmentURL(), RootCAs: fa.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Send(ctx(t), note("p12")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCertificate("testdata/apns.p12", "wrong"); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestCredentialErrorsAtLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadKey(filepath.Join(dir, "missing.p8")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing key: %v", err)
	}
	bad := filepath.Join(dir, "bad.p8")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, err := LoadKey(bad); err == nil || !strings.Contains(err.Error(), ".p8") {
		t.Fatalf("bad key: %v", err)
	}
	good := filepath.Join(dir, "good.p8")
	os.WriteFile(good, pushtest.KeyPEM(pushtest.NewAPNsKey()), 0o600)
	if _, err := LoadKey(good); err != nil {
		t.Fatal(err)
	}
	expired := pushtest.NewClientCertificate(topic, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	ep := filepath.Join(dir, "expired.pem")
	os.WriteFile(ep, pushtest.CertificatePEM(expired), 0o600)
	if _, err := LoadCertificate(ep, ""); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired cert: %v", err)
	}
	if _, err := New(Config{Topic: topic}); err == nil {
		t.Fatal("no credentials accepted")
	}
	if _, err := New(Config{Key: pushtest.NewAPNsKey(), KeyID: keyID, TeamID: teamID}); err == nil {
		t.Fatal("no topic accepted")
	}
	if _, err := New(Config{Topic: topic, Key: pushtest.NewAPNsKey()}); err == nil {
		t.Fatal("no key id accepted")
	}
	c := pushtest.NewClientCertificate(topic, time.Time{}, time.Time{})
	if _, err := New(Config{Topic: topic, Key: pushtest.NewAPNsKey(), KeyID: keyID, TeamID: teamID, Certificate: &c}); err == nil {
		t.Fatal("both credentials accepted")
	}
}

func TestLocalChecks(t *testing.T) {
	f := newFixture(t)
	n := note("big")
	n.Data = map[string]string{"blob": strings.Repeat("x", MaxPayload)}
	_, err := f.s.Send(ctx(t), n)
	if e, _ := push.AsError(err); e == nil || e.Reason != push.ReasonPayloadTooLarge {
		t.Fatalf("too large: %v", err)
	}
	n = note("old")
	n.Expiration = time.Now().Add(-time.Second)
	_, err = f.s.Send(ctx(t), n)
	if push.ClassOf(err) != push.ClassExpired {
		t.Fatalf("expired: %v", err)
	}
	n = note("fcm")
	n.Token = push.MustParseDeviceToken(push.FCM, pushtest.FCMToken("x"))
	if _, err := f.s.Send(ctx(t), n); push.ClassOf(err) != push.ClassPayload {
		t.Fatalf("fcm token: %v", err)
	}
	if f.fake.Count() != 0 {
		t.Fatal("locally refused notifications reached APNs")
	}
}

func TestContextCancel(t *testing.T) {
	f := newFixture(t)
	n := note("hang")
	f.fake.Script(n.Token.String(), pushtest.APNsAnswer{Hang: true})
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := f.s.Send(c, n)
	e, _ := push.AsError(err)
	if e == nil || e.Class != push.ClassRetryable || e.Reason != push.ReasonNetwork || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
}

func TestPayloadJSON(t *testing.T) {
	tricky := []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\t\r\n", "utf8 é ✓ 🚀", "bad \xff utf8", "line\u2028sep\u2029", "<html>&"}
	for _, s := range tricky {
		n := &push.Notification{Alert: push.AlertContent{Title: s, Body: s, Sound: s}, Data: map[string]string{s + "k": s, "z": s}}
		b := buildPayload(n)
		var got struct {
			Aps struct {
				Alert struct{ Title, Body string }
				Sound string
			}
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if s != "" && (got.Aps.Alert.Title != want || got.Aps.Sound != want) {
			t.Fatalf("%q: round trip gave %q", s, got.Aps.Alert.Title)
		}
		var all map[string]any
		json.Unmarshal(b, &all)
		if all["z"] != want {
			t.Fatalf("%q: data %v", s, all["z"])
		}
	}
}

// TestPayloadDataGroup checks that data and flags go under DataGroup
// (SimpleX apps read "notificationData"), and that a message push of the
// default size (a 2,816-byte sealed box) stays under APNs' 4,096 bytes.
func TestPayloadDataGroup(t *testing.T) {
	n := &push.Notification{Kind: push.Background, Flags: []string{"checkMessages"}, DataGroup: "notificationData"}
	if got, want := string(buildPayload(n)), `{"aps":{"content-available":1},"notificationData":{"checkMessages":true}}`; got != want {
		t.Errorf("check push payload = %s, want %s", got, want)
	}
	sealed := strings.Repeat("A", 3755) // base64url of 2,816 bytes
	n = &push.Notification{Alert: push.AlertContent{Body: "Encrypted message or another app event"}, MutableContent: true,
		DataGroup: "notificationData", Data: map[string]string{"nonce": strings.Repeat("B", 32), "message": sealed}}
	b := buildPayload(n)
	want := `{"aps":{"alert":{"body":"Encrypted message or another app event"},"mutable-content":1},` +
		`"notificationData":{"message":"` + sealed + `","nonce":"` + strings.Repeat("B", 32) + `"}}`
	if string(b) != want {
		t.Errorf("message push payload = %s, want %s", b, want)
	}
	if len(b) >= MaxPayload {
		t.Errorf("message push payload is %d bytes, want under %d", len(b), MaxPayload)
	}
	if err := (&push.Notification{Token: push.MustParseDeviceToken(push.APNs, strings.Repeat("a", 64)), App: "a",
		Data: map[string]string{"aps": "x"}, DataGroup: "g"}).Validate(time.Now()); err != nil {
		t.Errorf(`Validate(data "aps" under a group) = %v, want nil`, err)
	}
}
