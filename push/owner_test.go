package push_test

import (
	"context"
	"sync"
	"testing"

	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushtest"
)

// ownerLog records the results a handler received, by owner id.
type ownerLog struct {
	mu   sync.Mutex
	seen map[string]push.Result
}

func (l *ownerLog) handle(_ context.Context, r push.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[r.Notification.Owner.String()] = r
}

func (l *ownerLog) got() map[string]push.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]push.Result, len(l.seen))
	for k, v := range l.seen {
		out[k] = v
	}
	return out
}

// TestRouterEveryKindReachesItsOwner sends, through a real dispatcher,
// notifications of three owner kinds (as tokens, an outbox and client
// queues would), one delivered and one to a dead token each, and checks
// that every result reaches its own kind's handler and only that, and
// that the dead-token handler sees the dead tokens of every kind.
func TestRouterEveryKindReachesItsOwner(t *testing.T) {
	kinds := []push.OwnerKind{"ntf.verify", "ntf.outbox", "qs.queue"}
	rec := pushtest.NewRecorder("rec")
	router := push.NewRouter(nil)
	owners := map[push.OwnerKind]*ownerLog{}
	for _, k := range kinds {
		owners[k] = &ownerLog{seen: map[string]push.Result{}}
		if err := router.Handle(k, owners[k].handle); err != nil {
			t.Fatal(err)
		}
	}
	dead := &ownerLog{seen: map[string]push.Result{}}
	router.HandleDeadTokens(dead.handle)
	c := newCollector()
	d, err := push.NewDispatcher(nil, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: rec}, push.DispatcherConfig{
		OnResult: func(r push.Result) { router.Deliver(r); c.add(r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		for _, outcome := range []string{"ok", "dead"} {
			n := apnsNote(string(k) + outcome)
			n.Owner, n.Registration = push.Owner{Kind: k, ID: outcome}, "registration-"+string(k)
			if outcome == "dead" {
				rec.Script(n.Token.String(), push.TokenError(push.ReasonUnregistered, "test", "Unregistered", 410))
			}
			if err := d.Enqueue(t.Context(), n); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.wait(t, 2*len(kinds))
	closeNow(t, d)
	for _, k := range kinds {
		got := owners[k].got()
		if len(got) != 2 || !got[string(k)+"/ok"].OK() || !got[string(k)+"/dead"].TokenDead() {
			t.Errorf("owner %s received %v, want its own ok and dead results", k, keys(got))
		}
		if r, ok := dead.got()[string(k)+"/dead"]; !ok || r.Notification.Registration != "registration-"+string(k) {
			t.Errorf("dead-token handler did not receive the dead token of %s (got %v)", k, keys(dead.got()))
		}
	}
	if n := len(dead.got()); n != len(kinds) {
		t.Errorf("dead-token handler received %d results, want %d (the dead ones only)", n, len(kinds))
	}
	if router.Unrouted() != 0 {
		t.Errorf("Unrouted = %d, want 0", router.Unrouted())
	}
}

func keys(m map[string]push.Result) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRouterUnroutedAndDeadWithoutOwner checks that a result of a kind
// with no handler is counted, not silently dropped, and that a dead token
// still reaches the dead-token handler whoever sent it.
func TestRouterUnroutedAndDeadWithoutOwner(t *testing.T) {
	router := push.NewRouter(nil)
	dead := &ownerLog{seen: map[string]push.Result{}}
	router.HandleDeadTokens(dead.handle)
	n := apnsNote("x")
	n.Owner, n.Registration = push.Owner{Kind: "unknown", ID: "1"}, "reg"
	router.Deliver(push.Result{Notification: n, Class: push.ClassToken, Reason: push.ReasonBadToken})
	router.Deliver(push.Result{Notification: apnsNote("y")})
	if router.Unrouted() != 2 {
		t.Errorf("Unrouted = %d, want 2", router.Unrouted())
	}
	if _, ok := dead.got()["unknown/1"]; !ok {
		t.Error("dead token of an unrouted owner did not reach the dead-token handler")
	}
}

func TestRouterHandleErrors(t *testing.T) {
	router := push.NewRouter(nil)
	h := func(context.Context, push.Result) {}
	for _, tc := range []struct {
		kind push.OwnerKind
		h    push.ResultHandler
	}{{"", h}, {"k", nil}} {
		if err := router.Handle(tc.kind, tc.h); err == nil {
			t.Errorf("Handle(%q, nil handler %v) accepted", tc.kind, tc.h == nil)
		}
	}
	if err := router.Handle("k", h); err != nil || !router.Handles("k") {
		t.Fatalf("Handle(k) = %v, Handles = %v", err, router.Handles("k"))
	}
	if err := router.Handle("k", h); err == nil {
		t.Error("a kind registered twice was accepted")
	}
}
