package ds_test

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// concurrentAdd runs the scenario the DS exists for: in a group of Alice
// and Bob, Alice adds Carol while Bob adds Doris. Exactly one commit is
// accepted; the other is answered wrong_epoch with the current epoch; the
// loser catches up from its queue and recommits; all four members end
// with the same epoch, membership and tree hash. a and b are the
// instances Alice and Bob talk to (the same one, or two on one database).
func concurrentAdd(t *testing.T, a, b *instance, rng *rand.Rand) {
	alice, bob := a.client(t), b.client(t)
	carol, doris := a.client(t), b.client(t)
	gid := a.newGroup(t, alice)
	p := alice.AddCommit(t, bob)
	a.mustOK(t, p.Request)
	alice.Accepted(t, p)
	b.join(t, bob, gid)

	pa, pb := alice.AddCommit(t, carol), bob.AddCommit(t, doris)
	var ra, rb *ds.Response
	var wg sync.WaitGroup
	jitter := func() time.Duration { return time.Duration(rng.IntN(2000)) * time.Microsecond }
	ja, jb := jitter(), jitter()
	wg.Go(func() { time.Sleep(ja); ra = a.send(t, pa.Request) })
	wg.Go(func() { time.Sleep(jb); rb = b.send(t, pb.Request) })
	wg.Wait()

	type side struct {
		in   *instance
		c, j *dstest.Client
		p    *dstest.Pending
		r    *ds.Response
	}
	win, lose := side{a, alice, carol, pa, ra}, side{b, bob, doris, pb, rb}
	if rb.Code == ds.CodeOK {
		win, lose = lose, win
	}
	if win.r.Code != ds.CodeOK || lose.r.Code != ds.CodeWrongEpoch || lose.r.Epoch != 2 {
		t.Fatalf("racing commits answered %s/%d and %s/%d; want one ok and one wrong_epoch at 2",
			ra.Code, ra.Epoch, rb.Code, rb.Epoch)
	}
	win.c.Accepted(t, win.p)
	lose.in.drain(t, lose.c) // the winner's commit
	if lose.c.Group.Epoch() != 2 {
		t.Fatalf("loser at epoch %d after catching up, want 2", lose.c.Group.Epoch())
	}
	retry := lose.c.AddCommit(t, lose.j)
	lose.in.mustOK(t, retry.Request)
	lose.c.Accepted(t, retry)
	win.in.drain(t, win.c)
	win.in.join(t, win.j, gid)
	lose.in.join(t, lose.j, gid)

	want := alice.Group.GroupContext().Marshal()
	for _, c := range []*dstest.Client{alice, bob, carol, doris} {
		g := c.Group
		if g.Epoch() != 3 || g.NumMembers() != 4 || !bytes.Equal(g.GroupContext().Marshal(), want) {
			t.Fatalf("a member is at epoch %d with %d members; group contexts equal: %v",
				g.Epoch(), g.NumMembers(), bytes.Equal(g.GroupContext().Marshal(), want))
		}
	}
}

const concurrentRuns = 100

func TestConcurrentAddSQLite(t *testing.T) {
	in := newSQLite(t)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
	for range concurrentRuns {
		concurrentAdd(t, in, in, rng)
	}
}

// TestConcurrentAddTwoInstancesPostgres runs the scenario with Alice and
// Bob on two instances (separate pools and caches) sharing one database.
func TestConcurrentAddTwoInstancesPostgres(t *testing.T) {
	url := sqlstoretest.PostgresURL(t)
	a, b := newInstance(t, url), newInstance(t, url)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
	for range concurrentRuns {
		concurrentAdd(t, a, b, rng)
	}
	if a.ds.Stats().Restores == 0 || b.ds.Stats().Restores == 0 {
		t.Errorf("restores: %d and %d; each instance should have reloaded groups the other changed",
			a.ds.Stats().Restores, b.ds.Stats().Restores)
	}
}
