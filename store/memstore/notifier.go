package memstore

import (
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/wake"
)

var _ rendezvous.Notifier = (*Notifier[rendezvous.ID])(nil)

// Notifier is an in-process wake-up notifier for any string key type K
// (a rendezvous.Notifier for K = rendezvous.ID; a client queue's for its
// id type). Its Watch, Notify, Wake and Watching are those of wake.Hub.
// It is safe for concurrent use.
type Notifier[K ~string] struct {
	*wake.Hub[K]
}

// NewNotifier returns a Notifier with no watchers.
func NewNotifier[K ~string]() *Notifier[K] {
	return &Notifier[K]{Hub: wake.NewHub[K]()}
}
