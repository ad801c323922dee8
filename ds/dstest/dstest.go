package dstest

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/qs/qstest"
)

// TestStore checks that a ds.Store behaves as the interface documents.
// newStores must return an empty group store and the queue store of the
// same database (deliveries are written in the group's transaction).
func TestStore(t *testing.T, newStores func(t *testing.T) (ds.Store, qs.Store)) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, newStores) })
	t.Run("UpdateAppliesChange", func(t *testing.T) { testUpdate(t, newStores) })
	t.Run("StaleUpdateChangesNothing", func(t *testing.T) { testStale(t, newStores) })
	t.Run("RacingUpdatesOneWins", func(t *testing.T) { testRace(t, newStores) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStores) })
}

var at = time.UnixMilli(1_700_000_000_000).UTC()

func sampleGroup(id string) ds.Group {
	return ds.Group{
		ID: []byte(id), Version: 1, Epoch: 7, Header: []byte("header"), GroupInfo: []byte("gi"),
		Nodes:   []mls.NodeRecord{{Index: 0, Data: []byte("n0")}, {Index: 1, Data: []byte("n1")}, {Index: 2, Data: []byte("n2")}, {Index: 5, Data: []byte("n5")}},
		Members: []ds.Member{{Leaf: 0, Queue: qs.NewID(), KeyPackageRef: []byte("ref0")}, {Leaf: 1, Queue: qs.NewID(), KeyPackageRef: []byte{}}},
	}
}

func get(t *testing.T, s ds.Store, id []byte) ds.Group {
	t.Helper()
	g, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	return g
}

func testCreateGet(t *testing.T, newStores func(t *testing.T) (ds.Store, qs.Store)) {
	s, _ := newStores(t)
	g := sampleGroup("g1")
	if err := s.Create(t.Context(), g, at); err != nil {
		t.Fatalf("Create = %v", err)
	}
	if diff := cmp.Diff(g, get(t, s, g.ID), cmp.Comparer(bytes.Equal)); diff != "" {
		t.Errorf("Get after Create (-want +got):\n%s", diff)
	}
	if v, e, err := s.Version(t.Context(), g.ID); v != 1 || e != 7 || err != nil {
		t.Errorf("Version = %d, %d, %v; want 1, 7", v, e, err)
	}
	if err := s.Create(t.Context(), sampleGroup("g1"), at); !errors.Is(err, ds.ErrGroupExists) {
		t.Errorf("Create(duplicate) = %v, want ErrGroupExists", err)
	}
	if _, err := s.Get(t.Context(), []byte("nope")); !errors.Is(err, ds.ErrGroupNotFound) {
		t.Errorf("Get(missing) = %v, want ErrGroupNotFound", err)
	}
	if _, _, err := s.Version(t.Context(), []byte("nope")); !errors.Is(err, ds.ErrGroupNotFound) {
		t.Errorf("Version(missing) = %v, want ErrGroupNotFound", err)
	}
}

func testUpdate(t *testing.T, newStores func(t *testing.T) (ds.Store, qs.Store)) {
	s, q := newStores(t)
	g := sampleGroup("g2")
	if err := s.Create(t.Context(), g, at); err != nil {
		t.Fatal(err)
	}
	qa, qb := qstest.NewQueue(t, q, ""), qstest.NewQueue(t, q, "")
	c := ds.Change{GroupID: g.ID, Version: 1, Epoch: 8, Header: []byte("h2"), GroupInfo: []byte("gi2"),
		Tree:          &mls.TreeChanges{Width: 5, Put: []mls.NodeRecord{{Index: 1, Data: []byte("n1'")}, {Index: 4, Data: []byte("n4")}}, Delete: []mls.NodeIndex{2}},
		PutMembers:    []ds.Member{{Leaf: 2, Queue: qa.ID, KeyPackageRef: []byte("ref2")}},
		DeleteMembers: []uint32{1}, AddProposal: []byte("p1"),
		Deliveries: []ds.Delivery{{Queues: []qs.ID{qa.ID, qb.ID, qs.NewID()}, Data: []byte("commit")}, {Queues: []qs.ID{qa.ID}, Data: []byte("welcome")}},
	}
	got, err := s.Update(t.Context(), c, at)
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	slices.Sort(got)
	want := []qs.ID{qa.ID, qb.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Update delivered to %v, want %v", got, want)
	}
	after := get(t, s, g.ID)
	wantNodes := []mls.NodeRecord{{Index: 0, Data: []byte("n0")}, {Index: 1, Data: []byte("n1'")}, {Index: 4, Data: []byte("n4")}}
	if diff := cmp.Diff(wantNodes, after.Nodes); diff != "" {
		t.Errorf("nodes after Update (-want +got):\n%s", diff)
	}
	wantMembers := []ds.Member{g.Members[0], c.PutMembers[0]}
	if diff := cmp.Diff(wantMembers, after.Members); diff != "" {
		t.Errorf("members after Update (-want +got):\n%s", diff)
	}
	if after.Version != 2 || after.Epoch != 8 || string(after.Header) != "h2" || string(after.GroupInfo) != "gi2" ||
		len(after.Proposals) != 1 || string(after.Proposals[0]) != "p1" {
		t.Errorf("after Update: version %d epoch %d header %q gi %q proposals %q", after.Version, after.Epoch, after.Header, after.GroupInfo, after.Proposals)
	}
	msgs, err := q.Fetch(t.Context(), qa.ID, 0, 10)
	if err != nil || len(msgs) != 2 || string(msgs[0].Data) != "commit" || string(msgs[1].Data) != "welcome" {
		t.Errorf("queue a holds %v, %v; want commit, welcome", msgs, err)
	}
	// A second change keeps what it does not name and clears proposals.
	c2 := ds.Change{GroupID: g.ID, Version: 2, Epoch: 8, AddProposal: []byte("p2"), ClearProposals: true}
	if _, err := s.Update(t.Context(), c2, at); err != nil {
		t.Fatal(err)
	}
	after2 := get(t, s, g.ID)
	if string(after2.Header) != "h2" || len(after2.Nodes) != 3 || len(after2.Proposals) != 1 || string(after2.Proposals[0]) != "p2" {
		t.Errorf("after a header-less change: header %q, %d nodes, proposals %q", after2.Header, len(after2.Nodes), after2.Proposals)
	}
}

