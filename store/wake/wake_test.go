package wake_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/trystgw/tryst/store/wake"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// queueID stands for a key type other than rendezvous.ID.
type queueID string

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestHubWakesOnlyItsKey(t *testing.T) {
	h := wake.NewHub[queueID]()
	a1, stopA1 := h.Watch("a")
	a2, stopA2 := h.Watch("a")
	b, stopB := h.Watch("b")
	defer stopA1()
	defer stopA2()
	defer stopB()
	if h.Watching() != 2 || len(h.Keys()) != 2 {
		t.Fatalf("Watching = %d, Keys = %v; want 2 keys", h.Watching(), h.Keys())
	}
	if err := h.Notify(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if !closed(a1) || !closed(a2) {
		t.Error("a watcher of the notified key was not woken")
	}
	if closed(b) {
		t.Error("the watcher of another key was woken")
	}
	again, stop := h.Watch("a")
	defer stop()
	if closed(again) {
		t.Error("a watch made after the wake-up is already woken")
	}
}

func TestHubStopReleases(t *testing.T) {
	h := wake.NewHub[queueID]()
	_, stop1 := h.Watch("a")
	_, stop2 := h.Watch("a")
	stop1()
	stop1() // idempotent: must not release the other watch
	if h.Watching() != 1 {
		t.Errorf("Watching after one of two stopped = %d, want 1", h.Watching())
	}
	stop2()
	if h.Watching() != 0 {
		t.Errorf("Watching after both stopped = %d, want 0", h.Watching())
	}
}
