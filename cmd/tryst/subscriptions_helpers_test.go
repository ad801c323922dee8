package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// databases are the durable stores a gateway test or benchmark runs
// over, as serve arguments.
var databases = []struct {
	name string
	args func(testing.TB) []string
}{
	{"SQLite", func(testing.TB) []string { return nil }},
	{"Postgres", func(t testing.TB) []string {
		return []string{"--database-url", sqlstoretest.PostgresURL(t), "--master-key-file", writeMasterKey(t)}
	}},
}

// fastSMP makes the gateway reconnect and retry within milliseconds.
var fastSMP = []string{"--smp-min-backoff", "10ms", "--smp-max-backoff", "50ms", "--outbox-sweep", "20ms", "--outbox-lease", "200ms", "--outbox-max-retry", "50ms"}

// smpQueue is a queue on a fake server with its credentials as JSON.
type smpQueue struct {
	srv *smptest.Server
	q   smpclient.Queue
}

func newSMPQueue(t testing.TB, srv *smptest.Server) smpQueue {
	t.Helper()
	q, err := srv.NewQueue(smpclient.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return smpQueue{srv: srv, q: q}
}

// json is the queue's credentials as the API takes them.
func (q smpQueue) json(extra string) string {
	return fmt.Sprintf(`{"server":%q,"notifier_id":%q,"notifier_key":%q%s}`, q.srv.Address().String(),
		base64.RawURLEncoding.EncodeToString(q.q.NotifierID), base64.RawURLEncoding.EncodeToString(q.q.Key.MarshalPKCS8()), extra)
}

// nmsg makes the fake server send an NMSG whose nonce and metadata are
// made of tag.
func (q smpQueue) nmsg(t testing.TB, tag byte) {
	t.Helper()
	if err := q.srv.SendNMSG(q.q.NotifierID, [24]byte(bytes.Repeat([]byte{tag}, 24)), bytes.Repeat([]byte{tag}, 144)); err != nil {
		t.Fatalf("SendNMSG: %v", err)
	}
}

// prefix is how a message entry of q starts: <server>/<notifier id>.
func (q smpQueue) prefix() string {
	return ntf.ServerText(q.srv.Address()) + "/" + base64.URLEncoding.EncodeToString(q.q.NotifierID) + " "
}

// hasNMSG reports whether the plaintext carries q's NMSG with tag: its
// notifier id, nonce and metadata.
func (q smpQueue) hasNMSG(text string, tag byte) bool {
	nonce := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{tag}, 24))
	meta := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{tag}, 144))
	for e := range strings.SplitSeq(text, ";") {
		if strings.HasPrefix(e, q.prefix()) && strings.HasSuffix(e, " "+nonce+" "+meta) {
			return true
		}
	}
	return false
}

// subscribe creates a subscription of d's token and returns its id.
func (d *device) subscribe(t testing.TB, s *testServer, queues ...smpQueue) string {
	t.Helper()
	parts := make([]string, len(queues))
	for i, q := range queues {
		parts[i] = q.json("")
	}
	status, m := d.call(t, s, http.MethodPost, "/subscriptions", `{"queues":[`+strings.Join(parts, ",")+`]}`)
	if status != http.StatusCreated {
		t.Fatalf("create subscription = %d %v, want 201", status, m)
	}
	return m["id"].(string)
}

// queueStatuses returns the statuses of the subscription's queues.
func (d *device) queueStatuses(t testing.TB, s *testServer, sid string) []string {
	t.Helper()
	status, m := d.call(t, s, http.MethodGet, "/subscriptions/"+sid, "")
	if status != http.StatusOK {
		t.Fatalf("GET subscription = %d %v", status, m)
	}
	var out []string
	qs, _ := m["queues"].([]any)
	for _, q := range qs {
		out = append(out, q.(map[string]any)["status"].(string))
	}
	return out
}

// waitQueues polls until the subscription's queue statuses are want.
func (d *device) waitQueues(t testing.TB, s *testServer, sid string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := d.queueStatuses(t, s, sid)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue statuses = %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// messagePushes returns the plaintexts of the message pushes to d
// accepted by the fake provider (all answered pushes when all is set).
func (f *pushFakes) messagePushes(t testing.TB, d *device, all bool) []string {
	t.Helper()
	var out []string
	open := func(data map[string]string) {
		if data[ntf.DataMessage] == "" {
			return
		}
		text, err := ntf.OpenMessage(data, d.priv, d.serverKey)
		if err != nil {
			t.Fatalf("message push to %s does not open: %v", d.platform, err)
		}
		out = append(out, string(text))
	}
	if d.platform == "fcm" {
		for _, r := range f.fcm.ReceivedFor(d.token) {
			if all || r.Status == http.StatusOK {
				open(r.Data)
			}
		}
		return out
	}
	for _, r := range f.apns.ReceivedFor(d.token) {
		if all || r.Status == http.StatusOK {
			open(stringData(apnsData(r)))
		}
	}
	return out
}

func stringData(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// waitMessage waits until a message push accepted for d carries every
// (queue, tag) pair given, and returns its plaintext.
func (f *pushFakes) waitMessage(t testing.TB, d *device, want map[*smpQueue]byte) string {
	t.Helper()
	var found string
	ok := waitCond(10*time.Second, func() bool {
		for _, text := range f.messagePushes(t, d, false) {
			all := true
			for q, tag := range want {
				all = all && q.hasNMSG(text, tag)
			}
			if all {
				found = text
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no message push to %s carrying %d notifications; got %q", d.platform, len(want), f.messagePushes(t, d, true))
	}
	return found
}

// waitCond polls cond every few milliseconds until it holds or d passes.
func waitCond(d time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(3 * time.Millisecond):
		}
	}
	return true
}

// activeDevice registers and verifies a device of platform on s.
func activeDevice(t testing.TB, s *testServer, f *pushFakes, platform, token string) *device {
	t.Helper()
	d := newDevice(platform, token)
	d.register(t, s)
	d.verify(t, s, d.open(t, f.verificationData(t, platform, token)))
	return d
}