func testStale(t *testing.T, newStores func(t *testing.T) (ds.Store, qs.Store)) {
	s, q := newStores(t)
	g := sampleGroup("g3")
	if err := s.Create(t.Context(), g, at); err != nil {
		t.Fatal(err)
	}
	qa := qstest.NewQueue(t, q, "")
	c := ds.Change{GroupID: g.ID, Version: 5, Epoch: 9, Header: []byte("x"), PutMembers: []ds.Member{{Leaf: 9, Queue: qa.ID}},
		Deliveries: []ds.Delivery{{Queues: []qs.ID{qa.ID}, Data: []byte("lost")}}}
	if _, err := s.Update(t.Context(), c, at); !errors.Is(err, ds.ErrConflict) {
		t.Fatalf("Update(stale) = %v, want ErrConflict", err)
	}
	if diff := cmp.Diff(g, get(t, s, g.ID), cmp.Comparer(bytes.Equal)); diff != "" {
		t.Errorf("stale Update changed the group (-want +got):\n%s", diff)
	}
	if msgs, _ := q.Fetch(t.Context(), qa.ID, 0, 10); len(msgs) != 0 {
		t.Errorf("stale Update delivered %d messages", len(msgs))
	}
	c.GroupID = []byte("missing")
	if _, err := s.Update(t.Context(), c, at); !errors.Is(err, ds.ErrConflict) {
		t.Errorf("Update(missing group) = %v, want ErrConflict", err)
	}
}

func testRace(t *testing.T, newStores func(t *testing.T) (ds.Store, qs.Store)) {
	s, _ := newStores(t)
	g := sampleGroup("g4")
	if err := s.Create(t.Context(), g, at); err != nil {
		t.Fatal(err)
	}
	const racers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []int
	for i := range racers {
		wg.Go(func() {
			c := ds.Change{GroupID: g.ID, Version: 1, Epoch: 8, Header: []byte{byte(i)}}
			_, err := s.Update(t.Context(), c, at)
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, i)
				mu.Unlock()
			case !errors.Is(err, ds.ErrConflict):
				t.Errorf("racing Update = %v", err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d of %d racing updates won, want 1", len(won), racers)
	}
	if after := get(t, s, g.ID); after.Version != 2 || !bytes.Equal(after.Header, []byte{byte(won[0])}) {
		t.Errorf("after the race: version %d header %x, want 2 and the winner's %x", after.Version, after.Header, won[0])
	}
}

func testDelete(t *testing.T, newStores func(t *testing.T) (ds.Store, qs.Store)) {
	s, _ := newStores(t)
	g := sampleGroup("g5")
	if err := s.Create(t.Context(), g, at); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), g.ID, 3); !errors.Is(err, ds.ErrConflict) {
		t.Errorf("Delete(stale version) = %v, want ErrConflict", err)
	}
	if err := s.Delete(t.Context(), g.ID, 1); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := s.Get(t.Context(), g.ID); !errors.Is(err, ds.ErrGroupNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrGroupNotFound", err)
	}
	// The id is free again, with no leftovers.
	g.Nodes, g.Members = nil, nil
	if err := s.Create(t.Context(), g, at); err != nil {
		t.Fatal(err)
	}
	if again := get(t, s, g.ID); len(again.Nodes) != 0 || len(again.Members) != 0 {
		t.Errorf("recreated group has %d nodes and %d members from before", len(again.Nodes), len(again.Members))
	}
}
