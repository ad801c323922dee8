package rendezvoustest

import (
	"testing"
	"time"

	"github.com/trystgw/tryst/rendezvous"
)

// wakeTimeout bounds how long a notification may take to arrive; it is a
// failure bound, not a measurement, so it is generous for shared machines.
const wakeTimeout = 5 * time.Second

// TestNotifier checks a rendezvous.Notifier. newPair returns two notifiers
// that share their notifications, as two instances would (an in-process
// notifier returns itself twice).
func TestNotifier(t *testing.T, newPair func(t testing.TB) (a, b rendezvous.Notifier)) {
	t.Run("NotifyWakesAllWatchers", func(t *testing.T) {
		a, b := newPair(t)
		id := rendezvous.NewID()
		chA, stopA := a.Watch(id)
		defer stopA()
		chB, stopB := b.Watch(id)
		defer stopB()
		if err := a.Notify(t.Context(), id); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		waitClosed(t, "watcher on the notifying instance", chA)
		waitClosed(t, "watcher on the other instance", chB)
	})
	t.Run("OtherSessionDoesNotWake", func(t *testing.T) {
		a, b := newPair(t)
		id, other := rendezvous.NewID(), rendezvous.NewID()
		ch, stop := b.Watch(id)
		defer stop()
		otherCh, stopOther := b.Watch(other)
		defer stopOther()
		if err := a.Notify(t.Context(), other); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		// Notifications are delivered in order, so once other's watcher
		// is woken, id's would have been too if it were going to be.
		waitClosed(t, "watcher of the notified session", otherCh)
		select {
		case <-ch:
			t.Errorf("watcher of %s woken by a notification of %s", id, other)
		default:
		}
	})
	t.Run("StopReleases", func(t *testing.T) {
		a, _ := newPair(t)
		id := rendezvous.NewID()
		_, stop := a.Watch(id)
		stop()
		stop() // idempotent
		ch, stop2 := a.Watch(id)
		defer stop2()
		if err := a.Notify(t.Context(), id); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		waitClosed(t, "watcher after another stopped", ch)
	})
}

func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wakeTimeout):
		t.Errorf("%s not woken within %v", what, wakeTimeout)
	}
}
