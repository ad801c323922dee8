package ntf_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/ntf/ntftest"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

func TestParseTokenID(t *testing.T) {
	id := ntf.NewTokenID()
	if got, err := ntf.ParseTokenID(string(id)); err != nil || got != id {
		t.Errorf("ParseTokenID(new id) = %q, %v", got, err)
	}
	for _, s := range []string{"", "short", string(id) + "A", string(id[:21]) + "=", strings.Repeat("!", 22)} {
		if _, err := ntf.ParseTokenID(s); err == nil {
			t.Errorf("ParseTokenID(%q) succeeded, want an error", s)
		}
	}
}

func TestParseDHKey(t *testing.T) {
	raw := make([]byte, 32)
	raw[0] = 9
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"unpadded", base64.RawURLEncoding.EncodeToString(raw), true},
		{"padded", base64.URLEncoding.EncodeToString(raw), true},
		{"standard alphabet", strings.Repeat("+", 43), false},
		{"31 bytes", base64.RawURLEncoding.EncodeToString(raw[:31]), false},
		{"33 bytes", base64.RawURLEncoding.EncodeToString(append(raw, 1)), false},
		{"all zeros", base64.RawURLEncoding.EncodeToString(make([]byte, 32)), false},
	}
	// The low-order points of Curve25519 (as listed by libsodium), each
	// giving an all-zero shared secret with any key.
	for i, hexKey := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		b, _ := hex.DecodeString(hexKey)
		tests = append(tests, struct {
			name, in string
			ok       bool
		}{fmt.Sprint("low-order point ", i), base64.RawURLEncoding.EncodeToString(b), false})
	}
	for _, tt := range tests {
		if _, err := ntf.ParseDHKey(tt.in); (err == nil) != tt.ok {
			t.Errorf("ParseDHKey(%s) error = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestParseCheckInterval(t *testing.T) {
	tests := []struct {
		minutes int
		want    time.Duration
		ok      bool
	}{
		{0, 0, true}, {20, 20 * time.Minute, true}, {10080, 7 * 24 * time.Hour, true},
		{19, 0, false}, {-20, 0, false}, {10081, 0, false}, {1 << 62, 0, false},
		// 9007199254741012 minutes wrap to 200 minutes when multiplied first.
		{9007199254741012, 0, false}, {-9007199254741012, 0, false}, {math.MaxInt, 0, false}, {math.MinInt, 0, false},
	}
	for _, tt := range tests {
		got, err := ntf.ParseCheckInterval(tt.minutes)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseCheckInterval(%d) = %v, %v; want %v, ok %v", tt.minutes, got, err, tt.want, tt.ok)
		}
	}
}

// queuePusher accepts room pushes, then answers ErrQueueFull.
type queuePusher struct {
	mu   sync.Mutex
	room int
	sent []*push.Notification
}

func (p *queuePusher) Enqueue(_ context.Context, n *push.Notification) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) >= p.room {
		return push.ErrQueueFull
	}
	p.sent = append(p.sent, n)
	return nil
}

// TestSchedulerQueueFull checks that tokens claimed but not queued
// because the push queue was full are retried at the next tick, not
// skipped for a whole period.
func TestSchedulerQueueFull(t *testing.T) {
	db, err := sqlstore.Open(t.Context(), sqlstoretest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		tk := ntftest.NewToken(i)
		tk.Status, tk.CheckInterval, tk.NextCheckAt = ntf.StatusActive, time.Hour, now.Add(-time.Minute)
		if err := db.Tokens().Create(t.Context(), tk); err != nil {
			t.Fatal(err)
		}
	}
	p := &queuePusher{room: 2}
	s := ntf.NewScheduler(db.Tokens(), p, slog.New(slog.DiscardHandler), ntf.SchedulerConfig{Now: func() time.Time { return now }})
	n, err := s.Tick(t.Context())
	if n != 2 || !errors.Is(err, push.ErrQueueFull) {
		t.Fatalf("Tick with room for 2 = %d, %v; want 2 and ErrQueueFull", n, err)
	}
	p.room = 100
	if n, err := s.Tick(t.Context()); n != 3 || err != nil {
		t.Errorf("next Tick = %d, %v; want the 3 left over", n, err)
	}
	for _, sent := range p.sent {
		if sent.Kind != push.Background || !slices.Equal(sent.Flags, []string{ntf.DataCheckMessages}) || sent.DataGroup != ntf.DataGroup {
			t.Errorf("check push = %+v, want background with checkMessages", sent)
		}
	}
	if n, _ := s.Tick(t.Context()); n != 0 {
		t.Errorf("third Tick at the same time = %d, want 0", n)
	}
}

