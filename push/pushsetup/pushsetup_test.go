package pushsetup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// env is a config directory with credentials for the fakes.
type env struct {
	t    *testing.T
	dir  string
	apns *pushtest.APNs
	fcm  *pushtest.FCM
	apps []map[string]any
	sas  map[string][]byte
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, dir: t.TempDir(), apns: pushtest.NewAPNs(), fcm: pushtest.NewFCM(), sas: map[string][]byte{}}
	t.Cleanup(e.apns.Close)
	t.Cleanup(e.fcm.Close)
	e.write("apns-ca.pem", e.apns.CAPEM())
	e.write("fcm-ca.pem", e.fcm.CAPEM())
	return e
}

func (e *env) write(name string, b []byte) string {
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// addAPNs registers a signing key with the fake and the app in the config.
func (e *env) addAPNs(app, topic, keyID string) {
	key := e.apns.NewKey(keyID, "TEAM123456", topic)
	e.write(app+".p8", pushtest.KeyPEM(key))
	e.apps = append(e.apps, map[string]any{
		"id": app, "platform": "apns", "topic": topic, "ca_file": "apns-ca.pem",
		"apns": map[string]string{"key_file": app + ".p8", "key_id": keyID, "team_id": "TEAM123456",
			"production_url": e.apns.ProductionURL(), "development_url": e.apns.DevelopmentURL()},
	})
}

func (e *env) addFCM(app, project string) {
	sa := e.fcm.ServiceAccount(project)
	e.sas[app] = sa
	e.write(app+"-sa.json", sa)
	e.apps = append(e.apps, map[string]any{
		"id": app, "platform": "fcm", "ca_file": "fcm-ca.pem",
		"fcm": map[string]string{"service_account_file": app + "-sa.json", "endpoint": e.fcm.Endpoint()},
	})
}

func (e *env) config(dispatcher map[string]any) string {
	b, _ := json.MarshalIndent(map[string]any{"apps": e.apps, "dispatcher": dispatcher}, "", "  ")
	return e.write("push.json", b)
}

type collector struct {
	mu  sync.Mutex
	res []push.Result
	ch  chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{})} }

func (c *collector) add(r push.Result) {
	c.mu.Lock()
	c.res = append(c.res, r)
	close(c.ch)
	c.ch = make(chan struct{})
	c.mu.Unlock()
}

func (c *collector) waitFor(t *testing.T, cond func([]push.Result) bool) []push.Result {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		res, ch := append([]push.Result(nil), c.res...), c.ch
		c.mu.Unlock()
		if cond(res) {
			return res
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("timed out with %d results", len(res))
		}
	}
}

func count(pred func(push.Result) bool) func([]push.Result) bool {
	return func(rs []push.Result) bool { return countOf(rs, pred) > 0 }
}

func countOf(rs []push.Result, pred func(push.Result) bool) int {
	n := 0
	for _, r := range rs {
		if pred(r) {
			n++
		}
	}
	return n
}

func apnsNote(app, seed string) *push.Notification {
	return &push.Notification{ID: seed, App: app, Token: push.MustParseDeviceToken(push.APNs, pushtest.APNsToken(app+seed)),
		Alert: push.AlertContent{Title: "t", Body: "b"}}
}

func fcmNote(app, seed string) *push.Notification {
	return &push.Notification{ID: seed, App: app, Token: push.MustParseDeviceToken(push.FCM, pushtest.FCMToken(app+seed)),
		Alert: push.AlertContent{Title: "t", Body: "b"}}
}

