package push_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// collector gathers Results.
type collector struct {
	mu      sync.Mutex
	results []push.Result
	changed chan struct{}
}

func newCollector() *collector { return &collector{changed: make(chan struct{})} }

func (c *collector) add(r push.Result) {
	c.mu.Lock()
	c.results = append(c.results, r)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *collector) all() []push.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]push.Result(nil), c.results...)
}

func (c *collector) wait(t *testing.T, n int) []push.Result {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got, ch := len(c.results), c.changed
		c.mu.Unlock()
		if got >= n {
			return c.all()
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("got %d results, want %d", got, n)
		}
	}
}

func apnsNote(seed string) *push.Notification {
	return &push.Notification{ID: seed, Token: push.MustParseDeviceToken(push.APNs, pushtest.APNsToken(seed)), App: "chat"}
}

func fcmNote(seed string) *push.Notification {
	return &push.Notification{ID: seed, Token: push.MustParseDeviceToken(push.FCM, pushtest.FCMToken(seed)), App: "chat"}
}

func retryable(after time.Duration) error {
	return push.RetryableError(push.ReasonUnavailable, "test", after, nil)
}

func newDispatcher(t *testing.T, senders map[push.Route]push.Sender, cfg push.DispatcherConfig) (*push.Dispatcher, *collector, *prometheus.Registry) {
	t.Helper()
	c := newCollector()
	cfg.OnResult = c.add
	reg := prometheus.NewRegistry()
	d, err := push.NewDispatcher(slog.New(slog.DiscardHandler), senders, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(handlers.PushCollector(d))
	return d, c, reg
}

func closeNow(t *testing.T, d *push.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDeliverAndResults(t *testing.T) {
	rec := pushtest.NewRecorder("rec")
	dead := apnsNote("dead")
	rec.Script(dead.Token.String(), push.TokenError(push.ReasonUnregistered, "test", "Unregistered", 410))
	d, c, reg := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{})
	for i := range 50 {
		if err := d.Enqueue(context.Background(), apnsNote(fmt.Sprint("ok", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Enqueue(context.Background(), dead); err != nil {
		t.Fatal(err)
	}
	res := c.wait(t, 51)
	closeNow(t, d)
	ok, deadSeen := 0, false
	for _, r := range res {
		switch {
		case r.OK():
			ok++
			if r.ProviderID == "" || r.Attempts != 1 || r.Class != push.ClassNone {
				t.Fatalf("result %+v", r)
			}
		case r.Notification == dead:
			deadSeen = true
			if !r.TokenDead() || r.Reason != push.ReasonUnregistered || r.Attempts != 1 || !push.IsTokenDead(r.Err) {
				t.Fatalf("dead result %+v", r)
			}
		default:
			t.Fatalf("unexpected %+v", r)
		}
	}
	if ok != 50 || !deadSeen {
		t.Fatalf("ok %d dead %v", ok, deadSeen)
	}
	if v := metric(t, reg, handlers.MetricPushSent, map[string]string{"provider": "rec", "app": "chat"}); v != 50 {
		t.Fatalf("sent metric %v", v)
	}
	if v := metric(t, reg, handlers.MetricPushFailed, map[string]string{"provider": "rec", "app": "chat", "reason": "unregistered"}); v != 1 {
		t.Fatalf("failed metric %v", v)
	}
	if v := metric(t, reg, handlers.MetricPushQueueDepth, map[string]string{"provider": "rec", "app": "chat"}); v != 0 {
		t.Fatalf("depth %v", v)
	}
	if v := metric(t, reg, handlers.MetricPushLatency, map[string]string{"provider": "rec"}); v != 51 {
		t.Fatalf("latency count %v", v)
	}
}

// metric returns a counter/gauge value or a histogram's sample count.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return value(m)
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func TestEnqueueErrors(t *testing.T) {
	rec := pushtest.NewRecorder("")
	d, _, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{})
	bg := context.Background()
	if err := d.Enqueue(bg, fcmNote("x")); !errors.Is(err, push.ErrNoRoute) {
		t.Fatalf("fcm: %v", err)
	}
	other := apnsNote("y")
	other.App = "other"
	if err := d.Enqueue(bg, other); !errors.Is(err, push.ErrNoRoute) {
		t.Fatalf("other app: %v", err)
	}
	bad := apnsNote("z")
	bad.Kind = push.Background
	bad.Alert.Title = "visible"
	if err := d.Enqueue(bg, bad); push.ClassOf(err) != push.ClassPayload {
		t.Fatalf("bad: %v", err)
	}
	old := apnsNote("old")
	old.Expiration = time.Now().Add(-time.Minute)
	if err := d.Enqueue(bg, old); push.ClassOf(err) != push.ClassExpired {
		t.Fatalf("old: %v", err)
	}
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	if err := d.Enqueue(cancelled, apnsNote("c")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	closeNow(t, d)
	if err := d.Enqueue(bg, apnsNote("late")); !errors.Is(err, push.ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	if err := d.Close(bg); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if len(rec.Attempts()) != 0 {
		t.Fatal("refused notifications were sent")
	}
}

func TestWildcardRoute(t *testing.T) {
	rec := pushtest.NewRecorder("")
	d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.FCM}: rec}, push.DispatcherConfig{})
	n := fcmNote("any")
	n.App = "whatever"
	if err := d.Enqueue(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if r := c.wait(t, 1)[0]; !r.OK() || r.Route != (push.Route{Platform: push.FCM}) {
		t.Fatalf("%+v", r)
	}
	closeNow(t, d)
}

// heldRecorder is a sender whose sends wait until release is closed.
func heldRecorder() (rec *pushtest.Recorder, release chan struct{}) {
	rec, release = pushtest.NewRecorder(""), make(chan struct{})
	rec.SetHook(func(ctx context.Context, n *push.Notification) error {
		<-release
		return nil
	})
	return rec, release
}

// TestQueueFull: Enqueue refuses at once when the route's queue is full,
// and the limit counts notifications in flight.
func TestQueueFull(t *testing.T) {
	rec, release := heldRecorder()
	d, c, reg := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{QueueSize: 4, Workers: 2})
	for i := range 4 {
		if err := d.Enqueue(context.Background(), apnsNote(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	err := d.Enqueue(context.Background(), apnsNote("overflow"))
	if !errors.Is(err, push.ErrQueueFull) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("overflow: %v after %s", err, time.Since(start))
	}
	if v := metric(t, reg, handlers.MetricPushRejected, map[string]string{"reason": "queue_full"}); v != 1 {
		t.Fatalf("rejected metric %v", v)
	}
	if v := metric(t, reg, handlers.MetricPushQueueDepth, nil); v != 4 {
		t.Fatalf("depth %v", v)
	}
	close(release)
	c.wait(t, 4)
	if err := d.Enqueue(context.Background(), apnsNote("after")); err != nil {
		t.Fatalf("after drain: %v", err)
	}
	c.wait(t, 5)
	closeNow(t, d)
}

// TestRegistrationShare has one registration flood a slow route: it is held to
// MaxPerRegistration unfinished notifications, others still get in, and its
// share frees up as its notifications finish.
func TestRegistrationShare(t *testing.T) {
	rec, release := heldRecorder()
	d, c, reg := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{QueueSize: 64, Workers: 2})
	owned := func(reg, seed string) *push.Notification {
		n := apnsNote(seed)
		n.Registration = reg
		return n
	}
	accepted := 0
	for i := range 1100 { // the attack of the finding: 1,100 replaces of one token
		err := d.Enqueue(context.Background(), owned("greedy", fmt.Sprint(i)))
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, push.ErrRegistrationBusy):
			t.Fatalf("flood %d: %v, want ErrRegistrationBusy", i, err)
		}
	}
	if want := 1; accepted != want { // the default share, QueueSize/64
		t.Fatalf("one registration got %d of a 64 queue, want the default share of %d", accepted, want)
	}
	for i := range 20 {
		if err := d.Enqueue(context.Background(), owned(fmt.Sprint("other", i), "o"+fmt.Sprint(i))); err != nil {
			t.Fatalf("another registration while the flood goes on: %v", err)
		}
	}
	if v := metric(t, reg, handlers.MetricPushRejected, map[string]string{"reason": "registration_busy"}); v != 1099 {
		t.Errorf("owner_busy rejections = %v, want 1099", v)
	}
	close(release)
	c.wait(t, 21)
	if err := d.Enqueue(context.Background(), owned("greedy", "again")); err != nil {
		t.Errorf("owner after its notifications finished: %v", err)
	}
	c.wait(t, 22)
	closeNow(t, d)
}

// TestBackoff checks the retry schedule on a fake clock (synctest): with
// jitter at its maximum the delays are exactly base·2ⁿ capped at
// MaxBackoff, and attempts stop at MaxAttempts.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		n := apnsNote("flaky")
		rec.Script(n.Token.String(), retryable(0), retryable(0), retryable(0), retryable(0), retryable(0), retryable(0))
		d, c, reg := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{
			MaxAttempts: 6, BaseBackoff: time.Second, MaxBackoff: 5 * time.Second,
			Jitter: func(max time.Duration) time.Duration { return max },
		})
		start := time.Now()
		if err := d.Enqueue(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Minute)
		res := c.all()
		if len(res) != 1 {
			t.Fatalf("%d results", len(res))
		}
		r := res[0]
		if r.Class != push.ClassRetryable || r.Attempts != 6 {
			t.Fatalf("result %+v", r)
		}
		var offsets []time.Duration
		for _, a := range rec.Attempts() {
			offsets = append(offsets, a.At.Sub(start))
		}
		want := []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 12 * time.Second, 17 * time.Second}
		if fmt.Sprint(offsets) != fmt.Sprint(want) {
			t.Fatalf("attempts at %v, want %v", offsets, want)
		}
		if v := metric(t, reg, handlers.MetricPushRetries, nil); v != 5 {
			t.Fatalf("retries metric %v", v)
		}
		d.Close(context.Background())
	})
}