// TestSchedulerExpiresInactiveTokens registers tokens and lets time pass:
// those never verified go after ExpireAfter, in batches, while the
// verified one stays.
func TestSchedulerExpiresInactiveTokens(t *testing.T) {
	db, err := sqlstore.Open(t.Context(), sqlstoretest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p := &queuePusher{room: 100}
	svc := ntf.NewService(db.Tokens(), sealer{}, p, slog.New(slog.DiscardHandler), ntf.Config{Now: clock})
	var appPriv [32]byte
	appPriv[0] = 7
	var ids []ntf.TokenID
	var secrets []ntf.Secret
	for range 7 {
		tk, secret, err := svc.Register(t.Context(), ntf.Registration{Platform: push.APNs, App: "a.b",
			DeviceToken: push.MustParseDeviceToken(push.APNs, strings.Repeat("0f", 32)), DHKey: ntf.PublicKey(appPriv)})
		if err != nil {
			t.Fatal(err)
		}
		ids, secrets = append(ids, tk.ID), append(secrets, secret)
	}
	code, _ := ntf.OpenVerification(p.sent[0].Data, appPriv, mustGet(t, db, ids[0]).ServerPublicKey)
	if _, err := svc.Verify(t.Context(), ntf.Credentials{ID: string(ids[0]), Secret: string(secrets[0])}, code); err != nil {
		t.Fatal(err)
	}
	s := ntf.NewScheduler(db.Tokens(), p, slog.New(slog.DiscardHandler), ntf.SchedulerConfig{Now: clock, ExpireAfter: 72 * time.Hour, ExpireBatch: 2})
	now = now.Add(71 * time.Hour)
	if n, err := s.Expire(t.Context()); n != 0 || err != nil {
		t.Fatalf("Expire before 72h = %d, %v; want 0", n, err)
	}
	now = now.Add(time.Hour)
	if n, err := s.Expire(t.Context()); n != 6 || err != nil {
		t.Fatalf("Expire at 72h = %d, %v; want the 6 unverified tokens", n, err)
	}
	if _, err := svc.Authenticate(t.Context(), ntf.Credentials{ID: string(ids[0]), Secret: string(secrets[0])}); err != nil {
		t.Errorf("the verified token is gone: %v", err)
	}
	if _, err := svc.Authenticate(t.Context(), ntf.Credentials{ID: string(ids[1]), Secret: string(secrets[1])}); !errors.Is(err, ntf.ErrUnknownToken) {
		t.Errorf("an unverified token after 72h: %v, want ErrUnknownToken", err)
	}
}

func mustGet(t *testing.T, db *sqlstore.DB, id ntf.TokenID) ntf.Token {
	t.Helper()
	tk, err := db.Tokens().Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestVerificationPush checks the verification push opens with the app's
// key and the server key given at registration, and not with another.
func TestVerificationPush(t *testing.T) {
	_, p, svc := newTestService(t)
	var appPriv [32]byte
	appPriv[0] = 42
	tk, secret, err := svc.Register(t.Context(), ntf.Registration{Platform: push.APNs, App: "a.b", DeviceToken: push.MustParseDeviceToken(push.APNs, strings.Repeat("0f", 32)), DHKey: ntf.PublicKey(appPriv)})
	if err != nil {
		t.Fatal(err)
	}
	code, err := ntf.OpenVerification(p.sent[0].Data, appPriv, tk.ServerPublicKey)
	if err != nil {
		t.Fatalf("OpenVerification = %v", err)
	}
	var other [32]byte
	other[0], other[1] = 42, 1 // differs after clamping, unlike a change in the low 3 bits
	if _, err := ntf.OpenVerification(p.sent[0].Data, other, tk.ServerPublicKey); err == nil {
		t.Error("the verification push opened with another key")
	}
	got, err := svc.Verify(t.Context(), ntf.Credentials{ID: string(tk.ID), Secret: string(secret)}, code)
	if err != nil || got.Status != ntf.StatusActive {
		t.Errorf("Verify(opened code) = %s, %v; want active", got.Status, err)
	}
}

// newTestService returns a Service over a fresh SQLite database (closed
// at cleanup) whose pushes go to a queuePusher with room for 10.
func newTestService(t *testing.T) (*sqlstore.DB, *queuePusher, *ntf.Service) {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), sqlstoretest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := &queuePusher{room: 10}
	return db, p, ntf.NewService(db.Tokens(), sealer{}, p, slog.New(slog.DiscardHandler), ntf.Config{})
}

// sealer is a Sealer that binds without encrypting, enough for tests of
// the service's own logic.
type sealer struct{}

func (sealer) Seal(p, ad []byte) []byte { return append(append([]byte{}, ad...), p...) }
func (sealer) Open(s, ad []byte) ([]byte, error) {
	if len(s) < len(ad) || string(s[:len(ad)]) != string(ad) {
		return nil, errors.New("wrong ad")
	}
	return s[len(ad):], nil
}

// TestDeadTokenFromAnyOwner checks that results reach the token service
// through a push.Router by owner: an accepted verification push confirms
// the token, and a dead device token reported by a push of another owner
// (an outbox, a client queue) makes the token invalid, while that owner
// still receives its own result.
func TestDeadTokenFromAnyOwner(t *testing.T) {
	db, p, svc := newTestService(t)
	router := push.NewRouter(nil)
	if err := svc.RouteResults(router); err != nil {
		t.Fatal(err)
	}
	var outboxResults []push.Result
	if err := router.Handle("ntf.outbox", func(_ context.Context, r push.Result) { outboxResults = append(outboxResults, r) }); err != nil {
		t.Fatal(err)
	}
	dt := push.MustParseDeviceToken(push.APNs, strings.Repeat("0f", 32))
	tk, _, err := svc.Register(t.Context(), ntf.Registration{Platform: push.APNs, App: "a.b", DeviceToken: dt, DHKey: ntf.PublicKey([32]byte{7})})
	if err != nil {
		t.Fatal(err)
	}
	router.Deliver(push.Result{Notification: p.sent[0]})
	if got, _ := db.Tokens().Get(t.Context(), tk.ID); got.Status != ntf.StatusConfirmed {
		t.Fatalf("status after an accepted verification push = %s, want confirmed", got.Status)
	}
	n := &push.Notification{Owner: push.Owner{Kind: "ntf.outbox", ID: "row-1"}, Registration: string(tk.ID), Token: dt, App: "a.b"}
	router.Deliver(push.Result{Notification: n, Class: push.ClassToken, Reason: push.ReasonUnregistered})
	got, _ := db.Tokens().Get(t.Context(), tk.ID)
	if got.Status != ntf.StatusInvalid || got.InvalidReason != push.ReasonUnregistered {
		t.Errorf("after an outbox push found the token dead: %s %q, want invalid unregistered", got.Status, got.InvalidReason)
	}
	if len(outboxResults) != 1 || outboxResults[0].Notification != n {
		t.Errorf("outbox owner received %d results, want its one", len(outboxResults))
	}
}

// lostKey is a Sealer whose key no longer opens what was sealed: the
// master key was replaced.
type lostKey struct{ sealer }

func (lostKey) Open([]byte, []byte) ([]byte, error) { return nil, errors.New("does not open") }

// TestReplaceWithLostKeyChangesNothing checks that a replace whose new
// code cannot be sealed leaves the token as it was, rather than reset to
// registered with a code no push will ever carry.
func TestReplaceWithLostKeyChangesNothing(t *testing.T) {
	db, err := sqlstore.Open(t.Context(), sqlstoretest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := &queuePusher{room: 10}
	var appPriv [32]byte
	appPriv[0] = 9
	tk, secret, err := ntf.NewService(db.Tokens(), sealer{}, p, slog.New(slog.DiscardHandler), ntf.Config{}).Register(t.Context(),
		ntf.Registration{Platform: push.APNs, App: "a.b", DeviceToken: push.MustParseDeviceToken(push.APNs, strings.Repeat("0f", 32)), DHKey: ntf.PublicKey(appPriv)})
	if err != nil {
		t.Fatal(err)
	}
	before := mustGet(t, db, tk.ID)
	lost := ntf.NewService(db.Tokens(), lostKey{}, p, slog.New(slog.DiscardHandler), ntf.Config{})
	if _, err := lost.Replace(t.Context(), ntf.Credentials{ID: string(tk.ID), Secret: string(secret)}, strings.Repeat("ab", 32)); err == nil {
		t.Fatal("Replace with a server key that does not open succeeded")
	}
	if diff := ntftest.Equal(before, mustGet(t, db, tk.ID)); diff != "" {
		t.Errorf("token changed by a failed replace:\n%s", diff)
	}
	if len(p.sent) != 1 {
		t.Errorf("%d pushes queued, want only the registration's", len(p.sent))
	}
}
