package ntf

import (
	"math/rand/v2"
	"testing"

	"github.com/trystgw/tryst/smpclient"
)

// TestSubscribedCountMatchesQueues drives a server's bookkeeping through
// random adds, removals, confirmations and connection changes: the
// running count stats read always equals a walk of the queues.
func TestSubscribedCountMatchesQueues(t *testing.T) {
	v := newSMPServer("smp://test", smpclient.ServerAddress{})
	rng := rand.New(rand.NewPCG(1, 2))
	id := func() []byte { return []byte{byte(rng.IntN(20))} }
	var gens []uint64
	for step := range 5000 {
		switch rng.IntN(6) {
		case 0:
			v.add(WatchedQueue{Ref: QueueRef{NotifierID: id()}})
		case 1:
			v.remove(id())
		case 2:
			gens = append(gens, v.connected())
		case 3:
			if len(gens) > 0 {
				v.disconnected(gens[rng.IntN(len(gens))])
			}
		default:
			if len(gens) > 0 {
				v.confirmed([][]byte{id(), id()}, gens[rng.IntN(len(gens))])
			}
		}
		v.mu.Lock()
		walked := 0
		for _, q := range v.queues {
			if v.conn != 0 && q.conn == v.conn {
				walked++
			}
		}
		v.mu.Unlock()
		if _, _, n := v.snapshot(); n != walked {
			t.Fatalf("step %d: counted %d subscribed, the queues say %d", step, n, walked)
		}
	}
}
