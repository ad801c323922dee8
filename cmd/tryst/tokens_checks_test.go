package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushsetup"
	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// checkGateway is the token API wired like runServe, but with the token
// service and the check scheduler on a manual clock, so a test can move
// time and tick the scheduler itself.
type checkGateway struct {
	*testServer
	clock *pushtest.ManualClock
	sched *ntf.Scheduler
}

func newCheckGateway(t *testing.T, fakes *pushFakes) *checkGateway {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), sqlstoretest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.DiscardHandler)
	clock := pushtest.NewManualClock(time.Now())
	router := push.NewRouter(logger)
	d, err := pushsetup.FromFile(t.Context(), logger, fakes.config, push.DispatcherConfig{OnResult: router.Deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	tokens := ntf.NewService(db.Tokens(), masterkey.Generate(), d, logger, ntf.Config{Now: clock.Now})
	if err := tokens.RouteResults(router); err != nil {
		t.Fatal(err)
	}
	rdv := rendezvous.NewService(memstore.NewRendezvous(time.Now), memstore.NewNotifier[rendezvous.ID](), time.Now, rendezvous.Config{})
	srv := httptest.NewServer(handlers.New(handlers.Config{}, handlers.Deps{
		Logger: logger, Rendezvous: rdv, Tokens: tokens, Registry: prometheus.NewRegistry(),
	}))
	t.Cleanup(srv.Close)
	return &checkGateway{
		testServer: &testServer{URL: srv.URL},
		clock:      clock,
		sched:      ntf.NewScheduler(db.Tokens(), d, logger, ntf.SchedulerConfig{Now: clock.Now}),
	}
}

// tick moves the clock by d, runs one scheduler tick and returns how many
// check pushes it queued.
func (g *checkGateway) tick(t *testing.T, d time.Duration) int {
	t.Helper()
	g.clock.Advance(d)
	n, err := g.sched.Tick(t.Context())
	if err != nil {
		t.Fatalf("Tick = %v", err)
	}
	return n
}

// checkPushes counts the check pushes among rs accepted for token.
func checkPushes(rs []pushtest.APNsRequest, token string) int {
	n := 0
	for _, r := range rs {
		if r.Token == token && apnsData(r)[ntf.DataCheckMessages] == true && r.PushType == "background" && r.Status == 200 {
			n++
		}
	}
	return n
}

// TestTokenPeriodicChecks checks that active tokens get their check
// pushes at their interval on a fake clock, and others none.
func TestTokenPeriodicChecks(t *testing.T) {
	fakes := newPushFakes(t)
	g := newCheckGateway(t, fakes)
	active := newDevice("apns", pushtest.APNsToken("checks-active"))
	active.register(t, g.testServer)
	active.verify(t, g.testServer, active.open(t, fakes.verificationData(t, "apns", active.token)))
	unverified := newDevice("apns", pushtest.APNsToken("checks-unverified"))
	unverified.register(t, g.testServer)
	for _, d := range []*device{active, unverified} {
		if status, _ := d.call(t, g.testServer, "PUT", "/checks", `{"interval_minutes":20}`); status != 200 {
			t.Fatalf("PUT checks = %d", status)
		}
	}

	steps := []struct {
		advance time.Duration
		want    int
	}{
		{0, 0}, {19 * time.Minute, 0}, {time.Minute, 1}, {time.Minute, 0}, {19 * time.Minute, 1}, {45 * time.Minute, 1},
	}
	total := 0
	for i, st := range steps {
		if got := g.tick(t, st.advance); got != st.want {
			t.Errorf("step %d (+%v): tick queued %d check pushes, want %d", i, st.advance, got, st.want)
		}
		total += st.want
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := fakes.apns.Wait(ctx, func(rs []pushtest.APNsRequest) bool { return checkPushes(rs, active.token) == total }); err != nil {
		t.Errorf("fake APNs got %d check pushes for the active token, want %d", checkPushes(fakes.apns.Received(), active.token), total)
	}
	if n := checkPushes(fakes.apns.Received(), unverified.token); n != 0 {
		t.Errorf("an unverified token got %d check pushes, want 0", n)
	}

	// A 410 on a check push ends the checks.
	fakes.apns.Script(active.token, pushtest.APNsGone("Unregistered", time.Now()))
	if got := g.tick(t, 20*time.Minute); got != 1 {
		t.Fatalf("tick before the 410 queued %d, want 1", got)
	}
	active.waitStatus(t, g.testServer, "invalid")
	if got := g.tick(t, 20*time.Minute); got != 0 {
		t.Errorf("tick after the token became invalid queued %d, want 0", got)
	}

	// Checks off: nothing more, even for an active token.
	if status, _ := unverified.call(t, g.testServer, "PUT", "/checks", `{"interval_minutes":0}`); status != 200 {
		t.Fatalf("PUT checks 0 = %d", status)
	}
	if got := g.tick(t, 24*time.Hour); got != 0 {
		t.Errorf("tick with checks off queued %d, want 0", got)
	}
}
