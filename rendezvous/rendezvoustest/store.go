// Package rendezvoustest checks implementations of rendezvous.Store and
// rendezvous.Notifier against the behaviour their interfaces document, in
// the style of testing/fstest.TestFS. Every store runs the same suite.
package rendezvoustest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trystgw/tryst/rendezvous"
)

// Clock is a settable clock for stores under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const ttl = time.Minute

// TestStore checks that a rendezvous.Store implementation behaves as the
// interface documents. newStore must return an empty store reading time
// from now.
func TestStore(t *testing.T, newStore func(t testing.TB, now func() time.Time) rendezvous.Store) {
	setup := func(t *testing.T) (rendezvous.Store, *Clock) {
		t.Helper()
		clock := NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		return newStore(t, clock.Now), clock
	}
	t.Run("GetMissing", func(t *testing.T) {
		s, _ := setup(t)
		if _, err := s.Get(t.Context(), rendezvous.NewID()); !errors.Is(err, rendezvous.ErrNotFound) {
			t.Errorf("Get(missing) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("CreateThenGet", func(t *testing.T) { testCreateThenGet(t, setup) })
	t.Run("PayloadIsCopied", func(t *testing.T) { testPayloadIsCopied(t, setup) })
	t.Run("UpdateUnconditional", func(t *testing.T) { testUpdateUnconditional(t, setup) })
	t.Run("UpdateIfMatch", func(t *testing.T) { testUpdateIfMatch(t, setup) })
	t.Run("RetriedWrite", func(t *testing.T) { testRetriedWrite(t, setup) })
	t.Run("UpdateMissing", func(t *testing.T) {
		s, clock := setup(t)
		_, err := s.Update(t.Context(), rendezvous.Write{ID: rendezvous.NewID(), Payload: []byte("x"), Now: clock.Now()})
		if !errors.Is(err, rendezvous.ErrNotFound) {
			t.Errorf("Update(missing) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("Delete", func(t *testing.T) { testDelete(t, setup) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, setup) })
	t.Run("SlidingExpiry", func(t *testing.T) { testSlidingExpiry(t, setup) })
	t.Run("LimitRefuses", func(t *testing.T) { testLimitRefuses(t, setup) })
	t.Run("LimitEvictsOldest", func(t *testing.T) { testLimitEvictsOldest(t, setup) })
	t.Run("ConcurrentIfMatch", func(t *testing.T) { testConcurrentIfMatch(t, setup) })
	t.Run("Ping", func(t *testing.T) {
		s, _ := setup(t)
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping() = %v, want nil", err)
		}
	})
}

type setupFunc func(t *testing.T) (rendezvous.Store, *Clock)

// NewSession returns a session as rendezvous.Service would create it.
func NewSession(now time.Time, payload string) rendezvous.Session {
	return rendezvous.Session{
		ID: rendezvous.NewID(), Payload: []byte(payload), ContentType: "text/plain",
		Salt: "salt" + string(rendezvous.NewID())[:6], Counter: 1,
		Created: now, Modified: now, Expires: now.Add(ttl),
	}
}

func mustCreate(t *testing.T, s rendezvous.Store, sess rendezvous.Session) {
	t.Helper()
	if _, err := s.Create(t.Context(), sess, rendezvous.Limit{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

func mustUpdate(t *testing.T, s rendezvous.Store, w rendezvous.Write) rendezvous.Session {
	t.Helper()
	got, err := s.Update(t.Context(), w)
	if err != nil {
		t.Fatalf("Update(%q, if-match %q): %v", w.Payload, w.IfMatch, err)
	}
	return got
}

func checkSession(t *testing.T, op string, got, want rendezvous.Session) {
	t.Helper()
	if got.ID != want.ID || !bytes.Equal(got.Payload, want.Payload) || got.ContentType != want.ContentType ||
		got.Version() != want.Version() || !got.Expires.Equal(want.Expires) || !got.Modified.Equal(want.Modified) ||
		!got.Created.Equal(want.Created) {
		t.Errorf("%s = %s, want %s", op, describe(got), describe(want))
	}
}

func describe(s rendezvous.Session) string {
	return fmt.Sprintf("{id %s payload %q type %q version %s created %v modified %v expires %v}",
		s.ID, s.Payload, s.ContentType, s.Version(), s.Created, s.Modified, s.Expires)
}

func testCreateThenGet(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	sess := NewSession(clock.Now(), "hello")
	sess.ContentType = "text/plain;charset=UTF-8"
	mustCreate(t, s, sess)
	got, err := s.Get(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkSession(t, "Get", got, sess)
	if n, err := s.Len(t.Context()); err != nil || n != 1 {
		t.Errorf("Len() = %d, %v, want 1", n, err)
	}
	if _, err := s.Create(t.Context(), sess, rendezvous.Limit{}); err == nil {
		t.Errorf("Create(duplicate id) succeeded, want an error")
	}
}

func testPayloadIsCopied(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	sess := NewSession(clock.Now(), "hello")
	mustCreate(t, s, sess)
	sess.Payload[0] = 'J'
	got, _ := s.Get(t.Context(), sess.ID)
	if string(got.Payload) != "hello" {
		t.Errorf("Get after caller changed its slice = %q, want %q", got.Payload, "hello")
	}
}

func testUpdateUnconditional(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	sess := NewSession(clock.Now(), "same")
	mustCreate(t, s, sess)
	clock.Advance(time.Second)
	seen := map[string]bool{sess.Version(): true}
	for i := range 3 {
		// The same bytes written again must still give a new version.
		got := mustUpdate(t, s, rendezvous.Write{ID: sess.ID, Payload: []byte("same"), ContentType: "text/plain", Now: clock.Now()})
		if seen[got.Version()] {
			t.Errorf("write %d: version %s was already used", i, got.Version())
		}
		seen[got.Version()] = true
		if !got.Modified.Equal(clock.Now()) || !got.Expires.Equal(sess.Expires) {
			t.Errorf("write %d: modified %v expires %v, want %v and unchanged %v", i, got.Modified, got.Expires, clock.Now(), sess.Expires)
		}
	}
}

func testUpdateIfMatch(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	sess := NewSession(clock.Now(), "one")
	mustCreate(t, s, sess)
	two := mustUpdate(t, s, rendezvous.Write{ID: sess.ID, Payload: []byte("two"), ContentType: "application/json", IfMatch: sess.Version(), Now: clock.Now()})
	if string(two.Payload) != "two" || two.ContentType != "application/json" || two.Version() == sess.Version() {
		t.Errorf("Update(if-match current) = %s, want payload two with a new version", describe(two))
	}
	// Stale version with other bytes: conflict, and the current session back.
	got, err := s.Update(t.Context(), rendezvous.Write{ID: sess.ID, Payload: []byte("three"), ContentType: "text/plain", IfMatch: sess.Version(), Now: clock.Now()})
	if !errors.Is(err, rendezvous.ErrConflict) {
		t.Fatalf("Update(stale if-match) error = %v, want ErrConflict", err)
	}
	checkSession(t, "Update(stale if-match) session", got, two)
	got, err = s.Update(t.Context(), rendezvous.Write{ID: sess.ID, Payload: []byte("two"), IfMatch: "bogus-1", Now: clock.Now()})
	if !errors.Is(err, rendezvous.ErrConflict) || got.Version() != two.Version() {
		t.Errorf("Update(unknown if-match) = %s, %v, want version %s and ErrConflict", got.Version(), err, two.Version())
	}
	after, _ := s.Get(t.Context(), sess.ID)
	checkSession(t, "Get after refused writes", after, two)
}

func testRetriedWrite(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	sess := NewSession(clock.Now(), "one")
	mustCreate(t, s, sess)
	w := rendezvous.Write{ID: sess.ID, Payload: []byte("two"), ContentType: "text/plain", IfMatch: sess.Version(), Now: clock.Now()}
	two := mustUpdate(t, s, w)
	// The response was lost; the client sends the same write again.
	clock.Advance(time.Second)
	w.Now = clock.Now()
	again, err := s.Update(t.Context(), w)
	if err != nil {
		t.Fatalf("retried Update error = %v, want nil", err)
	}
	checkSession(t, "retried Update", again, two)
	// The same stale version with other bytes or another type is a conflict.
	for _, other := range []rendezvous.Write{
		{ID: sess.ID, Payload: []byte("TWO"), ContentType: "text/plain", IfMatch: sess.Version(), Now: clock.Now()},
		{ID: sess.ID, Payload: []byte("two"), ContentType: "application/json", IfMatch: sess.Version(), Now: clock.Now()},
	} {
		if _, err := s.Update(t.Context(), other); !errors.Is(err, rendezvous.ErrConflict) {
			t.Errorf("Update(%q %s, stale) error = %v, want ErrConflict", other.Payload, other.ContentType, err)
		}
	}
}

func testDelete(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	sess := NewSession(clock.Now(), "bye")
	mustCreate(t, s, sess)
	if err := s.Delete(t.Context(), sess.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(t.Context(), sess.ID); !errors.Is(err, rendezvous.ErrNotFound) {
		t.Errorf("Get after Delete error = %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), sess.ID); !errors.Is(err, rendezvous.ErrNotFound) {
		t.Errorf("second Delete error = %v, want ErrNotFound", err)
	}
	if n, _ := s.Len(t.Context()); n != 0 {
		t.Errorf("Len after Delete = %d, want 0", n)
	}
}

func testExpiry(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	var ids []rendezvous.ID
	for i := range 3 {
		sess := NewSession(clock.Now(), fmt.Sprint("payload ", i))
		mustCreate(t, s, sess)
		ids = append(ids, sess.ID)
	}
	clock.Advance(ttl - time.Millisecond)
	if _, err := s.Get(t.Context(), ids[0]); err != nil {
		t.Fatalf("Get just before expiry: %v", err)
	}
	clock.Advance(time.Millisecond)
	if _, err := s.Get(t.Context(), ids[0]); !errors.Is(err, rendezvous.ErrNotFound) {
		t.Errorf("Get at expiry error = %v, want ErrNotFound", err)
	}
	if _, err := s.Update(t.Context(), rendezvous.Write{ID: ids[1], Payload: []byte("x"), Now: clock.Now()}); !errors.Is(err, rendezvous.ErrNotFound) {
		t.Errorf("Update after expiry error = %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), ids[2]); !errors.Is(err, rendezvous.ErrNotFound) {
		t.Errorf("Delete after expiry error = %v, want ErrNotFound", err)
	}
	if n, err := s.Len(t.Context()); err != nil || n != 0 {
		t.Errorf("Len after expiry = %d, %v, want 0", n, err)
	}
	total := 0
	for range 2 {
		n, err := s.Reclaim(t.Context())
		if err != nil {
			t.Fatalf("Reclaim: %v", err)
		}
		total += n
	}
	if total != 3 {
		t.Errorf("Reclaim counted %d expired sessions, want 3", total)
	}
}

func testSlidingExpiry(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	sess := NewSession(clock.Now(), "x")
	mustCreate(t, s, sess)
	clock.Advance(ttl / 2)
	mustUpdate(t, s, rendezvous.Write{ID: sess.ID, Payload: []byte("y"), Now: clock.Now(), Expires: clock.Now().Add(ttl)})
	clock.Advance(ttl/2 + time.Second)
	got, err := s.Get(t.Context(), sess.ID)
	if err != nil || string(got.Payload) != "y" {
		t.Errorf("Get after the original expiry of an extended session = %q, %v, want y", got.Payload, err)
	}
}

func testLimitRefuses(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	limit := rendezvous.Limit{Max: 2}
	for i := range 2 {
		if _, err := s.Create(t.Context(), NewSession(clock.Now(), "x"), limit); err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
	}
	extra := NewSession(clock.Now(), "x")
	if _, err := s.Create(t.Context(), extra, limit); !errors.Is(err, rendezvous.ErrFull) {
		t.Errorf("Create over the limit error = %v, want ErrFull", err)
	}
	if _, err := s.Get(t.Context(), extra.ID); !errors.Is(err, rendezvous.ErrNotFound) {
		t.Errorf("refused session exists: Get error = %v", err)
	}
	// Expired sessions do not count toward the limit.
	clock.Advance(ttl)
	if _, err := s.Create(t.Context(), NewSession(clock.Now(), "x"), limit); err != nil {
		t.Errorf("Create after the others expired: %v", err)
	}
}

func testLimitEvictsOldest(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	limit := rendezvous.Limit{Max: 2, EvictOldest: true}
	oldest := NewSession(clock.Now(), "old")
	clock.Advance(time.Second)
	newer := NewSession(clock.Now(), "newer")
	clock.Advance(time.Second)
	newest := NewSession(clock.Now(), "newest")
	for _, sess := range []rendezvous.Session{oldest, newer} {
		if _, err := s.Create(t.Context(), sess, limit); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	evicted, err := s.Create(t.Context(), newest, limit)
	if err != nil || len(evicted) != 1 || evicted[0] != oldest.ID {
		t.Fatalf("Create over the limit = %v, %v, want [%s] evicted", evicted, err, oldest.ID)
	}
	if _, err := s.Get(t.Context(), oldest.ID); !errors.Is(err, rendezvous.ErrNotFound) {
		t.Errorf("Get(evicted) error = %v, want ErrNotFound", err)
	}
	for _, sess := range []rendezvous.Session{newer, newest} {
		if _, err := s.Get(t.Context(), sess.ID); err != nil {
			t.Errorf("Get(kept %s): %v", sess.Payload, err)
		}
	}
}

func testConcurrentIfMatch(t *testing.T, setup setupFunc) {
	s, clock := setup(t)
	sess := NewSession(clock.Now(), "start")
	mustCreate(t, s, sess)
	const writers = 50
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, err := s.Update(t.Context(), rendezvous.Write{ID: sess.ID, Payload: fmt.Appendf(nil, "writer %d", i), IfMatch: sess.Version(), Now: clock.Now()})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, rendezvous.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != writers-1 {
		t.Errorf("concurrent If-Match writers: %d won, %d conflicted, want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
	}
	got, _ := s.Get(t.Context(), sess.ID)
	if got.Counter != 2 {
		t.Errorf("counter after one winning write = %d, want 2", got.Counter)
	}
}
