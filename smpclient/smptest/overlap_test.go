package smptest

import (
	"testing"
	"time"

	"github.com/trystgw/tryst/smpclient"
)

// TestOverlapCounting: the same queue subscribed twice on one connection
// is two NSUBs and no overlap; then taken by a second connection while
// the first holds it, an overlap; after the holder closes, a third
// connection's NSUB is none.
func TestOverlapCounting(t *testing.T) {
	s, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, err := s.NewQueue(smpclient.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	subscribe := func() *smpclient.Client {
		c, err := smpclient.Dial(t.Context(), s.Address(), smpclient.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if r := c.Subscribe(t.Context(), []smpclient.Queue{q}); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		return c
	}
	a := subscribe()
	if r := a.Subscribe(t.Context(), []smpclient.Queue{q}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if s.NSUBCount(q.NotifierID) != 2 || s.Overlaps() != 0 || s.SubscribedQueues() != 1 {
		t.Fatalf("one connection, two NSUBs: count %d, overlaps %d, subscribed %d", s.NSUBCount(q.NotifierID), s.Overlaps(), s.SubscribedQueues())
	}
	b := subscribe()
	if s.Overlaps() != 1 {
		t.Errorf("a second connection took the queue: overlaps %d, want 1", s.Overlaps())
	}
	b.Close()
	a.Close()
	for deadline := time.Now().Add(5 * time.Second); s.ConnCount() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fake still has connections 5s after both closed")
		}
	}
	c := subscribe()
	defer c.Close()
	if s.Overlaps() != 1 || s.NSUBCount(q.NotifierID) != 4 || s.SubscribedQueues() != 1 {
		t.Errorf("after the holders closed: overlaps %d (want 1), count %d (want 4), subscribed %d", s.Overlaps(), s.NSUBCount(q.NotifierID), s.SubscribedQueues())
	}
}
