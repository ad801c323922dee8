// Package ntftest is the conformance suite for ntf.TokenStore implementations,
// with helpers to build tokens for tests.
package ntftest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
)

// epoch is a fixed, millisecond-aligned start time for tokens in tests.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

// NewToken returns a registered token with a fresh id, random keys and
// hashes, and times at the given offset from a fixed epoch.
func NewToken(seed int) ntf.Token {
	at := epoch.Add(time.Duration(seed) * time.Second)
	return ntf.Token{
		ID: ntf.NewTokenID(), Platform: push.APNs, App: "com.example.app", Environment: push.Development,
		DeviceToken: push.MustParseDeviceToken(push.APNs, fmt.Sprintf("%064x", seed+1)),
		DHKey:       ntf.DHKey{1, byte(seed)}, ServerPublicKey: ntf.DHKey{2, byte(seed)},
		ServerKeySealed: []byte(fmt.Sprintf("sealed-%d", seed)),
		SecretHash:      ntf.NewSecret().Hash(), CodeHash: ntf.NewSecret().Hash(),
		Status: ntf.StatusRegistered, CreatedAt: at, UpdatedAt: at,
	}
}

// Equal reports the first difference between two tokens, comparing times
// to the millisecond; "" when they are equal.
func Equal(want, got ntf.Token) string {
	norm := func(t ntf.Token) ntf.Token {
		for _, p := range []*time.Time{&t.NextCheckAt, &t.CreatedAt, &t.UpdatedAt} {
			if !p.IsZero() {
				*p = time.UnixMilli(p.UnixMilli()).UTC()
			}
		}
		return t
	}
	w, g := norm(want), norm(got)
	if fmt.Sprint(w) != fmt.Sprint(g) {
		return fmt.Sprintf("got  %+v\nwant %+v", g, w)
	}
	return ""
}

