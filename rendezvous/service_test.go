package rendezvous_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
)

func newService(cfg rendezvous.Config) *rendezvous.Service {
	return rendezvous.NewService(memstore.NewRendezvous(time.Now), memstore.NewNotifier[rendezvous.ID](), time.Now, cfg)
}

func TestServiceLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(rendezvous.Config{})
		sess, err := s.Create(t.Context(), []byte("a"), "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		if !sess.Expires.Equal(time.Now().Add(rendezvous.DefaultTTL)) || sess.Counter != 1 {
			t.Errorf("Create = expires %v counter %d, want now+TTL and 1", sess.Expires, sess.Counter)
		}
		put, err := s.Put(t.Context(), sess.ID, sess.Version(), []byte("b"), "text/plain")
		if err != nil || put.Version() == sess.Version() || !put.Expires.Equal(sess.Expires) {
			t.Fatalf("Put = %v, %v, want a new version and the fixed expiry", put.Version(), err)
		}
		if _, err := s.Put(t.Context(), sess.ID, sess.Version(), []byte("c"), "text/plain"); !errors.Is(err, rendezvous.ErrConflict) {
			t.Errorf("Put(stale) error = %v, want ErrConflict", err)
		}
		if err := s.Delete(t.Context(), sess.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(t.Context(), sess.ID); !errors.Is(err, rendezvous.ErrNotFound) {
			t.Errorf("Get after Delete error = %v, want ErrNotFound", err)
		}
		st := s.Stats(t.Context())
		if st.Created != 1 || st.Conflicts != 1 || st.Live != 0 {
			t.Errorf("Stats = %+v, want 1 created, 1 conflict, 0 live", st)
		}
	})
}

func TestServiceSlidingTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(rendezvous.Config{TTL: time.Minute, SlidingTTL: true})
		sess, _ := s.Create(t.Context(), []byte("a"), "")
		time.Sleep(50 * time.Second)
		if _, err := s.Put(t.Context(), sess.ID, "", []byte("b"), ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Second)
		if _, err := s.Get(t.Context(), sess.ID); err != nil {
			t.Errorf("Get 100s after creation of a session written at 50s with a sliding 60s TTL: %v", err)
		}
	})
}

func TestServiceLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(rendezvous.Config{MaxBytes: 3, MaxSessions: 1})
		if _, err := s.Create(t.Context(), []byte("four"), ""); !errors.Is(err, rendezvous.ErrTooLarge) {
			t.Errorf("Create(4 bytes, max 3) error = %v, want ErrTooLarge", err)
		}
		sess, _ := s.Create(t.Context(), []byte("abc"), "")
		if _, err := s.Put(t.Context(), sess.ID, "", []byte("four"), ""); !errors.Is(err, rendezvous.ErrTooLarge) {
			t.Errorf("Put(4 bytes, max 3) error = %v, want ErrTooLarge", err)
		}
		if _, err := s.Create(t.Context(), []byte("x"), ""); !errors.Is(err, rendezvous.ErrFull) {
			t.Errorf("Create over MaxSessions error = %v, want ErrFull", err)
		}
		time.Sleep(rendezvous.DefaultTTL)
		if _, err := s.Create(t.Context(), []byte("x"), ""); err != nil {
			t.Errorf("Create after the only session expired: %v", err)
		}
		if st := s.Stats(t.Context()); st.Expired != 1 || st.Live != 1 {
			t.Errorf("Stats = %+v, want 1 expired and 1 live", st)
		}
	})
}

// TestServiceContentTypeBound checks that a content type is bounded like
// the payload, so a session stores at most MaxBytes + MaxContentType.
func TestServiceContentTypeBound(t *testing.T) {
	s := newService(rendezvous.Config{MaxBytes: 8})
	long := "text/plain; x=" + strings.Repeat("a", rendezvous.MaxContentType)
	if _, err := s.Create(t.Context(), []byte("x"), long); !errors.Is(err, rendezvous.ErrContentType) {
		t.Errorf("Create with a %d-byte content type: %v, want ErrContentType", len(long), err)
	}
	most := long[:rendezvous.MaxContentType]
	sess, err := s.Create(t.Context(), []byte("12345678"), most)
	if err != nil {
		t.Fatalf("Create with a %d-byte content type: %v", len(most), err)
	}
	if sess.Size() != 8+rendezvous.MaxContentType {
		t.Errorf("Size = %d, want %d", sess.Size(), 8+rendezvous.MaxContentType)
	}
	if _, err := s.Put(t.Context(), sess.ID, "", []byte("x"), long); !errors.Is(err, rendezvous.ErrContentType) {
		t.Errorf("Put with a %d-byte content type: %v, want ErrContentType", len(long), err)
	}
}

func TestEvictionWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(rendezvous.Config{MaxSessions: 1, EvictOldest: true})
		old, _ := s.Create(t.Context(), []byte("a"), "")
		errc := make(chan error)
		go func() {
			_, err := s.Wait(t.Context(), old.ID, old.Version(), 20*time.Second)
			errc <- err
		}()
		synctest.Wait()
		start := time.Now()
		if _, err := s.Create(t.Context(), []byte("b"), ""); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, rendezvous.ErrNotFound) || time.Since(start) != 0 {
			t.Errorf("Wait on an evicted session = %v after %v, want ErrNotFound at once", err, time.Since(start))
		}
		if st := s.Stats(t.Context()); st.Evicted != 1 {
			t.Errorf("Stats.Evicted = %d, want 1", st.Evicted)
		}
	})
}

func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(rendezvous.Config{MaxWait: 10 * time.Second})
		sess, _ := s.Create(t.Context(), []byte("a"), "")

		// Known version already stale: returns at once.
		got, err := s.Wait(t.Context(), sess.ID, "older-1", time.Minute)
		if err != nil || got.Version() != sess.Version() {
			t.Errorf("Wait(stale known) = %v, %v, want the current session", got.Version(), err)
		}

		// Nothing happens: the unchanged session after the capped wait.
		start := time.Now()
		got, err = s.Wait(t.Context(), sess.ID, sess.Version(), time.Minute)
		if err != nil || got.Version() != sess.Version() || time.Since(start) != 10*time.Second {
			t.Errorf("Wait(no change) = %v, %v after %v, want unchanged after the 10s cap", got.Version(), err, time.Since(start))
		}

		// The caller goes away.
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		if _, err := s.Wait(ctx, sess.ID, sess.Version(), 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait(cancelled) error = %v, want context.Canceled", err)
		}
		if st := s.Stats(t.Context()); st.Waiting != 0 {
			t.Errorf("waiting after all waits ended = %d, want 0", st.Waiting)
		}
	})
}

func TestWaitWokenByWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(rendezvous.Config{})
		sess, _ := s.Create(t.Context(), []byte("a"), "")
		type result struct {
			payload string
			err     error
		}
		const waiters = 3
		done := make(chan result, waiters)
		for range waiters {
			go func() {
				got, err := s.Wait(t.Context(), sess.ID, sess.Version(), 20*time.Second)
				done <- result{string(got.Payload), err}
			}()
		}
		synctest.Wait()
		if st := s.Stats(t.Context()); st.Waiting != waiters {
			t.Fatalf("waiting = %d, want %d", st.Waiting, waiters)
		}
		time.Sleep(2 * time.Second)
		start := time.Now()
		s.Put(t.Context(), sess.ID, "", []byte("b"), "")
		for range waiters {
			if r := <-done; r.err != nil || r.payload != "b" || time.Since(start) != 0 {
				t.Errorf("Wait = %q, %v after %v, want b at once", r.payload, r.err, time.Since(start))
			}
		}
	})
}

func TestWaitEndsAtExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(rendezvous.Config{TTL: 20 * time.Second})
		sess, _ := s.Create(t.Context(), []byte("a"), "")
		time.Sleep(15 * time.Second)
		start := time.Now()
		if _, err := s.Wait(t.Context(), sess.ID, sess.Version(), 30*time.Second); !errors.Is(err, rendezvous.ErrNotFound) || time.Since(start) != 5*time.Second {
			t.Errorf("Wait across expiry = %v after %v, want ErrNotFound after 5s", err, time.Since(start))
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  rendezvous.Config
		want string
	}{
		{rendezvous.Config{}, ""},
		{rendezvous.Config{TTL: 9 * time.Second}, "ttl"},
		{rendezvous.Config{TTL: 2 * time.Hour}, "ttl"},
		{rendezvous.Config{MaxBytes: -1}, "max bytes"},
		{rendezvous.Config{MaxSessions: -5}, "max sessions"},
		{rendezvous.Config{MaxWait: -time.Second}, "max wait"},
	} {
		err := c.cfg.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Validate(%+v) = %v, want an error about %q", c.cfg, err, c.want)
		}
	}
}

func TestIDs(t *testing.T) {
	seen := map[rendezvous.ID]bool{}
	for range 1000 {
		id := rendezvous.NewID()
		if len(id) < 22 || seen[id] {
			t.Fatalf("NewID() = %q: too short or repeated", id)
		}
		if _, err := rendezvous.ParseID(string(id)); err != nil {
			t.Fatalf("ParseID(NewID()) = %v", err)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "a/b", "a b", "é", strings.Repeat("a", 256), "a.b"} {
		if _, err := rendezvous.ParseID(bad); !errors.Is(err, rendezvous.ErrInvalidID) {
			t.Errorf("ParseID(%q) error = %v, want ErrInvalidID", bad, err)
		}
	}
}
