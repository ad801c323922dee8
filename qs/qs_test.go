package qs_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// tokens is a fake token service holding one active token.
type tokens struct{ tok ntf.Token }

func (f tokens) Authenticate(_ context.Context, c ntf.Credentials) (ntf.Token, error) {
	if c.ID != string(f.tok.ID) || c.Secret != "right" {
		return ntf.Token{}, ntf.ErrUnknownToken
	}
	return f.tok, nil
}

func (f tokens) Get(_ context.Context, id ntf.TokenID) (ntf.Token, error) {
	if id != f.tok.ID {
		return ntf.Token{}, ntf.ErrTokenNotFound
	}
	return f.tok, nil
}

type pusher struct {
	mu   sync.Mutex
	sent []*push.Notification
}

func (p *pusher) Enqueue(_ context.Context, n *push.Notification) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, n)
	return nil
}

func (p *pusher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

func newService(t *testing.T) (*qs.Service, *pusher) {
	svc, p, _ := newLinkedService(t)
	return svc, p
}

// newLinkedService also returns the id of the fake's active token.
func newLinkedService(t *testing.T) (*qs.Service, *pusher, ntf.TokenID) {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), sqlstoretest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dt, err := push.ParseDeviceToken(push.APNs, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	p := &pusher{}
	tok := ntf.Token{ID: ntf.NewTokenID(), Status: ntf.StatusActive, DeviceToken: dt, App: "app"}
	svc := qs.NewService(db.Queues(), memstore.NewNotifier[qs.ID](), tokens{tok}, p, slog.New(slog.DiscardHandler), qs.Config{})
	return svc, p, tok.ID
}

func TestAuthenticate(t *testing.T) {
	svc, _ := newService(t)
	q, secret, err := svc.Create(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []qs.Credentials{{ID: string(q.ID), Secret: "wrong"}, {ID: "short", Secret: string(secret)}, {ID: string(qs.NewID()), Secret: string(secret)}, {ID: string(q.ID)}} {
		if _, err := svc.Authenticate(t.Context(), c); !errors.Is(err, qs.ErrUnknownQueue) {
			t.Errorf("Authenticate(%+v) = %v, want ErrUnknownQueue", c, err)
		}
	}
	if got, err := svc.Authenticate(t.Context(), qs.Credentials{ID: string(q.ID), Secret: string(secret)}); err != nil || got.ID != q.ID {
		t.Errorf("Authenticate(right) = %v, %v", got.ID, err)
	}
}

func TestFetchWaitEnds(t *testing.T) {
	svc, _ := newService(t)
	q, secret, _ := svc.Create(t.Context(), nil)
	c := qs.Credentials{ID: string(q.ID), Secret: string(secret)}
	msgs, err := svc.Fetch(t.Context(), c, 0, 20*time.Millisecond)
	if err != nil || msgs == nil || len(msgs) != 0 {
		t.Errorf("Fetch after the wait = %v, %v; want an empty list", msgs, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := svc.Fetch(ctx, c, 0, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestLinkAndWakeUp(t *testing.T) {
	svc, p, tokenID := newLinkedService(t)
	if _, _, err := svc.Create(t.Context(), &ntf.Credentials{ID: "x", Secret: "right"}); !errors.Is(err, ntf.ErrUnknownToken) {
		t.Errorf("Create(unknown token) = %v, want ntf.ErrUnknownToken", err)
	}
	q, secret, err := svc.Create(t.Context(), &ntf.Credentials{ID: string(tokenID), Secret: "right"})
	if err != nil || q.Token == "" {
		t.Fatalf("Create(linked) = %+v, %v", q, err)
	}
	rt := push.NewRouter(nil)
	if err := svc.RouteResults(rt); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := svc.Deliver(t.Context(), []qs.ID{q.ID}, "", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	if p.count() != 1 {
		t.Fatalf("%d pushes for 3 messages without a fetch, want 1", p.count())
	}
	n := p.sent[0]
	if n.Owner != (push.Owner{Kind: qs.OwnerWakeUp, ID: string(q.ID)}) || n.Registration == "" || n.Data["queue"] != string(q.ID) {
		t.Errorf("wake-up push = owner %v registration %q data %v", n.Owner, n.Registration, n.Data)
	}
	// A failed push releases the claim: the next message pushes again.
	rt.Deliver(push.Result{Notification: n, Err: errors.New("provider down"), Class: push.ClassRetryable})
	svc.Deliver(t.Context(), []qs.ID{q.ID}, "", []byte("m"))
	if p.count() != 2 {
		t.Errorf("after a failed push, %d pushes, want 2", p.count())
	}
	// A fetch releases it too.
	svc.Fetch(t.Context(), qs.Credentials{ID: string(q.ID), Secret: string(secret)}, 0, 0)
	svc.Deliver(t.Context(), []qs.ID{q.ID}, "", []byte("m"))
	if p.count() != 3 {
		t.Errorf("after a fetch, %d pushes, want 3", p.count())
	}
}
