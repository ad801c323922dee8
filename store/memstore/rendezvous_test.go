package memstore_test

import (
	"testing"
	"time"

	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/rendezvous/rendezvoustest"
	"github.com/trystgw/tryst/store/memstore"
)

func TestRendezvousStore(t *testing.T) {
	rendezvoustest.TestStore(t, func(_ testing.TB, now func() time.Time) rendezvous.Store {
		return memstore.NewRendezvous(now)
	})
}

func TestNotifier(t *testing.T) {
	rendezvoustest.TestNotifier(t, func(testing.TB) (rendezvous.Notifier, rendezvous.Notifier) {
		n := memstore.NewNotifier[rendezvous.ID]()
		return n, n
	})
}
