package handlers_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/ntf/ntftest"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// fakePusher records what the token service queues.
type fakePusher struct {
	mu   sync.Mutex
	sent []*push.Notification
}

func (p *fakePusher) Enqueue(_ context.Context, n *push.Notification) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, n)
	return nil
}

func (p *fakePusher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

func (p *fakePusher) last(t testing.TB) *push.Notification {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) == 0 {
		t.Fatal("no push was queued")
	}
	return p.sent[len(p.sent)-1]
}

type tokenFixture struct {
	h      http.Handler
	db     *sqlstore.DB
	svc    *ntf.Service
	pusher *fakePusher
}

// newTokenFixture serves the token API over a SQLite store with a fixed
// clock; only "com.example.app" and "chat" have push credentials.
func newTokenFixture(t testing.TB, cfg handlers.Config) *tokenFixture {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), sqlstoretest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	now := func() time.Time { return start }
	pusher := &fakePusher{}
	svc := ntf.NewService(db.Tokens(), masterkey.Generate(), pusher, slog.New(slog.DiscardHandler), ntf.Config{
		Now: now,
		Routes: []push.Route{{Platform: push.APNs, App: "com.example.app"}, {Platform: push.APNs, App: "chat"},
			{Platform: push.FCM, App: "chat"}},
	})
	rdv := rendezvous.NewService(memstore.NewRendezvous(now), memstore.NewNotifier[rendezvous.ID](), now, rendezvous.Config{})
	h := handlers.New(cfg, handlers.Deps{
		Logger: slog.New(slog.DiscardHandler), Rendezvous: rdv, Tokens: svc, Registry: prometheus.NewRegistry(),
		Limiter: ratelimit.NewMemory(now, 100),
	})
	return &tokenFixture{h: h, db: db, svc: svc, pusher: pusher}
}

func (f *tokenFixture) do(t testing.TB, method, path, body, secret string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// app is one app installation: its key pair and what registration gave it.
type app struct {
	priv      [32]byte
	id        string
	secret    string
	serverKey ntf.DHKey
}

func newAppKey() [32]byte {
	var k [32]byte
	rand.Read(k[:])
	return k
}

const apnsDevice = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func registerBody(priv [32]byte, device string) string {
	return fmt.Sprintf(`{"platform":"apns","app":"com.example.app","environment":"development","device_token":%q,"dh_key":%q}`,
		device, ntf.PublicKey(priv).String())
}

// register registers an APNs token and returns the app.
func (f *tokenFixture) register(t testing.TB, device string) app {
	t.Helper()
	a := app{priv: newAppKey()}
	rec := f.do(t, http.MethodPost, "/v1/tokens", registerBody(a.priv, device), "")
	var out api.TokenCreated
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("POST /v1/tokens = %d %s, want 201", rec.Code, rec.Body)
	}
	if out.Status != "registered" || len(out.Secret) < 43 || rec.Header().Get("Location") != "/v1/tokens/"+out.ID {
		t.Errorf("POST /v1/tokens = %+v (Location %q), want status registered, a 256-bit secret, a Location", out, rec.Header().Get("Location"))
	}
	a.id, a.secret = out.ID, out.Secret
	var err error
	if a.serverKey, err = ntf.ParseDHKey(out.ServerDHKey); err != nil {
		t.Fatalf("server_dh_key %q: %v", out.ServerDHKey, err)
	}
	return a
}

