package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// deliveryFixture serves the token, DS and queue APIs over one SQLite
// database; pushes (verification and wake-ups) go to one fake pusher.
type deliveryFixture struct {
	tokenFixture
	queues *qs.Service
	sender *ds.SenderKeys
}

func newDeliveryFixture(t testing.TB) *deliveryFixture {
	return newDeliveryFixtureWith(t, handlers.Config{})
}

func newDeliveryFixtureWith(t testing.TB, cfg handlers.Config) *deliveryFixture {
	t.Helper()
	return newDeliveryFixtureSender(t, cfg, cfgSender(t))
}

// newDeliveryFixtureSender is newDeliveryFixtureWith with the DS's
// signing keys (nil: none).
func newDeliveryFixtureSender(t testing.TB, cfg handlers.Config, sender *ds.SenderKeys) *deliveryFixture {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), sqlstoretest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.DiscardHandler)
	pusher := &fakePusher{}
	tokens := ntf.NewService(db.Tokens(), masterkey.Generate(), pusher, logger, ntf.Config{})
	queues := qs.NewService(db.Queues(), memstore.NewNotifier[qs.ID](), qs.NewTokens(tokens, db.Tokens()), pusher, logger, qs.Config{})
	rdv := rendezvous.NewService(memstore.NewRendezvous(time.Now), memstore.NewNotifier[rendezvous.ID](), time.Now, rendezvous.Config{})
	h := handlers.New(cfg, handlers.Deps{
		Logger: logger, Rendezvous: rdv, Tokens: tokens, Registry: prometheus.NewRegistry(),
		Limiter: ratelimit.NewMemory(time.Now, 100),
		DS:      ds.NewService(db.Groups(), queues, logger, ds.Config{Sender: sender}), Queues: queues,
	})
	return &deliveryFixture{tokenFixture: tokenFixture{h: h, db: db, svc: tokens, pusher: pusher}, queues: queues, sender: sender}
}

// do is tokenFixture.do from a browser origin, so error responses must
// carry CORS headers.
func (f *deliveryFixture) do(t testing.TB, method, path, body, secret string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Origin", "https://client.example")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// newQueue creates a queue over HTTP (body may be empty).
func (f *deliveryFixture) newQueue(t testing.TB, body string) api.QueueCreated {
	t.Helper()
	rec := f.do(t, http.MethodPost, "/v1/queues", body, "")
	var out api.QueueCreated
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.Secret == "" {
		t.Fatalf("POST /v1/queues = %d %s", rec.Code, rec.Body)
	}
	return out
}

func (f *deliveryFixture) client(t testing.TB) *dstest.Client {
	q := f.newQueue(t, "")
	return dstest.NewClient(t, 1, qs.ID(q.ID), qs.Secret(q.Secret))
}

// post sends a DSMessage and returns the DSResponse; any status but 200
// fails the test.
func (f *deliveryFixture) post(t testing.TB, msg []byte) *ds.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/ds", bytes.NewReader(msg))
	req.Header.Set("Content-Type", "application/octet-stream")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("POST /v1/ds = %d %s", rec.Code, rec.Body)
	}
	r, err := ds.DecodeResponse(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("DSResponse: %v", err)
	}
	return r
}

func (f *deliveryFixture) ok(t testing.TB, msg []byte) *ds.Response {
	t.Helper()
	r := f.post(t, msg)
	if r.Code != ds.CodeOK {
		t.Fatalf("DS refused: %s %s", r.Code, r.Body)
	}
	return r
}

func (f *deliveryFixture) fetch(t testing.TB, c *dstest.Client, waitMs int) []api.QueueMessage {
	t.Helper()
	rec := f.do(t, http.MethodGet, fmt.Sprintf("/v1/queues/%s/messages?after=%d&wait_ms=%d", c.Queue, c.After, waitMs), "", string(c.QueueSecret))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET messages = %d %s", rec.Code, rec.Body)
	}
	return decodeBody[api.QueueMessages](t, rec).Messages
}

// drain fetches, processes and acknowledges c's queue over HTTP.
func (f *deliveryFixture) drain(t testing.TB, c *dstest.Client) {
	t.Helper()
	msgs := f.fetch(t, c, 0)
	for _, m := range msgs {
		if err := c.Process(m.Data); err != nil {
			t.Fatalf("processing a queued message: %v", err)
		}
		c.After = m.Seq
	}
	if len(msgs) > 0 {
		if rec := f.do(t, http.MethodDelete, fmt.Sprintf("/v1/queues/%s/messages?through=%d", c.Queue, c.After), "", string(c.QueueSecret)); rec.Code != http.StatusNoContent {
			t.Fatalf("DELETE messages = %d %s", rec.Code, rec.Body)
		}
	}
}

