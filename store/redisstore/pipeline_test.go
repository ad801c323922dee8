package redisstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/rendezvous/rendezvoustest"
	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// TestScriptsReloaded checks that the store works when Redis has
// forgotten its scripts, as after a restart: the pipelined EVALSHA falls
// back to loading them.
func TestScriptsReloaded(t *testing.T) {
	url := redistest.URL(t)
	c, cfg := newClient(t, url)
	cfg.Prefix = redistest.Prefix(t, url)
	s := redisstore.NewRendezvous(c, time.Now, cfg)
	for round := range 2 {
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
		sess := rendezvoustest.NewSession(time.Now(), "x")
		if _, err := s.Create(t.Context(), sess, rendezvous.Limit{Max: 10}); err != nil {
			t.Fatalf("round %d: Create after SCRIPT FLUSH: %v", round, err)
		}
		c.ScriptFlush(t.Context())
		if _, err := s.Update(t.Context(), rendezvous.Write{ID: sess.ID, Payload: []byte("y"), Now: time.Now()}); err != nil {
			t.Fatalf("round %d: Update after SCRIPT FLUSH: %v", round, err)
		}
		c.ScriptFlush(t.Context())
		if err := s.Delete(t.Context(), sess.ID); err != nil {
			t.Fatalf("round %d: Delete after SCRIPT FLUSH: %v", round, err)
		}
	}
}

// TestPipelinedRequestsKeepTheirAnswers sends many concurrent reads and
// writes of different sessions, which share pipelines, and checks that
// each gets the answer for its own session.
func TestPipelinedRequestsKeepTheirAnswers(t *testing.T) {
	url := redistest.URL(t)
	c, cfg := newClient(t, url)
	cfg.Prefix = redistest.Prefix(t, url)
	s := redisstore.NewRendezvous(c, time.Now, cfg)
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			want := fmt.Sprint("payload ", i)
			sess := rendezvoustest.NewSession(time.Now(), want)
			if _, err := s.Create(t.Context(), sess, rendezvous.Limit{}); err != nil {
				t.Errorf("Create %d: %v", i, err)
				return
			}
			for j := range 3 {
				got, err := s.Get(t.Context(), sess.ID)
				if err != nil || string(got.Payload) != want || got.ID != sess.ID {
					t.Errorf("Get %d.%d = %q %s, %v, want %q", i, j, got.Payload, got.ID, err, want)
				}
				want = fmt.Sprint("payload ", i, ".", j)
				if _, err := s.Update(t.Context(), rendezvous.Write{ID: sess.ID, Payload: []byte(want), Now: time.Now()}); err != nil {
					t.Errorf("Update %d.%d: %v", i, j, err)
				}
			}
		})
	}
	wg.Wait()
}
