package main

import (
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// TestSubscriptionPushEndToEnd registers and verifies a token, hands over
// a queue of a fake SMP server, makes the server send an NMSG, and opens
// the push the fake provider received with the app's key, on APNs and
// FCM, over SQLite and PostgreSQL.
func TestSubscriptionPushEndToEnd(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			fakes := newPushFakes(t)
			smp := newSMPServer(t, smptest.Config{})
			s := startServer(t, append(append(append([]string{"--push-config", fakes.config}, noTokenLimits...), fastSMP...), db.args(t)...)...)
			for _, tc := range []struct{ platform, token string }{
				{"apns", pushtest.APNsToken("sub-e2e")}, {"fcm", pushtest.FCMToken("sub-e2e")},
			} {
				t.Run(tc.platform, func(t *testing.T) { testMessagePush(t, s, fakes, smp, tc.platform, tc.token) })
			}
			checkOperations(t, s, fakes)
		})
	}
}

func testMessagePush(t *testing.T, s *testServer, fakes *pushFakes, smp *smptest.Server, platform, token string) {
	d := activeDevice(t, s, fakes, platform, token)
	q := newSMPQueue(t, smp)
	sid := d.subscribe(t, s, q)
	d.waitQueues(t, s, sid, "active")
	start := time.Now()
	q.nmsg(t, 1)
	text := fakes.waitMessage(t, d, map[*smpQueue]byte{&q: 1})
	if took := time.Since(start); took > time.Second {
		t.Errorf("NMSG to push took %v, want under 1s", took)
	}
	if strings.Count(text, ";") != 0 {
		t.Errorf("plaintext %q, want one entry", text)
	}
	checkMessagePushShape(t, fakes, d)
}

// checkMessagePushShape checks the headers and body of d's message push
// against gateway-api.md §2: on APNs an alert with mutable-content, its
// data under notificationData, the body under 4,096 bytes; on FCM a
// high-priority data message with flat data.
func checkMessagePushShape(t *testing.T, f *pushFakes, d *device) {
	t.Helper()
	if d.platform == "fcm" {
		for _, r := range f.fcm.ReceivedFor(d.token) {
			if r.Data[ntf.DataMessage] == "" {
				continue
			}
			if r.AndroidPriority != "high" || len(r.Data) != 2 || r.Data[ntf.DataNonce] == "" || r.Title != "" || r.Body != "" {
				t.Errorf("FCM message push: priority %q, data %v, title %q; want a high-priority data message of nonce and message", r.AndroidPriority, r.Data, r.Title)
			}
			return
		}
		t.Fatal("no FCM message push")
	}
	for _, r := range f.apns.ReceivedFor(d.token) {
		data := apnsData(r)
		if data[ntf.DataMessage] == nil {
			continue
		}
		aps, _ := r.Decoded()["aps"].(map[string]any)
		if r.PushType != "alert" || (r.Priority != "10" && r.Priority != "") || aps["mutable-content"] != float64(1) || aps["alert"] == nil {
			t.Errorf("APNs message push: type %q priority %q aps %v; want alert, 10, mutable-content and an alert", r.PushType, r.Priority, aps)
		}
		if len(r.Payload) >= 4096 || len(data) != 2 {
			t.Errorf("APNs message push: %d bytes, notificationData %v; want under 4096 bytes, nonce and message", len(r.Payload), data)
		}
		return
	}
	t.Fatal("no APNs message push")
}

// checkOperations checks the notification metrics after the pushes, and
// that a queue on an unreachable SMP server leaves /readyz ready.
func checkOperations(t *testing.T, s *testServer, fakes *pushFakes) {
	t.Helper()
	down := newSMPServer(t, smptest.Config{})
	q := newSMPQueue(t, down)
	down.Close()
	d := activeDevice(t, s, fakes, "apns", pushtest.APNsToken("ops"))
	d.subscribe(t, s, q)
	if !waitCond(5*time.Second, func() bool {
		_, body := s.do(t, "GET", "/metrics", "")
		return strings.Contains(body, `tryst_ntf_smp_connection_up{server="`+ntf.ServerText(down.Address())+`"} 0`)
	}) {
		t.Error("no connection-down metric for the unreachable SMP server")
	}
	if resp, body := s.do(t, "GET", "/readyz", ""); resp.StatusCode != 200 {
		t.Errorf("/readyz with one SMP server unreachable = %d %s, want 200", resp.StatusCode, body)
	}
	_, body := s.do(t, "GET", "/metrics", "")
	for _, want := range []string{
		`tryst_ntf_nmsg_received_total 2`, `tryst_ntf_nmsg_stored_total 2`, `tryst_ntf_nsub_total{result="confirmed"} 2`,
		`tryst_ntf_outbox_depth 0`, `tryst_ntf_nmsg_to_push_duration_seconds_count 2`, `tryst_ntf_queues{status="active"} 2`,
		`tryst_ntf_message_pushes_total{result="queued"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
