package dstest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/trystgw/tryst/ds"
)

// TestSecretStore checks that a ds.SecretStore keeps the first secret
// stored, also when several callers (instances) race to store theirs.
// newStore must return an empty store each call.
func TestSecretStore(t *testing.T, newStore func(t *testing.T) ds.SecretStore) {
	t.Run("FirstWins", func(t *testing.T) {
		s := newStore(t)
		for i, try := range [][]byte{[]byte("first"), []byte("second")} {
			got, err := s.SenderSecret(t.Context(), try)
			if err != nil || !bytes.Equal(got, []byte("first")) {
				t.Errorf("call %d: SenderSecret(%q) = %q, %v; want \"first\"", i, try, got, err)
			}
		}
	})
	t.Run("RacersAgree", func(t *testing.T) {
		s := newStore(t)
		const n = 8
		got := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { got[i], errs[i] = s.SenderSecret(t.Context(), fmt.Appendf(nil, "secret %d", i)) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || !bytes.Equal(got[i], got[0]) || !bytes.HasPrefix(got[0], []byte("secret ")) {
				t.Errorf("racer %d got %q, %v; racer 0 got %q", i, got[i], errs[i], got[0])
			}
		}
	})
}