// TestFullJitter: with the default jitter every delay lies in
// [0, base·2ⁿ⁻¹] and they are not all equal.
func TestFullJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		const N = 40
		var notes []*push.Notification
		for i := range N {
			n := apnsNote(fmt.Sprint("j", i))
			rec.Script(n.Token.String(), retryable(0), retryable(0))
			notes = append(notes, n)
		}
		d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{BaseBackoff: time.Second, MaxBackoff: time.Minute})
		for _, n := range notes {
			d.Enqueue(context.Background(), n)
		}
		time.Sleep(time.Minute)
		if len(c.all()) != N {
			t.Fatalf("%d results", len(c.all()))
		}
		distinct := map[time.Duration]bool{}
		for _, n := range notes {
			at := rec.AttemptsFor(n.Token.String())
			if len(at) != 3 {
				t.Fatalf("%d attempts", len(at))
			}
			d1, d2 := at[1].At.Sub(at[0].At), at[2].At.Sub(at[1].At)
			if d1 < 0 || d1 > time.Second || d2 < 0 || d2 > 2*time.Second {
				t.Fatalf("delays %s %s out of range", d1, d2)
			}
			distinct[d1] = true
		}
		if len(distinct) < N/2 {
			t.Fatalf("only %d distinct delays: no jitter?", len(distinct))
		}
		d.Close(context.Background())
	})
}