// TestTokenStore checks that an ntf.TokenStore behaves as the interface documents.
// newStore must return an empty store.
func TestTokenStore(t *testing.T, newStore func(t *testing.T) ntf.TokenStore) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, newStore(t)) })
	t.Run("CreateDuplicate", func(t *testing.T) { testCreateDuplicate(t, newStore(t)) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, newStore(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, newStore(t)) })
	t.Run("UpdateAborted", func(t *testing.T) { testUpdateAborted(t, newStore(t)) })
	t.Run("UpdateConcurrent", func(t *testing.T) { testUpdateConcurrent(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("ClaimDue", func(t *testing.T) { testClaimDue(t, newStore(t)) })
	t.Run("ClaimDueConcurrent", func(t *testing.T) { testClaimDueConcurrent(t, newStore(t)) })
	t.Run("DeleteInactive", func(t *testing.T) { testDeleteInactive(t, newStore(t)) })
}

// testDeleteInactive deletes old tokens that are not active, oldest
// first and limit at a time, and keeps active and recent ones.
func testDeleteInactive(t *testing.T, s ntf.TokenStore) {
	var old []ntf.Token
	for i, st := range []ntf.Status{ntf.StatusRegistered, ntf.StatusConfirmed, ntf.StatusInvalid} {
		tk := NewToken(i)
		tk.Status = st
		create(t, s, tk)
		old = append(old, tk)
	}
	active := activeWithChecks(3)
	create(t, s, active)
	recent := NewToken(20)
	create(t, s, recent)
	before := epoch.Add(10 * time.Second)
	for _, want := range []int{2, 1, 0} {
		n, err := s.DeleteInactive(t.Context(), before, 2)
		if err != nil || n != want {
			t.Fatalf("DeleteInactive(limit 2) = %d, %v; want %d", n, err, want)
		}
		if want == 2 { // the two oldest went first
			for _, tk := range old[:2] {
				if _, err := s.Get(t.Context(), tk.ID); !errors.Is(err, ntf.ErrTokenNotFound) {
					t.Errorf("token updated at +%v still there after the first batch: %v", tk.UpdatedAt.Sub(epoch), err)
				}
			}
		}
	}
	for _, tk := range []ntf.Token{active, recent} {
		if _, err := s.Get(t.Context(), tk.ID); err != nil {
			t.Errorf("%s token deleted: %v", tk.Status, err)
		}
	}
}

func create(t *testing.T, s ntf.TokenStore, tk ntf.Token) {
	t.Helper()
	if err := s.Create(t.Context(), tk); err != nil {
		t.Fatalf("Create(%s) = %v", tk.ID, err)
	}
}

func testCreateGet(t *testing.T, s ntf.TokenStore) {
	for i, tk := range []ntf.Token{NewToken(1), fcmToken(2), activeWithChecks(3)} {
		create(t, s, tk)
		got, err := s.Get(t.Context(), tk.ID)
		if err != nil {
			t.Fatalf("Get(%d) = %v", i, err)
		}
		if d := Equal(tk, got); d != "" {
			t.Errorf("Get(%d) after Create differs:\n%s", i, d)
		}
	}
}

func fcmToken(seed int) ntf.Token {
	tk := NewToken(seed)
	tk.Platform, tk.Environment = push.FCM, push.Production
	tk.DeviceToken = push.MustParseDeviceToken(push.FCM, fmt.Sprintf("fcm:token-%d_abcdefghijklmnop", seed))
	tk.Status, tk.InvalidReason = ntf.StatusInvalid, push.ReasonUnregistered
	return tk
}

func activeWithChecks(seed int) ntf.Token {
	tk := NewToken(seed)
	tk.Status, tk.FailedAttempts, tk.CheckInterval = ntf.StatusActive, 2, 20*time.Minute
	tk.NextCheckAt = tk.CreatedAt.Add(tk.CheckInterval)
	return tk
}

func testCreateDuplicate(t *testing.T, s ntf.TokenStore) {
	tk := NewToken(1)
	create(t, s, tk)
	other := NewToken(2)
	other.ID = tk.ID
	if err := s.Create(t.Context(), other); !errors.Is(err, ntf.ErrTokenExists) {
		t.Errorf("Create(duplicate id) = %v, want ErrExists", err)
	}
	if got, _ := s.Get(t.Context(), tk.ID); Equal(tk, got) != "" {
		t.Errorf("a refused Create changed the stored token:\n%s", Equal(tk, got))
	}
}

func testMissing(t *testing.T, s ntf.TokenStore) {
	id := ntf.NewTokenID()
	if _, err := s.Get(t.Context(), id); !errors.Is(err, ntf.ErrTokenNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Update(t.Context(), id, func(*ntf.Token) error { return nil }); !errors.Is(err, ntf.ErrTokenNotFound) {
		t.Errorf("Update(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), id); !errors.Is(err, ntf.ErrTokenNotFound) {
		t.Errorf("Delete(missing) = %v, want ErrNotFound", err)
	}
}

func testUpdate(t *testing.T, s ntf.TokenStore) {
	tk := NewToken(1)
	create(t, s, tk)
	want := activeWithChecks(9)
	want.ID, want.CreatedAt = tk.ID, tk.CreatedAt
	want.DeviceToken = push.MustParseDeviceToken(push.APNs, fmt.Sprintf("%066x", 7))
	got, err := s.Update(t.Context(), tk.ID, func(p *ntf.Token) error {
		if d := Equal(tk, *p); d != "" {
			t.Errorf("Update handed fn a token that differs from the stored one:\n%s", d)
		}
		*p = want
		return nil
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	if d := Equal(want, got); d != "" {
		t.Errorf("Update returned:\n%s", d)
	}
	if stored, _ := s.Get(t.Context(), tk.ID); Equal(want, stored) != "" {
		t.Errorf("Get after Update:\n%s", Equal(want, stored))
	}
	// Back to no check: a zero NextCheckAt must stay zero.
	got, err = s.Update(t.Context(), tk.ID, func(p *ntf.Token) error {
		p.NextCheckAt, p.CheckInterval, p.Status, p.InvalidReason = time.Time{}, 0, ntf.StatusInvalid, push.ReasonBadToken
		return nil
	})
	if err != nil || !got.NextCheckAt.IsZero() || got.InvalidReason != push.ReasonBadToken {
		t.Errorf("Update(clear checks) = %+v, %v; want zero NextCheckAt, reason bad_token", got, err)
	}
}

func testUpdateAborted(t *testing.T, s ntf.TokenStore) {
	tk := NewToken(1)
	create(t, s, tk)
	stop := errors.New("stop")
	_, err := s.Update(t.Context(), tk.ID, func(p *ntf.Token) error {
		p.Status = ntf.StatusActive
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Update(fn fails) = %v, want fn's error", err)
	}
	if got, _ := s.Get(t.Context(), tk.ID); got.Status != ntf.StatusRegistered {
		t.Errorf("status after an aborted Update = %q, want registered", got.Status)
	}
}

func testUpdateConcurrent(t *testing.T, s ntf.TokenStore) {
	tk := NewToken(1)
	create(t, s, tk)
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.Update(t.Context(), tk.ID, func(p *ntf.Token) error {
				p.FailedAttempts++
				return nil
			})
			if err != nil {
				t.Errorf("concurrent Update = %v", err)
			}
		})
	}
	wg.Wait()
	if got, _ := s.Get(t.Context(), tk.ID); got.FailedAttempts != n {
		t.Errorf("FailedAttempts after %d concurrent increments = %d, want %d (lost updates)", n, got.FailedAttempts, n)
	}
}

func testDelete(t *testing.T, s ntf.TokenStore) {
	a, b := NewToken(1), NewToken(2)
	create(t, s, a)
	create(t, s, b)
	if err := s.Delete(t.Context(), a.ID); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := s.Get(t.Context(), a.ID); !errors.Is(err, ntf.ErrTokenNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(t.Context(), b.ID); err != nil {
		t.Errorf("Get(other) after Delete = %v, want it kept", err)
	}
}

func testClaimDue(t *testing.T, s ntf.TokenStore) {
	now := epoch.Add(time.Hour)
	var due []ntf.Token
	for i := range 5 {
		tk := activeWithChecks(i)
		tk.NextCheckAt = now.Add(-time.Duration(5-i) * time.Minute) // earliest first: 0..4
		create(t, s, tk)
		due = append(due, tk)
	}
	later := activeWithChecks(10)
	later.NextCheckAt = now.Add(time.Millisecond)
	create(t, s, later)
	create(t, s, NewToken(11)) // no checks

	got, err := s.ClaimDue(t.Context(), now, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("ClaimDue(limit 3) = %d tokens, %v; want 3", len(got), err)
	}
	for i, tk := range got {
		if tk.ID != due[i].ID {
			t.Errorf("ClaimDue[%d] = %s, want %s (earliest first)", i, tk.ID, due[i].ID)
		}
	}
	rest, err := s.ClaimDue(t.Context(), now, 10)
	if err != nil || len(rest) != 2 || rest[0].ID != due[3].ID || rest[1].ID != due[4].ID {
		t.Errorf("second ClaimDue = %d tokens, %v; want the 2 remaining due", len(rest), err)
	}
	if again, _ := s.ClaimDue(t.Context(), now, 10); len(again) != 0 {
		t.Errorf("third ClaimDue at the same time = %d tokens, want 0", len(again))
	}
	stored, _ := s.Get(t.Context(), due[0].ID)
	if want := now.Add(due[0].CheckInterval); stored.NextCheckAt.UnixMilli() != want.UnixMilli() {
		t.Errorf("NextCheckAt after claim = %v, want now+interval %v", stored.NextCheckAt, want)
	}
	if next, _ := s.ClaimDue(t.Context(), now.Add(time.Millisecond), 10); len(next) != 1 || next[0].ID != later.ID {
		t.Errorf("ClaimDue a millisecond later = %d tokens, want only the one then due", len(next))
	}
}

func testClaimDueConcurrent(t *testing.T, s ntf.TokenStore) {
	now := epoch.Add(time.Hour)
	const n = 60
	for i := range n {
		tk := activeWithChecks(i)
		tk.NextCheckAt = now.Add(-time.Minute)
		create(t, s, tk)
	}
	var mu sync.Mutex
	seen := map[ntf.TokenID]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				got, err := s.ClaimDue(t.Context(), now, 7)
				if err != nil {
					t.Errorf("concurrent ClaimDue = %v", err)
					return
				}
				mu.Lock()
				for _, tk := range got {
					seen[tk.ID]++
				}
				mu.Unlock()
				if len(got) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("concurrent claimers saw %d tokens, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("token %s claimed %d times, want once", id, c)
		}
	}
}
