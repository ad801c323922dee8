package ntf_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// resultPusher records pushes and answers each with a result, accepted
// unless refuse is set.
type resultPusher struct {
	mu     sync.Mutex
	sent   []*push.Notification
	refuse bool
	onRes  func(push.Result)
	wake   chan struct{}
}

func (p *resultPusher) Enqueue(_ context.Context, n *push.Notification) error {
	p.mu.Lock()
	p.sent = append(p.sent, n)
	refuse, onRes := p.refuse, p.onRes
	p.mu.Unlock()
	r := push.Result{Notification: n}
	if refuse {
		r.Err, r.Class = push.ErrQueueFull, push.ClassRetryable
	}
	go onRes(r)
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// messages returns the message pushes sent so far.
func (p *resultPusher) messages() []*push.Notification {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*push.Notification
	for _, n := range p.sent {
		if n.Data[ntf.DataMessage] != "" {
			out = append(out, n)
		}
	}
	return out
}

// rig is the notification service on SQLite with a fake SMP server.
type rig struct {
	db     *sqlstore.DB
	tokens *ntf.Service
	subs   *ntf.Subscriptions
	sup    *ntf.Supervisor
	outbox *ntf.Outbox
	pusher *resultPusher
	smp    *smptest.Server
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// testSMPConfig dials smptest quickly and reconnects within milliseconds.
var testSupervisorConfig = ntf.SupervisorConfig{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, BatchWindow: 5 * time.Millisecond}

func newRig(t *testing.T, url string) *rig {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv, err := smptest.NewServer(smptest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	r := &rig{db: db, smp: srv, pusher: &resultPusher{wake: make(chan struct{}, 1)}}
	r.start(t)
	return r
}

// start runs the supervisor and the outbox over r's database (again,
// after stop, as a restarted gateway would).
func (r *rig) start(t *testing.T) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	key, _ := masterkey.New(bytes.Repeat([]byte{7}, masterkey.Size))
	r.tokens = ntf.NewService(r.db.Tokens(), key, r.pusher, log, ntf.Config{})
	var err error
	r.outbox, err = ntf.NewOutbox(r.db.Subscriptions(), r.db.Tokens(), key, r.pusher, log, ntf.OutboxConfig{Sweep: 20 * time.Millisecond, Lease: 50 * time.Millisecond, MinRetry: 10 * time.Millisecond, MaxRetry: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.sup = ntf.NewSupervisor(r.db.Subscriptions(), key, r.outbox, log, testSupervisorConfig)
	r.subs = ntf.NewSubscriptions(r.tokens, r.db.Subscriptions(), key, r.sup)
	outbox, tokens := r.outbox, r.tokens
	r.pusher.mu.Lock()
	r.pusher.onRes = func(res push.Result) {
		if !outbox.HandlePushResult(context.Background(), res) {
			tokens.HandlePushResult(context.Background(), res)
		}
	}
	r.pusher.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done.Go(func() { r.sup.Run(ctx) })
	r.done.Go(func() { r.outbox.Run(ctx) })
	t.Cleanup(r.stop)
}

func (r *rig) stop() {
	r.cancel()
	r.done.Wait()
}

// app is a registered, active token with its key.
type app struct {
	creds ntf.Credentials
	priv  [32]byte
	token ntf.Token
}

func (r *rig) newApp(t *testing.T) *app {
	t.Helper()
	a := &app{}
	a.priv = [32]byte(bytes.Repeat([]byte{byte(len(t.Name()))}, 32))
	tk, secret, err := r.tokens.Register(t.Context(), ntf.Registration{Platform: push.APNs, App: "app",
		DeviceToken: push.MustParseDeviceToken(push.APNs, strings.Repeat("ab", 32)), DHKey: ntf.PublicKey(a.priv)})
	if err != nil {
		t.Fatal(err)
	}
	a.token, err = r.db.Tokens().Update(t.Context(), tk.ID, func(t *ntf.Token) error { t.Status = ntf.StatusActive; return nil })
	if err != nil {
		t.Fatal(err)
	}
	a.creds = ntf.Credentials{ID: string(tk.ID), Secret: string(secret)}
	return a
}

// newQueue makes a queue on r's fake server and its request form.
func (r *rig) newQueue(t *testing.T) (smpclient.Queue, ntf.NewQueue) {
	t.Helper()
	q, err := r.smp.NewQueue(smpclient.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return q, parseQueue(t, r.smp, q)
}

func parseQueue(t *testing.T, srv *smptest.Server, q smpclient.Queue) ntf.NewQueue {
	t.Helper()
	nq, err := ntf.ParseNewQueue(srv.Address().String(), b64(q.NotifierID), b64(q.Key.MarshalPKCS8()))
	if err != nil {
		t.Fatal(err)
	}
	return nq
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// queueStatus returns the status of the subscription's queue i.
func (r *rig) queueStatus(t *testing.T, a *app, id ntf.SubscriptionID, i int) ntf.QueueStatus {
	t.Helper()
	sub, err := r.subs.Get(t.Context(), a.creds, string(id))
	if err != nil || len(sub.Queues) <= i {
		return ""
	}
	return sub.Queues[i].Status
}

func (r *rig) waitStatus(t *testing.T, a *app, id ntf.SubscriptionID, i int, want ntf.QueueStatus) {
	t.Helper()
	waitFor(t, fmt.Sprintf("queue %d %s", i, want), func() bool { return r.queueStatus(t, a, id, i) == want })
}

// nmsg sends an NMSG with a nonce made of tag.
func (r *rig) nmsg(t *testing.T, q smpclient.Queue, tag byte) {
	t.Helper()
	if err := r.smp.SendNMSG(q.NotifierID, [24]byte(bytes.Repeat([]byte{tag}, 24)), bytes.Repeat([]byte{tag}, 144)); err != nil {
		t.Fatal(err)
	}
}

// waitEntry waits for a message push whose plaintext has an entry of q
// with the nonce tag, and returns the plaintext.
func (r *rig) waitEntry(t *testing.T, a *app, q smpclient.Queue, tag byte) string {
	t.Helper()
	want := "/" + base64.URLEncoding.EncodeToString(q.NotifierID) + " "
	nonce := " " + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{tag}, 24)) + " "
	var found string
	waitFor(t, "a message push", func() bool {
		for _, n := range r.pusher.messages() {
			text, err := ntf.OpenMessage(n.Data, a.priv, a.token.ServerPublicKey)
			if err != nil {
				t.Fatalf("message push does not open: %v", err)
			}
			for e := range strings.SplitSeq(string(text), ";") {
				if strings.Contains(e, want) && strings.Contains(e, nonce) {
					found = string(text)
					return true
				}
			}
		}
		return false
	})
	return found
}

func TestSupervisorNMSGToPush(t *testing.T) {
	r := newRig(t, sqlstoretest.SQLiteURL(t))
	a := r.newApp(t)
	q, nq := r.newQueue(t)
	sub, created, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{nq})
	if err != nil || !created {
		t.Fatalf("Create = %v, %v", created, err)
	}
	r.waitStatus(t, a, sub.ID, 0, ntf.QueueActive)
	r.nmsg(t, q, 1)
	text := r.waitEntry(t, a, q, 1)
	server := ntf.ServerText(r.smp.Address())
	if !strings.HasPrefix(text, server+"/") || strings.Count(text, ";") != 0 {
		t.Errorf("plaintext = %q, want one entry of %s", text, server)
	}
	n := r.pusher.messages()[0]
	if n.Kind != push.Alert || !n.MutableContent || n.DataGroup != ntf.DataGroup || n.Priority != push.PriorityHigh {
		t.Errorf("message push = %+v, want a high-priority mutable alert with data under %s", n, ntf.DataGroup)
	}
	waitFor(t, "an empty outbox", func() bool { st, _ := r.outbox.Stats(t.Context()); return st.Depth == 0 })
	// A retry of the same request is idempotent; another key conflicts.
	again, created, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{nq})
	if err != nil || created || again.ID != sub.ID {
		t.Errorf("repeated Create = %s %v %v; want the same subscription", again.ID, created, err)
	}
	other := nq
	other.Key, _ = smpclient.GenerateKey(smpclient.Ed25519)
	if _, _, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{other}); err != ntf.ErrQueueTaken {
		t.Errorf("Create with another key = %v, want ErrQueueTaken", err)
	}
}