func TestDSOverHTTP(t *testing.T) {
	f := newDeliveryFixture(t)
	alice, bob := f.client(t), f.client(t)
	gid := []byte("http group")
	if r := f.ok(t, alice.CreateGroup(t, gid)); r.Epoch != 0 {
		t.Errorf("created at epoch %d, want 0", r.Epoch)
	}
	p := alice.AddCommit(t, bob)
	f.ok(t, p.Request)
	alice.Accepted(t, p)
	f.drain(t, bob)
	if !bob.Welcomed {
		t.Fatal("bob's queue has no Welcome")
	}
	info := f.ok(t, bob.GroupInfoRequest(t, gid, bob.AsKeyPackage()))
	if err := bob.Join(t, info.Body); err != nil {
		t.Fatal(err)
	}
	// A long-poll is answered when the message arrives.
	got := make(chan []api.QueueMessage, 1)
	go func() { got <- f.fetch(t, bob, 10_000) }()
	time.Sleep(20 * time.Millisecond)
	msg := alice.AppMessage(t, 50)
	f.ok(t, msg)
	select {
	case msgs := <-got:
		m, _ := ds.DecodeMessage(msg)
		if len(msgs) != 1 || !bytes.Equal(msgs[0].Data, m.Request.Body) {
			t.Errorf("long-poll returned %d messages, want the one sent", len(msgs))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll not answered")
	}
	// A stale commit is refused with the current epoch, over HTTP as 200.
	if r := f.post(t, p.Request); r.Code != ds.CodeWrongEpoch || r.Epoch != 1 {
		t.Errorf("replayed commit = %s epoch %d, want wrong_epoch at 1", r.Code, r.Epoch)
	}
}

func TestDSHTTPErrors(t *testing.T) {
	f := newDeliveryFixture(t)
	alice := f.client(t)
	gid := []byte("g")
	f.ok(t, alice.CreateGroup(t, gid))
	badSig := alice.GroupInfoRequest(t, gid, alice.AsMember())
	badSig[len(badSig)-1] ^= 1
	tests := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"garbage", []byte("not a DSMessage"), http.StatusBadRequest, api.CodeInvalidParam},
		{"trailing bytes", append(alice.GroupInfoRequest(t, gid, alice.AsMember()), 0), http.StatusBadRequest, api.CodeInvalidParam},
		{"unknown group", alice.GroupInfoRequest(t, []byte("other"), alice.AsMember()), http.StatusNotFound, api.CodeNotFound},
		{"bad signature", badSig, http.StatusForbidden, api.CodeForbidden},
		{"unknown sender", alice.GroupInfoRequest(t, gid, ds.SenderID{Type: ds.SenderLeafIndex, LeafIndex: 7}), http.StatusForbidden, api.CodeForbidden},
		{"oversized", make([]byte, ds.MaxMessageSize+1), http.StatusRequestEntityTooLarge, api.CodeTooLarge},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "/v1/ds", bytes.NewReader(tt.body))
		req.Header.Set("Origin", "https://client.example")
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		checkError(t, tt.name, rec, tt.status, tt.code)
	}
}