// TestRetryAfter: the provider's Retry-After is a floor for the delay;
// one beyond MaxRetryAfter ends the notification instead of waiting.
func TestRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		n := apnsNote("limited")
		rec.Script(n.Token.String(), push.RetryableError(push.ReasonRateLimited, "test", 42*time.Second, nil))
		long := apnsNote("long")
		rec.Script(long.Token.String(), push.RetryableError(push.ReasonRateLimited, "test", 2*time.Hour, nil))
		d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{
			BaseBackoff: time.Second, MaxRetryAfter: time.Hour,
		})
		start := time.Now()
		d.Enqueue(context.Background(), n)
		d.Enqueue(context.Background(), long)
		time.Sleep(10 * time.Minute)
		at := rec.AttemptsFor(n.Token.String())
		if len(at) != 2 || at[1].At.Sub(start) != 42*time.Second {
			t.Fatalf("attempts %v", at)
		}
		if got := len(c.all()); got != 2 {
			t.Fatalf("%d results, want 2 (limited and long)", got)
		}
		for _, r := range c.all() {
			switch r.Notification {
			case n:
				if !r.OK() || r.Attempts != 2 {
					t.Fatalf("limited: %+v", r)
				}
			case long:
				if r.Class != push.ClassRetryable || r.Reason != push.ReasonRateLimited || r.Attempts != 1 || r.Elapsed != 0 {
					t.Fatalf("long: %+v", r)
				}
			}
		}
		d.Close(context.Background())
	})
}