// code opens the last verification push with the app's key.
func (f *tokenFixture) code(t testing.TB, a app) string {
	t.Helper()
	n := f.pusher.last(t)
	if n.Kind != push.Background || n.Priority != push.PriorityNormal || n.ID != "verify:"+a.id {
		t.Errorf("verification push = kind %v priority %v id %q, want a normal-priority background push for %s", n.Kind, n.Priority, n.ID, a.id)
	}
	c, err := ntf.OpenVerification(n.Data, a.priv, a.serverKey)
	if err != nil {
		t.Fatalf("opening the verification push: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(c[:])
}

func decodeToken(t testing.TB, rec *httptest.ResponseRecorder) api.Token {
	t.Helper()
	var tk api.Token
	if err := json.Unmarshal(rec.Body.Bytes(), &tk); err != nil {
		t.Fatalf("token body %s: %v", rec.Body, err)
	}
	return tk
}

func wantStatus(t testing.TB, rec *httptest.ResponseRecorder, status int, errcode string) {
	t.Helper()
	var e api.Error
	json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != status || e.ErrCode != errcode {
		t.Errorf("answer = %d %s, want %d %s", rec.Code, rec.Body, status, errcode)
	}
}

func TestTokenLifecycle(t *testing.T) {
	f := newTokenFixture(t, handlers.Config{})
	a := f.register(t, apnsDevice)
	code := f.code(t, a)
	path := "/v1/tokens/" + a.id

	if tk := decodeToken(t, f.do(t, http.MethodGet, path, "", a.secret)); tk.Status != "registered" || tk.Environment != "development" || tk.App != "com.example.app" {
		t.Errorf("GET after register = %+v, want registered development com.example.app", tk)
	}
	f.svc.HandlePushResult(t.Context(), push.Result{Notification: f.pusher.last(t)})
	if tk := decodeToken(t, f.do(t, http.MethodGet, path, "", a.secret)); tk.Status != "confirmed" {
		t.Errorf("status after the provider accepted the push = %q, want confirmed", tk.Status)
	}
	rec := f.do(t, http.MethodPost, path+"/verify", `{"code":"`+code+`"}`, a.secret)
	if tk := decodeToken(t, rec); rec.Code != http.StatusOK || tk.Status != "active" {
		t.Fatalf("verify = %d %s, want 200 active", rec.Code, rec.Body)
	}
	// Padded base64url is accepted, and a repeated correct code is fine.
	if rec := f.do(t, http.MethodPost, path+"/verify", `{"code":"`+code+`="}`, a.secret); rec.Code != http.StatusOK {
		t.Errorf("verify again with padding = %d %s, want 200", rec.Code, rec.Body)
	}
	rec = f.do(t, http.MethodPut, path+"/checks", `{"interval_minutes":30}`, a.secret)
	if tk := decodeToken(t, rec); rec.Code != http.StatusOK || tk.CheckIntervalMinutes != 30 {
		t.Errorf("PUT checks = %d %s, want 200 with 30 minutes", rec.Code, rec.Body)
	}

	newDevice := strings.Repeat("ab", 32)
	rec = f.do(t, http.MethodPut, path, `{"device_token":"`+strings.ToUpper(newDevice)+`"}`, a.secret)
	if tk := decodeToken(t, rec); rec.Code != http.StatusOK || tk.Status != "registered" || tk.CheckIntervalMinutes != 30 {
		t.Fatalf("replace = %d %s, want 200 registered keeping the checks", rec.Code, rec.Body)
	}
	if got := f.pusher.last(t).Token.String(); got != newDevice {
		t.Errorf("re-verification push went to %s, want the new device %s", got, newDevice)
	}
	newCode := f.code(t, a)
	wantStatus(t, f.do(t, http.MethodPost, path+"/verify", `{"code":"`+code+`"}`, a.secret), http.StatusForbidden, api.CodeWrongCode)
	if rec := f.do(t, http.MethodPost, path+"/verify", `{"code":"`+newCode+`"}`, a.secret); rec.Code != http.StatusOK || decodeToken(t, rec).Status != "active" {
		t.Errorf("verify the new code = %d %s, want 200 active", rec.Code, rec.Body)
	}

	if rec := f.do(t, http.MethodDelete, path, "", a.secret); rec.Code != http.StatusNoContent {
		t.Errorf("DELETE = %d %s, want 204", rec.Code, rec.Body)
	}
	wantStatus(t, f.do(t, http.MethodGet, path, "", a.secret), http.StatusUnauthorized, api.CodeUnknownToken)
}

// snapshot is every stored token row, to show a refused request changed
// nothing.
func snapshot(t testing.TB, db *sqlstore.DB) string {
	t.Helper()
	rows, err := db.SQL().Query(`SELECT * FROM tokens ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	return b.String()
}

func TestTokenBadInput(t *testing.T) {
	f := newTokenFixture(t, handlers.Config{})
	a := f.register(t, apnsDevice)
	path := "/v1/tokens/" + a.id
	key := ntf.PublicKey(newAppKey()).String()
	reg := func(platform, app, env, device, dh string) string {
		return fmt.Sprintf(`{"platform":%q,"app":%q,"environment":%q,"device_token":%q,"dh_key":%q}`, platform, app, env, device, dh)
	}
	short := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	wrongCode := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name, method, path, body, secret string
		status                           int
		errcode                          string
	}{
		{"unknown platform", "POST", "/v1/tokens", reg("wns", "chat", "", apnsDevice, key), "", 400, api.CodeInvalidParam},
		{"apns token not hex", "POST", "/v1/tokens", reg("apns", "chat", "", strings.Repeat("zz", 32), key), "", 400, api.CodeInvalidParam},
		{"apns token too short", "POST", "/v1/tokens", reg("apns", "chat", "", "abcd", key), "", 400, api.CodeInvalidParam},
		{"fcm token with a space", "POST", "/v1/tokens", reg("fcm", "chat", "", "abc def ghi jkl mno pqr", key), "", 400, api.CodeInvalidParam},
		{"fcm development", "POST", "/v1/tokens", reg("fcm", "chat", "development", strings.Repeat("a", 40), key), "", 400, api.CodeInvalidParam},
		{"unknown environment", "POST", "/v1/tokens", reg("apns", "chat", "staging", apnsDevice, key), "", 400, api.CodeInvalidParam},
		{"key of 16 bytes", "POST", "/v1/tokens", reg("apns", "chat", "", apnsDevice, short), "", 400, api.CodeInvalidParam},
		{"key not base64", "POST", "/v1/tokens", reg("apns", "chat", "", apnsDevice, "!!!"), "", 400, api.CodeInvalidParam},
		{"bad app id", "POST", "/v1/tokens", reg("apns", "no spaces", "", apnsDevice, key), "", 400, api.CodeInvalidParam},
		{"app without credentials", "POST", "/v1/tokens", reg("apns", "other.app", "", apnsDevice, key), "", 400, api.CodeInvalidParam},
		{"empty object", "POST", "/v1/tokens", `{}`, "", 400, api.CodeMissingParam},
		{"missing dh_key", "POST", "/v1/tokens", `{"platform":"apns","app":"chat","device_token":"` + apnsDevice + `"}`, "", 400, api.CodeMissingParam},
		{"unknown field", "POST", "/v1/tokens", `{"platform":"apns","app":"chat","device_token":"` + apnsDevice + `","dh_key":"` + key + `","extra":1}`, "", 400, api.CodeInvalidParam},
		{"wrong type", "POST", "/v1/tokens", `{"platform":1}`, "", 400, api.CodeInvalidParam},
		{"not JSON", "POST", "/v1/tokens", `platform=apns`, "", 400, api.CodeInvalidParam},
		{"trailing data", "POST", "/v1/tokens", reg("apns", "chat", "", apnsDevice, key) + `{}`, "", 400, api.CodeInvalidParam},
		{"oversized body", "POST", "/v1/tokens", `{"app":"` + strings.Repeat("a", 9<<10) + `"}`, "", 413, api.CodeTooLarge},
		{"GET without secret", "GET", path, "", "", 401, api.CodeUnknownToken},
		{"GET wrong secret", "GET", path, "", "wrong", 401, api.CodeUnknownToken},
		{"GET unknown id", "GET", "/v1/tokens/" + string(ntf.NewTokenID()), "", a.secret, 401, api.CodeUnknownToken},
		{"GET malformed id", "GET", "/v1/tokens/short", "", a.secret, 401, api.CodeUnknownToken},
		{"verify wrong secret", "POST", path + "/verify", `{"code":"` + wrongCode + `"}`, "wrong", 401, api.CodeUnknownToken},
		{"verify unknown id", "POST", "/v1/tokens/" + string(ntf.NewTokenID()) + "/verify", `{"code":"` + wrongCode + `"}`, a.secret, 401, api.CodeUnknownToken},
		{"verify missing code", "POST", path + "/verify", `{}`, a.secret, 400, api.CodeMissingParam},
		{"verify short code", "POST", path + "/verify", `{"code":"` + short + `"}`, a.secret, 400, api.CodeInvalidParam},
		{"verify unknown field", "POST", path + "/verify", `{"code":"` + wrongCode + `","x":1}`, a.secret, 400, api.CodeInvalidParam},
		{"replace malformed token", "PUT", path, `{"device_token":"xyz"}`, a.secret, 400, api.CodeInvalidParam},
		{"replace missing token", "PUT", path, `{}`, a.secret, 400, api.CodeMissingParam},
		{"replace wrong secret", "PUT", path, `{"device_token":"` + strings.Repeat("cd", 32) + `"}`, "wrong", 401, api.CodeUnknownToken},
		{"checks below 20", "PUT", path + "/checks", `{"interval_minutes":19}`, a.secret, 400, api.CodeInvalidParam},
		{"checks negative", "PUT", path + "/checks", `{"interval_minutes":-20}`, a.secret, 400, api.CodeInvalidParam},
		{"checks above a week", "PUT", path + "/checks", `{"interval_minutes":10081}`, a.secret, 400, api.CodeInvalidParam},
		{"checks missing", "PUT", path + "/checks", `{}`, a.secret, 400, api.CodeMissingParam},
		{"checks as a string", "PUT", path + "/checks", `{"interval_minutes":"30"}`, a.secret, 400, api.CodeInvalidParam},
		{"delete wrong secret", "DELETE", path, "", "wrong", 401, api.CodeUnknownToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, pushes := snapshot(t, f.db), f.pusher.count()
			wantStatus(t, f.do(t, tt.method, tt.path, tt.body, tt.secret), tt.status, tt.errcode)
			if after := snapshot(t, f.db); after != before {
				t.Errorf("the store changed:\nbefore %s\nafter  %s", before, after)
			}
			if f.pusher.count() != pushes {
				t.Errorf("a refused request queued a push")
			}
		})
	}
}

// TestTokenUnknownAppNamesConfigured checks that registering for an app
// the push configuration lacks answers a 400 naming the platform's apps.
func TestTokenUnknownAppNamesConfigured(t *testing.T) {
	f := newTokenFixture(t, handlers.Config{})
	key := ntf.PublicKey(newAppKey()).String()
	for _, tt := range []struct{ platform, device, want string }{
		{"apns", apnsDevice, `configured: "chat", "com.example.app"`},
		{"fcm", strings.Repeat("a", 40), `configured: "chat"`},
	} {
		rec := f.do(t, http.MethodPost, "/v1/tokens", fmt.Sprintf(`{"platform":%q,"app":"other.app","device_token":%q,"dh_key":%q}`, tt.platform, tt.device, key), "")
		wantStatus(t, rec, http.StatusBadRequest, api.CodeInvalidParam)
		var e api.Error
		json.Unmarshal(rec.Body.Bytes(), &e)
		if !strings.Contains(e.Error, `"other.app"`) || !strings.Contains(e.Error, tt.want) {
			t.Errorf("%s: error %q, want it to name other.app and %s", tt.platform, e.Error, tt.want)
		}
	}
}

// TestTokenWrongCode checks that a wrong code changes nothing but the
// token's count of failures, and that the count caps guessing.
func TestTokenWrongCode(t *testing.T) {
	f := newTokenFixture(t, handlers.Config{})
	a := f.register(t, apnsDevice)
	code := f.code(t, a)
	path := "/v1/tokens/" + a.id + "/verify"
	wrong := `{"code":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `"}`
	id, _ := ntf.ParseTokenID(a.id)
	before, _ := f.db.Tokens().Get(t.Context(), id)
	for range ntf.DefaultMaxFailedAttempts {
		wantStatus(t, f.do(t, http.MethodPost, path, wrong, a.secret), http.StatusForbidden, api.CodeWrongCode)
	}
	after, _ := f.db.Tokens().Get(t.Context(), id)
	want := before
	want.FailedAttempts = ntf.DefaultMaxFailedAttempts
	if d := ntftest.Equal(want, after); d != "" {
		t.Errorf("after %d wrong codes the token differs beyond its failure count:\n%s", ntf.DefaultMaxFailedAttempts, d)
	}
	// Even the right code is refused now, with a retry time like every 429 ...
	burnt := f.do(t, http.MethodPost, path, `{"code":"`+code+`"}`, a.secret)
	wantStatus(t, burnt, http.StatusTooManyRequests, api.CodeLimitExceeded)
	if e := decodeBody[api.Error](t, burnt); burnt.Header().Get("Retry-After") == "" || e.RetryAfterMs <= 0 {
		t.Errorf("burnt-code 429: Retry-After %q, retry_after_ms %d; want both", burnt.Header().Get("Retry-After"), e.RetryAfterMs)
	}
	// ... until a replace sends a fresh one.
	if rec := f.do(t, http.MethodPut, "/v1/tokens/"+a.id, `{"device_token":"`+apnsDevice+`"}`, a.secret); rec.Code != http.StatusOK {
		t.Fatalf("replace = %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(t, http.MethodPost, path, `{"code":"`+f.code(t, a)+`"}`, a.secret); rec.Code != http.StatusOK {
		t.Errorf("verify the fresh code = %d %s, want 200", rec.Code, rec.Body)
	}
}

// TestTokenUnknownAndWrongAlike checks that an unknown id and a wrong
// secret cannot be told apart by the answer.
func TestTokenUnknownAndWrongAlike(t *testing.T) {
	f := newTokenFixture(t, handlers.Config{})
	a := f.register(t, apnsDevice)
	wrong := f.do(t, http.MethodGet, "/v1/tokens/"+a.id, "", "x"+a.secret[1:])
	unknown := f.do(t, http.MethodGet, "/v1/tokens/"+string(ntf.NewTokenID()), "", a.secret)
	if wrong.Code != unknown.Code || wrong.Body.String() != unknown.Body.String() {
		t.Errorf("wrong secret = %d %s; unknown id = %d %s; want the same", wrong.Code, wrong.Body, unknown.Code, unknown.Body)
	}
}

func TestTokenRateLimits(t *testing.T) {
	f := newTokenFixture(t, handlers.Config{
		TokenRegisterRate: ratelimit.Rule{Rate: 1, Burst: 2},
		TokenVerifyRate:   ratelimit.Rule{Rate: 1, Burst: 3},
	})
	a := f.register(t, apnsDevice)
	f.register(t, apnsDevice)
	rec := f.do(t, http.MethodPost, "/v1/tokens", registerBody(newAppKey(), apnsDevice), "")
	wantStatus(t, rec, http.StatusTooManyRequests, api.CodeLimitExceeded)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	wrong := `{"code":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `"}`
	for range 3 {
		wantStatus(t, f.do(t, http.MethodPost, "/v1/tokens/"+a.id+"/verify", wrong, a.secret), http.StatusForbidden, api.CodeWrongCode)
	}
	// The fourth attempt from this IP is refused before it is checked.
	wantStatus(t, f.do(t, http.MethodPost, "/v1/tokens/"+a.id+"/verify", wrong, a.secret), http.StatusTooManyRequests, api.CodeLimitExceeded)
}

func TestTokenPushResults(t *testing.T) {
	f := newTokenFixture(t, handlers.Config{})
	a := f.register(t, apnsDevice)
	verification := f.pusher.last(t)
	path := "/v1/tokens/" + a.id
	// A result about the device token before a replace is ignored.
	f.do(t, http.MethodPut, path, `{"device_token":"`+strings.Repeat("cd", 32)+`"}`, a.secret)
	dead := push.Result{Notification: verification, Err: push.TokenError(push.ReasonUnregistered, "apns", "Unregistered", 410),
		Class: push.ClassToken, Reason: push.ReasonUnregistered}
	f.svc.HandlePushResult(t.Context(), dead)
	if tk := decodeToken(t, f.do(t, http.MethodGet, path, "", a.secret)); tk.Status != "registered" {
		t.Errorf("status after a dead-token result for the old device = %q, want registered", tk.Status)
	}
	dead.Notification = f.pusher.last(t)
	f.svc.HandlePushResult(t.Context(), dead)
	if tk := decodeToken(t, f.do(t, http.MethodGet, path, "", a.secret)); tk.Status != "invalid" || tk.InvalidReason != "unregistered" {
		t.Errorf("after a dead-token result: %+v, want invalid unregistered", tk)
	}
	wantStatus(t, f.do(t, http.MethodPost, path+"/verify", `{"code":"`+f.code(t, a)+`"}`, a.secret), http.StatusConflict, api.CodeConflict)
}

// TestTokenWriteRateLimits checks the limits on a token's writes: per
// token (someone knowing only the id has a bucket of their own) and per
// client IP across tokens.
func TestTokenWriteRateLimits(t *testing.T) {
	f := newTokenFixture(t, handlers.Config{TokenPerTokenRate: ratelimit.Rule{Rate: 0.001, Burst: 2}})
	a, b := f.register(t, apnsDevice), f.register(t, apnsDevice)
	replace := `{"device_token":"` + strings.Repeat("ab", 32) + `"}`
	for range 3 { // a stranger with the id and a wrong secret
		f.do(t, http.MethodPut, "/v1/tokens/"+a.id, replace, "x"+a.secret[1:])
	}
	for i := range 2 {
		if rec := f.do(t, http.MethodPut, "/v1/tokens/"+a.id, replace, a.secret); rec.Code != http.StatusOK {
			t.Fatalf("replace %d within the token's burst = %d %s", i, rec.Code, rec.Body)
		}
	}
	wantStatus(t, f.do(t, http.MethodPut, "/v1/tokens/"+a.id, replace, a.secret), http.StatusTooManyRequests, api.CodeLimitExceeded)
	if rec := f.do(t, http.MethodPut, "/v1/tokens/"+b.id, replace, b.secret); rec.Code != http.StatusOK {
		t.Errorf("another token's replace = %d, want 200", rec.Code)
	}

	g := newTokenFixture(t, handlers.Config{TokenUpdateRate: ratelimit.Rule{Rate: 0.001, Burst: 3}})
	var apps []app
	for range 4 {
		apps = append(apps, g.register(t, apnsDevice))
	}
	for i, a := range apps {
		rec := g.do(t, http.MethodPut, "/v1/tokens/"+a.id+"/checks", `{"interval_minutes":60}`, a.secret)
		if want := http.StatusOK; i == 3 {
			wantStatus(t, rec, http.StatusTooManyRequests, api.CodeLimitExceeded)
		} else if rec.Code != want {
			t.Errorf("checks of token %d = %d, want 200", i, rec.Code)
		}
	}
}