func TestQueueHTTPErrors(t *testing.T) {
	f := newDeliveryFixture(t)
	q := f.newQueue(t, "")
	msgs := "/v1/queues/" + q.ID + "/messages"
	tests := []struct {
		name, method, path, secret string
		status                     int
		code                       string
	}{
		{"fetch without secret", http.MethodGet, msgs, "", http.StatusUnauthorized, api.CodeUnknownQueue},
		{"fetch with a wrong secret", http.MethodGet, msgs, "nope", http.StatusUnauthorized, api.CodeUnknownQueue},
		{"fetch an unknown queue", http.MethodGet, "/v1/queues/AAAAAAAAAAAAAAAAAAAAAA/messages", q.Secret, http.StatusUnauthorized, api.CodeUnknownQueue},
		{"bad after", http.MethodGet, msgs + "?after=-1", q.Secret, http.StatusBadRequest, api.CodeInvalidParam},
		{"bad wait", http.MethodGet, msgs + "?wait_ms=x", q.Secret, http.StatusBadRequest, api.CodeInvalidParam},
		{"ack without through", http.MethodDelete, msgs, q.Secret, http.StatusBadRequest, api.CodeMissingParam},
		{"ack with a wrong secret", http.MethodDelete, msgs + "?through=1", "nope", http.StatusUnauthorized, api.CodeUnknownQueue},
	}
	for _, tt := range tests {
		checkError(t, tt.name, f.do(t, tt.method, tt.path, "", tt.secret), tt.status, tt.code)
	}
	rec := f.do(t, http.MethodGet, msgs+"?wait_ms=0", "", q.Secret)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"messages":[]}` {
		t.Errorf("empty fetch = %d %s", rec.Code, rec.Body)
	}
	checkError(t, "link with an unknown token", f.do(t, http.MethodPost, "/v1/queues", `{"token_id":"x","token_secret":"y"}`, ""), http.StatusUnauthorized, api.CodeUnknownToken)
	checkError(t, "unknown field", f.do(t, http.MethodPost, "/v1/queues", `{"token":"x"}`, ""), http.StatusBadRequest, api.CodeInvalidParam)
}

// TestQueueWakeUpPush links a queue to an active token: a message sends
// one background push carrying only the queue id; more messages before a
// fetch send none; after the fetch the next one pushes again.
func TestQueueWakeUpPush(t *testing.T) {
	f := newDeliveryFixture(t)
	a := f.register(t, apnsDevice)
	link := fmt.Sprintf(`{"token_id":%q,"token_secret":%q}`, a.id, a.secret)
	checkError(t, "link before verification", f.do(t, http.MethodPost, "/v1/queues", link, ""), http.StatusConflict, api.CodeConflict)
	if rec := f.do(t, http.MethodPost, "/v1/tokens/"+a.id+"/verify", fmt.Sprintf(`{"code":%q}`, f.code(t, a)), a.secret); rec.Code != http.StatusOK {
		t.Fatalf("verify = %d %s", rec.Code, rec.Body)
	}
	q := f.newQueue(t, link)
	alice, bob := f.client(t), dstest.NewClient(t, mls.CipherSuite(1), qs.ID(q.ID), qs.Secret(q.Secret))
	gid := []byte("pushed")
	f.ok(t, alice.CreateGroup(t, gid))
	before := f.pusher.count()
	p := alice.AddCommit(t, bob)
	f.ok(t, p.Request)
	alice.Accepted(t, p)
	if f.pusher.count() != before+1 {
		t.Fatalf("%d pushes after the Welcome, want 1", f.pusher.count()-before)
	}
	n := f.pusher.last(t)
	if n.Kind != push.Background || len(n.Data) != 1 || n.Data["queue"] != q.ID || n.Token.String() != apnsDevice {
		t.Errorf("wake-up push = kind %v data %v token %s, want a background push with only the queue id", n.Kind, n.Data, n.Token)
	}
	f.drain(t, bob)
	info := f.ok(t, bob.GroupInfoRequest(t, gid, bob.AsKeyPackage()))
	if err := bob.Join(t, info.Body); err != nil {
		t.Fatal(err)
	}
	f.ok(t, alice.AppMessage(t, 10))
	f.ok(t, alice.AppMessage(t, 10))
	if f.pusher.count() != before+2 {
		t.Errorf("%d pushes for a Welcome then two messages with one fetch between, want 2", f.pusher.count()-before)
	}
	f.drain(t, bob)
	if len(bob.Received) != 2 {
		t.Errorf("bob received %d messages, want 2", len(bob.Received))
	}
}

// TestQueueLimits checks the per-client limits: queue creations are rate
// limited, and a client's waiting long-polls are capped (a fetch that
// does not wait is always served).
func TestQueueLimits(t *testing.T) {
	f := newDeliveryFixtureWith(t, handlers.Config{QueueCreateRate: ratelimit.Rule{Rate: 0.001, Burst: 1}, LongPollsPerClient: 1})
	q := f.newQueue(t, "")
	checkError(t, "second queue at once", f.do(t, http.MethodPost, "/v1/queues", "", ""), http.StatusTooManyRequests, api.CodeLimitExceeded)
	msgs := "/v1/queues/" + q.ID + "/messages"
	done := make(chan int, 1)
	go func() {
		// Until it holds the slot (the probes below take it briefly), at
		// most 5 s.
		code := http.StatusTooManyRequests
		for end := time.Now().Add(5 * time.Second); code == http.StatusTooManyRequests && time.Now().Before(end); {
			code = f.do(t, http.MethodGet, msgs+"?wait_ms=2000", "", q.Secret).Code
		}
		done <- code
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec := f.do(t, http.MethodGet, msgs+"?wait_ms=1", "", q.Secret)
		if rec.Code == http.StatusTooManyRequests {
			checkError(t, "second waiting long-poll", rec, http.StatusTooManyRequests, api.CodeLimitExceeded)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a second waiting long-poll was never refused")
		}
	}
	if rec := f.do(t, http.MethodGet, msgs+"?wait_ms=0", "", q.Secret); rec.Code != http.StatusOK {
		t.Errorf("fetch without waiting = %d, want 200", rec.Code)
	}
	if code := <-done; code != http.StatusOK {
		t.Errorf("the first long-poll = %d, want 200", code)
	}
}
