package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/qs"
)

// queueOn creates a queue on s (linked when link is not empty) and a test
// MLS client receiving on it.
func queueOn(t *testing.T, s *testServer, link string) *dstest.Client {
	t.Helper()
	resp, out := s.do(t, http.MethodPost, "/v1/queues", link, "Content-Type", "application/json")
	var q struct{ ID, Secret string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(out), &q) != nil {
		t.Fatalf("POST /v1/queues = %d %s", resp.StatusCode, out)
	}
	return dstest.NewClient(t, 1, qs.ID(q.ID), qs.Secret(q.Secret))
}

// dsOK posts a DSMessage to s and requires it accepted.
func dsOK(t *testing.T, s *testServer, msg []byte) *ds.Response {
	t.Helper()
	resp, out := s.do(t, http.MethodPost, "/v1/ds", string(msg), "Content-Type", "application/octet-stream")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/ds = %d %s", resp.StatusCode, out)
	}
	r, err := ds.DecodeResponse([]byte(out))
	if err != nil || r.Code != ds.CodeOK {
		t.Fatalf("DSResponse = %+v, %v; want ok", r, err)
	}
	return r
}

// drainOn fetches (long-polling up to wait), processes and acknowledges
// c's queue on s; it returns how many messages there were.
func drainOn(t *testing.T, s *testServer, c *dstest.Client, wait time.Duration) int {
	t.Helper()
	auth := []string{"Authorization", "Bearer " + string(c.QueueSecret)}
	resp, out := s.do(t, http.MethodGet, fmt.Sprintf("/v1/queues/%s/messages?after=%d&wait_ms=%d", c.Queue, c.After, wait.Milliseconds()), "", auth...)
	var got struct {
		Messages []struct {
			Seq  uint64
			Data []byte
		}
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("GET messages = %d %s", resp.StatusCode, out)
	}
	for _, m := range got.Messages {
		if err := c.Process(m.Data); err != nil {
			t.Fatalf("processing a queued message: %v", err)
		}
		c.After = m.Seq
	}
	if len(got.Messages) > 0 {
		if resp, out := s.do(t, http.MethodDelete, fmt.Sprintf("/v1/queues/%s/messages?through=%d", c.Queue, c.After), "", auth...); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE messages = %d %s", resp.StatusCode, out)
		}
	}
	return len(got.Messages)
}

// TestDeliveryEndToEnd runs a group through a running gateway: Bob's
// queue is linked to his verified APNs token, so the Welcome wakes his
// device with a background push at the fake APNs carrying only the queue
// id; he fetches, joins, and receives Alice's message.
func TestDeliveryEndToEnd(t *testing.T) {
	fakes := newPushFakes(t)
	s := startServer(t, append([]string{"--push-config", fakes.config}, noTokenLimits...)...)
	phone := newDevice("apns", pushtest.APNsToken("bob"))
	phone.register(t, s)
	phone.verify(t, s, phone.open(t, fakes.verificationData(t, "apns", phone.token)))

	alice := queueOn(t, s, "")
	bob := queueOn(t, s, fmt.Sprintf(`{"token_id":%q,"token_secret":%q}`, phone.id, phone.secret))
	gid := []byte("e2e group")
	dsOK(t, s, alice.CreateGroup(t, gid))
	p := alice.AddCommit(t, bob)
	dsOK(t, s, p.Request)
	alice.Accepted(t, p)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := fakes.apns.Wait(ctx, func(rs []pushtest.APNsRequest) bool {
		n := 0
		for _, r := range rs {
			if r.Token == phone.token && r.Status == http.StatusOK {
				n++
			}
		}
		return n == 2 // the verification push, then the wake-up
	})
	if err != nil {
		t.Fatalf("no wake-up push reached the fake APNs: %v", err)
	}
	wake := fakes.apns.ReceivedFor(phone.token)[1]
	var payload map[string]any
	json.Unmarshal(wake.Payload, &payload)
	if wake.PushType != "background" || payload["queue"] != string(bob.Queue) {
		t.Errorf("wake-up push: type %q payload %s, want a background push with the queue id", wake.PushType, wake.Payload)
	}

	drainOn(t, s, bob, 0)
	resp, out := s.do(t, http.MethodPost, "/v1/ds", string(bob.GroupInfoRequest(t, gid, bob.AsKeyPackage())))
	r, err := ds.DecodeResponse([]byte(out))
	if resp.StatusCode != http.StatusOK || err != nil || bob.Join(t, r.Body) != nil {
		t.Fatalf("bob could not join: %d %v", resp.StatusCode, err)
	}
	dsOK(t, s, alice.AppMessage(t, 40))
	if n := drainOn(t, s, bob, 5*time.Second); n != 1 || len(bob.Received) != 1 {
		t.Errorf("bob fetched %d messages (%d application), want 1", n, len(bob.Received))
	}
	if _, metrics := s.do(t, http.MethodGet, "/metrics", ""); !strings.Contains(metrics, `tryst_ds_requests_total{code="ok",type="send_commit"} 1`) {
		t.Errorf("/metrics has no count of the accepted commit")
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve = %v", err)
	}
}