func closeD(t *testing.T, d *push.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFromFileDelivers(t *testing.T) {
	e := newEnv(t)
	e.addAPNs("chat", "com.example.chat", "KEYCHAT001")
	e.addFCM("chat", "chat-project")
	path := e.config(map[string]any{"workers": 4})
	c := newCollector()
	var logs bytes.Buffer
	d, err := FromFile(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), path, push.DispatcherConfig{OnResult: c.add})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(d.Routes()); got != "[apns/chat fcm/chat]" {
		t.Fatalf("routes %s", got)
	}
	a, f := apnsNote("chat", "1"), fcmNote("chat", "1")
	for _, n := range []*push.Notification{a, f} {
		if err := d.Enqueue(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	res := c.waitFor(t, func(rs []push.Result) bool { return len(rs) == 2 })
	for _, r := range res {
		if !r.OK() {
			t.Fatalf("%+v", r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.apns.WaitDelivered(ctx, a.Token.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fcm.WaitDelivered(ctx, f.Token.String()); err != nil {
		t.Fatal(err)
	}
	closeD(t, d)
	if !strings.Contains(logs.String(), "route=apns/chat") || strings.Contains(logs.String(), "only logged") {
		t.Fatalf("logs: %s", logs.String())
	}
}

func TestCredentialErrorsAtStart(t *testing.T) {
	e := newEnv(t)
	e.addAPNs("good", "com.example.good", "KEYGOOD001")
	e.apps = append(e.apps,
		map[string]any{"id": "nokey", "platform": "apns", "topic": "t", "apns": map[string]string{"key_file": "missing.p8", "key_id": "KEYMISS001", "team_id": "TEAM123456"}},
		map[string]any{"id": "badsa", "platform": "fcm", "fcm": map[string]string{"service_account_file": "bad-sa.json"}},
		map[string]any{"id": "nopw", "platform": "apns", "topic": "t", "apns": map[string]string{"cert_file": "c.p12", "cert_password_env": "TRYST_TEST_UNSET_VAR"}},
	)
	e.write("bad-sa.json", []byte(`{"type":"authorized_user"}`))
	_, err := FromFile(context.Background(), nil, e.config(nil), push.DispatcherConfig{})
	if err == nil {
		t.Fatal("bad credentials accepted")
	}
	msg := err.Error()
	for _, want := range []string{`app "nokey" (apns)`, "missing.p8", "no such file", `app "badsa" (fcm)`, "service_account", `app "nopw" (apns)`, "TRYST_TEST_UNSET_VAR"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, `"good"`) {
		t.Errorf("good app reported: %s", msg)
	}
	if _, err := FromFile(context.Background(), nil, filepath.Join(e.dir, "nope.json"), push.DispatcherConfig{}); err == nil {
		t.Fatal("missing config accepted")
	}
}

func TestNoConfigLogsOnly(t *testing.T) {
	var logs bytes.Buffer
	c := newCollector()
	d, err := FromFile(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), "", push.DispatcherConfig{OnResult: c.add})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "no push credentials configured") {
		t.Fatalf("no start-up warning: %s", logs.String())
	}
	d.Enqueue(context.Background(), apnsNote("any", "1"))
	d.Enqueue(context.Background(), fcmNote("other", "1"))
	res := c.waitFor(t, func(rs []push.Result) bool { return len(rs) == 2 })
	for _, r := range res {
		if !r.OK() || !strings.HasPrefix(r.ProviderID, "log-") {
			t.Fatalf("%+v", r)
		}
	}
	closeD(t, d)
	if !strings.Contains(logs.String(), "not delivered") {
		t.Fatalf("log sender did not log: %s", logs.String())
	}
}

// TestDeadTokenResults: the results the token service acts on, through
// the real clients.
func TestDeadTokenResults(t *testing.T) {
	e := newEnv(t)
	e.addAPNs("chat", "com.example.chat", "KEYCHAT001")
	e.addFCM("chat", "chat-project")
	c := newCollector()
	d, err := FromFile(context.Background(), nil, e.config(nil), push.DispatcherConfig{OnResult: c.add})
	if err != nil {
		t.Fatal(err)
	}
	gone := time.UnixMilli(1_700_000_000_000)
	a, f := apnsNote("chat", "dead"), fcmNote("chat", "dead")
	e.apns.Script(a.Token.String(), pushtest.APNsGone("Unregistered", gone))
	e.fcm.Script(f.Token.String(), pushtest.FCMUnregistered())
	d.Enqueue(context.Background(), a)
	d.Enqueue(context.Background(), f)
	res := c.waitFor(t, func(rs []push.Result) bool { return len(rs) == 2 })
	for _, r := range res {
		if !r.TokenDead() || r.Reason != push.ReasonUnregistered || r.Attempts != 1 {
			t.Fatalf("%+v", r)
		}
		if r.Notification == a {
			if pe, _ := push.AsError(r.Err); !pe.Timestamp.Equal(gone) {
				t.Fatalf("timestamp %v", pe.Timestamp)
			}
		}
	}
	closeD(t, d)
}

// TestRetryAfterThroughClients: a 429 from APNs and a 503 from FCM with
// Retry-After go through apns2 and the Firebase SDK; the dispatcher waits
// exactly that long (manual clock, no jitter) and the retry succeeds.
func TestRetryAfterThroughClients(t *testing.T) {
	e := newEnv(t)
	e.addAPNs("chat", "com.example.chat", "KEYCHAT001")
	e.addFCM("chat", "chat-project")
	clock := pushtest.NewManualClock(time.Now())
	c := newCollector()
	d, err := FromFile(context.Background(), nil, e.config(nil), push.DispatcherConfig{
		OnResult: c.add, Clock: clock, Jitter: func(time.Duration) time.Duration { return 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	a, f := apnsNote("chat", "limited"), fcmNote("chat", "busy")
	e.apns.Script(a.Token.String(), pushtest.APNsAnswer{Status: 429, Reason: "TooManyRequests", RetryAfter: "7"})
	e.fcm.Script(f.Token.String(), pushtest.FCMUnavailable("9"))
	d.Enqueue(context.Background(), a)
	d.Enqueue(context.Background(), f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.WaitTimers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	delays := clock.Delays()
	slices.Sort(delays)
	if fmt.Sprint(delays) != "[7s 9s]" {
		t.Fatalf("delays %v", delays)
	}
	clock.Advance(6 * time.Second)
	if len(e.apns.ReceivedFor(a.Token.String())) != 1 || len(e.fcm.ReceivedFor(f.Token.String())) != 1 {
		t.Fatal("retried before Retry-After (or the SDK retried by itself)")
	}
	clock.Advance(time.Second)
	c.waitFor(t, count(func(r push.Result) bool { return r.Notification == a && r.OK() }))
	clock.Advance(2 * time.Second)
	res := c.waitFor(t, func(rs []push.Result) bool { return len(rs) == 2 })
	for _, r := range res {
		if !r.OK() || r.Attempts != 2 {
			t.Fatalf("%+v", r)
		}
	}
	if len(e.fcm.ReceivedFor(f.Token.String())) != 2 {
		t.Fatal("FCM did not get exactly two requests")
	}
	closeD(t, d)
}

// TestIsolationMeasured: APNs app "hung" has a provider that never
// answers, APNs app "revoked" has its key revoked; neither may delay APNs
// app "good" nor FCM app "droid". The healthy routes' latency is measured
// with and without the broken load.
func TestIsolationMeasured(t *testing.T) {
	e := newEnv(t)
	e.addAPNs("hung", "com.example.hung", "KEYHUNG001")
	e.addAPNs("revoked", "com.example.revoked", "KEYREVOKE1")
	e.addAPNs("good", "com.example.good", "KEYGOOD001")
	e.addFCM("droid", "droid-project")
	c := newCollector()
	const workers = 8
	d, err := FromFile(context.Background(), nil, e.config(map[string]any{"workers": workers, "queue_size": 400, "attempt_timeout": "1h"}),
		push.DispatcherConfig{OnResult: c.add})
	if err != nil {
		t.Fatal(err)
	}
	broken := func(r push.Result) bool { return r.Notification.App == "hung" || r.Notification.App == "revoked" }
	const N = 200
	healthy := func(round string) time.Duration {
		before := len(c.snapshot())
		for i := range N {
			if err := d.Enqueue(context.Background(), apnsNote("good", round+fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
			if err := d.Enqueue(context.Background(), fcmNote("droid", round+fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		res := c.waitFor(t, func(rs []push.Result) bool {
			return countOf(rs[before:], func(r push.Result) bool { return !broken(r) }) == 2*N
		})
		var worst time.Duration
		for _, r := range res[before:] {
			if broken(r) {
				continue
			}
			if !r.OK() {
				t.Fatalf("healthy route failed: %+v", r)
			}
			worst = max(worst, r.Elapsed)
		}
		return worst
	}
	healthy("warm-up")
	baseline := healthy("base")

	// Phase 1: hung's provider black-holes requests: all its workers are
	// stuck and its queue fills.
	e.apns.SetTopicAnswer("com.example.hung", pushtest.APNsAnswer{Hang: true})
	for i := range 400 {
		if err := d.Enqueue(context.Background(), apnsNote("hung", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Enqueue(context.Background(), apnsNote("hung", "overflow")); !errors.Is(err, push.ErrQueueFull) {
		t.Fatalf("hung queue not full: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.apns.InFlight() < workers {
		if time.Now().After(deadline) {
			t.Fatalf("only %d hung requests in flight", e.apns.InFlight())
		}
		time.Sleep(time.Millisecond)
	}
	hanging := healthy("hang")

	// Phase 2: revoked's key is revoked: 403 InvalidProviderToken, the
	// circuit opens, its queue fails fast — while hung still hangs.
	e.apns.RevokeKey("KEYREVOKE1")
	for i := range 200 {
		d.Enqueue(context.Background(), apnsNote("revoked", fmt.Sprint(i)))
	}
	revoked := healthy("revoked")
	c.waitFor(t, count(func(r push.Result) bool { return r.Reason == push.ReasonCircuitOpen }))
	if err := d.Enqueue(context.Background(), apnsNote("revoked", "x")); !errors.Is(err, push.ErrCircuitOpen) {
		t.Errorf("revoked route not refused: %v", err)
	}
	if n := countOf(c.snapshot(), func(r push.Result) bool { return r.Notification.App == "hung" }); n != 0 {
		t.Fatalf("%d hung results while its provider hangs", n)
	}

	t.Logf("healthy routes (%d APNs + %d FCM pushes), worst enqueue-to-result latency: baseline %s; one app's provider hanging %s; plus another app's key revoked %s",
		N, N, baseline, hanging, revoked)
	limit := 3*baseline + 500*time.Millisecond
	for name, v := range map[string]time.Duration{"hanging": hanging, "revoked": revoked} {
		if v > limit {
			t.Errorf("%s: healthy latency %s exceeds %s (baseline %s)", name, v, limit, baseline)
		}
	}
	// Shut down within a deadline although hung's requests still hang.
	cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
	defer ccancel()
	start := time.Now()
	err = d.Close(cctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("close: %v after %s", err, time.Since(start))
	}
	if left := d.Pending(); left != 0 {
		t.Fatalf("%d notifications without a result", left)
	}
	if n := countOf(c.snapshot(), func(r push.Result) bool { return r.Notification.App == "hung" && r.Class == push.ClassShutdown }); n != 400 {
		t.Fatalf("%d hung shutdown results", n)
	}
}

func (c *collector) snapshot() []push.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]push.Result(nil), c.res...)
}

// TestDrainThroughClients: Close waits for slow in-flight requests.
func TestDrainThroughClients(t *testing.T) {
	e := newEnv(t)
	e.addAPNs("chat", "com.example.chat", "KEYCHAT001")
	e.addFCM("chat", "chat-project")
	e.apns.SetTopicAnswer("com.example.chat", pushtest.APNsAnswer{Delay: 200 * time.Millisecond})
	c := newCollector()
	d, err := FromFile(context.Background(), nil, e.config(map[string]any{"workers": 4}), push.DispatcherConfig{OnResult: c.add})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		d.Enqueue(context.Background(), apnsNote("chat", fmt.Sprint(i)))
		d.Enqueue(context.Background(), fcmNote("chat", fmt.Sprint(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	res := c.snapshot()
	if len(res) != 40 || countOf(res, push.Result.OK) != 40 {
		t.Fatalf("%d results, %d ok", len(res), countOf(res, push.Result.OK))
	}
	if e.apns.Count() != 20 || e.fcm.Count() != 20 {
		t.Fatalf("fakes got %d/%d", e.apns.Count(), e.fcm.Count())
	}
}
