package redisstore_test

import (
	"testing"
	"time"

	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// queueID stands for a key type other than rendezvous.ID.
type queueID string

// TestNotifierTopicsApart checks a notifier of another key type across
// two instances, and that notifiers of different topics on one Redis
// never wake each other's watchers even for equal keys.
func TestNotifierTopicsApart(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	open := func(topic string) *redisstore.Notifier[queueID] {
		c, cfg := newClient(t, url)
		cfg.Prefix = prefix
		n := redisstore.NewNotifier[queueID](t.Context(), c, discardLogger(), cfg, topic)
		t.Cleanup(func() { n.Close() })
		return n
	}
	queuesA, queuesB, other, otherB := open("queues"), open("queues"), open("other"), open("other")
	chOther, stopOther := other.Watch("q1")
	defer stopOther()
	chB, stopB := queuesB.Watch("q1")
	defer stopB()
	if err := queuesA.Notify(t.Context(), "q1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-chB:
	case <-time.After(5 * time.Second):
		t.Fatal("watcher of the same topic on another instance not woken")
	}
	// Redis hands a publication to every subscriber when it is published,
	// so once a later publication of topic other, sent after B was woken,
	// reached the other instance, q1 of topic queues would have too.
	chOther2, stopOther2 := other.Watch("q2")
	defer stopOther2()
	if err := otherB.Notify(t.Context(), "q2"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-chOther2:
	case <-time.After(5 * time.Second):
		t.Fatal("watcher of topic other not woken by its own topic")
	}
	select {
	case <-chOther:
		t.Error("a notification of topic queues woke a watcher of topic other")
	default:
	}
}
