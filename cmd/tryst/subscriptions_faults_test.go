package main

import (
	"net/http"
	"testing"

	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// TestSubscriptionFaultsEndToEnd drives the SMP faults through a running
// gateway: a dropped connection (inactive, then active again, and an
// NMSG after it delivered), END, DELD and ERR AUTH (final statuses the
// API reports).
func TestSubscriptionFaultsEndToEnd(t *testing.T) {
	fakes := newPushFakes(t)
	smp := newSMPServer(t, smptest.Config{})
	s := startServer(t, append(append([]string{"--push-config", fakes.config}, noTokenLimits...), fastSMP...)...)
	d := activeDevice(t, s, fakes, "fcm", pushtest.FCMToken("faults"))
	live, ended, deleted := newSMPQueue(t, smp), newSMPQueue(t, smp), newSMPQueue(t, smp)
	refused := newSMPQueue(t, smp)
	refused.q.Key, _ = smpclient.GenerateKey(smpclient.Ed25519) // not the key the server knows
	sid := d.subscribe(t, s, live, ended, deleted, refused)
	d.waitQueues(t, s, sid, "active", "active", "active", "auth")

	smp.Stall()
	smp.DropConnections()
	d.waitQueues(t, s, sid, "inactive", "inactive", "inactive", "auth")
	smp.Resume()
	d.waitQueues(t, s, sid, "active", "active", "active", "auth")
	live.nmsg(t, 7)
	fakes.waitMessage(t, d, map[*smpQueue]byte{&live: 7})

	if err := smp.SendEND(ended.q.NotifierID); err != nil {
		t.Fatal(err)
	}
	if err := smp.DeleteQueue(deleted.q.NotifierID); err != nil {
		t.Fatal(err)
	}
	d.waitQueues(t, s, sid, "active", "ended", "deleted", "auth")
	if smp.Subscribed(ended.q.NotifierID) {
		t.Error("an ended queue was subscribed again")
	}
}

// TestRotationAndRedundancyEndToEnd keeps queues on two servers, one of
// them down (redundancy), then rotates to a new queue: the old ones go
// with its first notification, which is pushed once.
func TestRotationAndRedundancyEndToEnd(t *testing.T) {
	fakes := newPushFakes(t)
	up := newSMPServer(t, smptest.Config{})
	down := newSMPServer(t, smptest.Config{})
	s := startServer(t, append(append([]string{"--push-config", fakes.config}, noTokenLimits...), fastSMP...)...)
	d := activeDevice(t, s, fakes, "apns", pushtest.APNsToken("rotation"))
	old, spare := newSMPQueue(t, up), newSMPQueue(t, down)
	down.Close()
	sid := d.subscribe(t, s, old, spare)
	d.waitQueues(t, s, sid, "active", "pending")
	old.nmsg(t, 8)
	fakes.waitMessage(t, d, map[*smpQueue]byte{&old: 8})

	next := newSMPQueue(t, up)
	if status, m := d.call(t, s, http.MethodPost, "/subscriptions/"+sid+"/queues", next.json(`,"rotate":true`)); status != http.StatusOK {
		t.Fatalf("add rotating queue = %d %v", status, m)
	}
	d.waitQueues(t, s, sid, "active", "pending", "active")
	old.nmsg(t, 9) // the old queue still works until the switch
	fakes.waitMessage(t, d, map[*smpQueue]byte{&old: 9})
	next.nmsg(t, 10)
	fakes.waitMessage(t, d, map[*smpQueue]byte{&next: 10})
	d.waitQueues(t, s, sid, "active")
	n := 0
	for _, text := range fakes.messagePushes(t, d, true) {
		if next.hasNMSG(text, 10) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the new queue's notification was pushed %d times, want once", n)
	}
}