// TestExpirationStopsRetries: a retry that would land after the
// notification's expiration is not made.
func TestExpirationStopsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		n := apnsNote("short-lived")
		n.Expiration = time.Now().Add(30 * time.Second)
		rec.Script(n.Token.String(), push.RetryableError(push.ReasonRateLimited, "test", time.Minute, nil))
		d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{})
		d.Enqueue(context.Background(), n)
		synctest.Wait()
		res := c.all()
		if len(res) != 1 || res[0].Class != push.ClassExpired || len(rec.Attempts()) != 1 {
			t.Fatalf("results %+v", res)
		}
		d.Close(context.Background())
	})
}

// TestCircuitBreaker: credential failures open the route's circuit;
// Enqueue then refuses, queued notifications fail fast, and after the
// cooldown one probe closes it again.
func TestCircuitBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		var broken atomic.Bool
		broken.Store(true)
		// The first send waits for the gate, so all ten notifications are
		// queued before any failure can open the circuit.
		gate := make(chan struct{})
		rec.SetHook(func(ctx context.Context, n *push.Notification) error {
			<-gate
			if broken.Load() {
				return push.CredentialError("test", "InvalidProviderToken", 403, nil)
			}
			return nil
		})
		d, c, reg := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{
			Workers: 1, BreakerThreshold: 3, BreakerCooldown: 30 * time.Second,
		})
		for i := range 10 {
			if err := d.Enqueue(context.Background(), apnsNote(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		close(gate)
		synctest.Wait()
		res := c.all()
		if len(res) != 10 || len(rec.Attempts()) != 3 {
			t.Fatalf("%d results, %d attempts", len(res), len(rec.Attempts()))
		}
		for i, r := range res {
			if r.Class != push.ClassCredential {
				t.Fatalf("result %d: %+v", i, r)
			}
			if i >= 3 && (r.Reason != push.ReasonCircuitOpen || r.Attempts != 0) {
				t.Fatalf("result %d not short-circuited: %+v", i, r)
			}
		}
		if v := metric(t, reg, handlers.MetricPushCircuitOpen, nil); v != 1 {
			t.Fatalf("circuit gauge %v", v)
		}
		err := d.Enqueue(context.Background(), apnsNote("refused"))
		if !errors.Is(err, push.ErrCircuitOpen) || push.ClassOf(err) != push.ClassCredential {
			t.Fatalf("enqueue while open: %v", err)
		}
		// After the cooldown a probe goes out; it fails, the circuit
		// re-opens for twice as long.
		time.Sleep(30 * time.Second)
		d.Enqueue(context.Background(), apnsNote("probe1"))
		synctest.Wait()
		if len(rec.Attempts()) != 4 {
			t.Fatalf("probe not sent: %d attempts", len(rec.Attempts()))
		}
		time.Sleep(30 * time.Second)
		if err := d.Enqueue(context.Background(), apnsNote("still-open")); !errors.Is(err, push.ErrCircuitOpen) {
			t.Fatalf("should be open for 60s: %v", err)
		}
		// Credentials fixed: the next probe closes the circuit.
		broken.Store(false)
		time.Sleep(30 * time.Second)
		if err := d.Enqueue(context.Background(), apnsNote("probe2")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if r := c.all()[len(c.all())-1]; !r.OK() {
			t.Fatalf("probe2: %+v", r)
		}
		if v := metric(t, reg, handlers.MetricPushCircuitOpen, nil); v != 0 {
			t.Fatalf("circuit gauge %v", v)
		}
		d.Close(context.Background())
	})
}

// TestIsolation: a route whose sends hang does not delay another route.
func TestIsolation(t *testing.T) {
	slow := pushtest.NewRecorder("slow")
	slow.SetHook(func(ctx context.Context, n *push.Notification) error {
		<-ctx.Done()
		return push.ContextError("slow", ctx.Err())
	})
	fast := pushtest.NewRecorder("fast")
	d, c, _ := newDispatcher(t, map[push.Route]push.Sender{
		{Platform: push.APNs, App: "chat"}: slow,
		{Platform: push.FCM, App: "chat"}:  fast,
	}, push.DispatcherConfig{QueueSize: 100, Workers: 4, AttemptTimeout: time.Hour})
	for i := range 100 {
		if err := d.Enqueue(context.Background(), apnsNote(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for i := range 100 {
		if err := d.Enqueue(context.Background(), fcmNote(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	c.wait(t, 100)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("fast route took %s", el)
	}
	if got := len(c.all()); got < 100 {
		t.Fatalf("%d results, want the 100 fast ones", got)
	}
	for _, r := range c.all() {
		if !r.OK() || r.Route.Platform != push.FCM {
			t.Fatalf("%+v", r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v", err)
	}
	res := c.wait(t, 200)
	shutdown := 0
	for _, r := range res {
		if r.Class == push.ClassShutdown {
			shutdown++
		}
	}
	if shutdown != 100 {
		t.Fatalf("%d shutdown results", shutdown)
	}
}

// TestDrain: Close waits for queued and in-flight notifications and for
// retries due before its deadline.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		rec.SetHook(func(ctx context.Context, n *push.Notification) error {
			time.Sleep(100 * time.Millisecond)
			return nil
		})
		soon := apnsNote("retry-soon")
		rec.Script(soon.Token.String(), retryable(2*time.Second))
		late := apnsNote("retry-late")
		rec.Script(late.Token.String(), retryable(time.Hour))
		d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{Workers: 2, MaxRetryAfter: 2 * time.Hour})
		for i := range 20 {
			d.Enqueue(context.Background(), apnsNote(fmt.Sprint(i)))
		}
		d.Enqueue(context.Background(), soon)
		d.Enqueue(context.Background(), late)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if err := d.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("close took %s", el)
		}
		res := c.all()
		if len(res) != 22 {
			t.Fatalf("%d results", len(res))
		}
		for _, r := range res {
			switch r.Notification {
			case late:
				if r.Class != push.ClassShutdown || !errors.Is(r.Err, push.ErrShutdown) {
					t.Fatalf("late: %+v", r)
				}
			default:
				if !r.OK() {
					t.Fatalf("%s: %+v", r.Notification.ID, r)
				}
			}
		}
		if d.Pending() != 0 {
			t.Fatalf("pending %d", d.Pending())
		}
	})
}

// TestCloseCancelsInFlight: at the deadline in-flight sends are cancelled
// and everything left gets a shutdown Result; Close returns promptly.
func TestCloseCancelsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		rec.SetHook(func(ctx context.Context, n *push.Notification) error {
			<-ctx.Done()
			return push.ContextError("test", ctx.Err())
		})
		d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{Workers: 3, AttemptTimeout: time.Hour})
		for i := range 10 {
			d.Enqueue(context.Background(), apnsNote(fmt.Sprint(i)))
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := d.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Fatalf("close: %v after %s", err, time.Since(start))
		}
		res := c.all()
		if len(res) != 10 {
			t.Fatalf("%d results", len(res))
		}
		for _, r := range res {
			if r.Class != push.ClassShutdown {
				t.Fatalf("%+v", r)
			}
		}
		if n := len(rec.Attempts()); n != 3 {
			t.Fatalf("%d attempts: queued notifications were sent after the deadline", n)
		}
	})
}

func TestAttemptTimeoutRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		var calls atomic.Int32
		rec.SetHook(func(ctx context.Context, n *push.Notification) error {
			if calls.Add(1) == 1 {
				<-ctx.Done()
				return ctx.Err() // a bare context error, as a third-party Sender might return
			}
			return nil
		})
		d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{AttemptTimeout: time.Second})
		d.Enqueue(context.Background(), apnsNote("t"))
		time.Sleep(time.Minute)
		if r := c.all(); len(r) != 1 || !r[0].OK() || r[0].Attempts != 2 {
			t.Fatalf("%+v", r)
		}
		d.Close(context.Background())
	})
}

func TestCallbackPanicContained(t *testing.T) {
	rec := pushtest.NewRecorder("")
	var n atomic.Int32
	d, err := push.NewDispatcher(nil, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{
		OnResult: func(push.Result) { n.Add(1); panic("boom") },
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Enqueue(context.Background(), apnsNote("a"))
	d.Enqueue(context.Background(), apnsNote("b"))
	closeNow(t, d)
	if n.Load() != 2 {
		t.Fatalf("%d callbacks", n.Load())
	}
}

func TestNewDispatcherErrors(t *testing.T) {
	if _, err := push.NewDispatcher(nil, nil, push.DispatcherConfig{}); err == nil {
		t.Fatal("no senders accepted")
	}
	if _, err := push.NewDispatcher(nil, map[push.Route]push.Sender{{App: "x"}: pushtest.NewRecorder("")}, push.DispatcherConfig{}); err == nil {
		t.Fatal("invalid platform accepted")
	}
	reg := prometheus.NewRegistry()
	senders := map[push.Route]push.Sender{{Platform: push.APNs}: pushtest.NewRecorder("")}
	d, err := push.NewDispatcher(nil, senders, push.DispatcherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if err := reg.Register(handlers.PushCollector(d)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(handlers.PushCollector(d)); err == nil {
		t.Fatal("double registration accepted")
	}
}

func TestLogSender(t *testing.T) {
	d, c, reg := newDispatcher(t, push.LogSenders(slog.New(slog.DiscardHandler)), push.DispatcherConfig{})
	d.Enqueue(context.Background(), apnsNote("a"))
	d.Enqueue(context.Background(), fcmNote("b"))
	res := c.wait(t, 2)
	closeNow(t, d)
	for _, r := range res {
		if !r.OK() || r.ProviderID == "" {
			t.Fatalf("%+v", r)
		}
	}
	if v := metric(t, reg, handlers.MetricPushSent, map[string]string{"provider": "log", "app": "*"}); v != 2 {
		t.Fatalf("sent{log} %v", v)
	}
}

// TestManualClock drives a retry with pushtest.ManualClock, the way the
// adapter integration tests do over real connections.
func TestManualClock(t *testing.T) {
	clock := pushtest.NewManualClock(time.Unix(1_700_000_000, 0))
	rec := pushtest.NewRecorder("")
	n := apnsNote("m")
	rec.Script(n.Token.String(), retryable(7*time.Second))
	d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{
		Clock: clock, Jitter: func(time.Duration) time.Duration { return 0 },
	})
	d.Enqueue(context.Background(), n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clock.WaitTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := clock.Delays(); len(got) != 1 || got[0] != 7*time.Second {
		t.Fatalf("delays %v", got)
	}
	clock.Advance(6 * time.Second)
	if len(c.all()) != 0 {
		t.Fatal("retried early")
	}
	clock.Advance(time.Second)
	if r := c.wait(t, 1)[0]; !r.OK() || r.Attempts != 2 || r.Elapsed != 7*time.Second {
		t.Fatalf("%+v", r)
	}
	closeNow(t, d)
}

// TestCloseBoundedWithStubbornSender: a Sender that ignores its context
// cannot hold Close past the deadline plus a short grace.
func TestCloseBoundedWithStubbornSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := pushtest.NewRecorder("")
		release := make(chan struct{})
		rec.SetHook(func(ctx context.Context, n *push.Notification) error {
			<-release // ignores ctx
			return nil
		})
		d, c, _ := newDispatcher(t, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{})
		d.Enqueue(context.Background(), apnsNote("stuck"))
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := d.Close(ctx); err == nil || time.Since(start) != 3*time.Second {
			t.Fatalf("close: %v after %s", err, time.Since(start))
		}
		close(release)
		synctest.Wait()
		if r := c.all(); len(r) != 1 {
			t.Fatalf("%d results", len(r))
		}
	})
}
