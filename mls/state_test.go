package mls

import (
	"bytes"
	"testing"
)

// recordStore applies TreeChanges the way a database would.
type recordStore map[NodeIndex][]byte

func (s recordStore) apply(ch TreeChanges) {
	for x := range s {
		if uint32(x) >= ch.Width {
			delete(s, x)
		}
	}
	for _, x := range ch.Delete {
		delete(s, x)
	}
	for _, r := range ch.Put {
		s[r.Index] = r.Data
	}
}

func (s recordStore) records() []NodeRecord {
	var out []NodeRecord
	for x, d := range s {
		out = append(out, NodeRecord{Index: x, Data: d})
	}
	return out
}

func TestRestoreFollowsCommits(t *testing.T) {
	s := newSimGroup(t, 1, 40)
	store := recordStore{}
	for _, r := range s.g.NodeRecords() {
		store[r.Index] = r.Data
	}
	header := s.g.MarshalHeader()
	commits := []func() ([]byte, *SigningKey){
		func() ([]byte, *SigningKey) { return s.addCommit(t, 3) },
		func() ([]byte, *SigningKey) { return s.updateCommit(t, 5), nil },
		func() ([]byte, *SigningKey) { return s.removeCommit(t, 2, 39), nil },
		func() ([]byte, *SigningKey) { return s.removeCommit(t, 2, 38), nil },
		func() ([]byte, *SigningKey) { return s.addCommit(t, 7) },
	}
	for i, mk := range commits {
		b, key := mk()
		m, err := DecodeMLSMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := s.g.StageCommit(m)
		if err != nil {
			t.Fatalf("commit %d: StageCommit = %v", i, err)
		}
		ch := sc.TreeChanges()
		if len(ch.Put)+len(ch.Delete) > 40 {
			t.Errorf("commit %d changes %d+%d records, want O(log n)", i, len(ch.Put), len(ch.Delete))
		}
		store.apply(ch)
		header = sc.MarshalHeader()
		if err := s.g.Merge(sc); err != nil {
			t.Fatal(err)
		}
		for _, l := range sc.Added {
			s.keys[l] = key
		}
		for _, l := range sc.Removed {
			delete(s.keys, l)
		}
		r, err := RestorePublicGroup(header, store.records())
		if err != nil {
			t.Fatalf("commit %d: RestorePublicGroup = %v", i, err)
		}
		if !bytes.Equal(r.GroupContext().Marshal(), s.g.GroupContext().Marshal()) {
			t.Errorf("commit %d: restored GroupContext differs", i)
		}
		if !r.Tree().Equal(s.g.Tree()) || !bytes.Equal(r.Tree().TreeHash(), s.g.ctx.TreeHash) {
			t.Errorf("commit %d: restored tree differs", i)
		}
		if r.tree.hashOps != 0 {
			t.Errorf("commit %d: restore hashed %d nodes, want 0", i, r.tree.hashOps)
		}
		if l, ok := r.LeafBySignatureKey(s.keys[3].PublicKey()); !ok || l != 3 {
			t.Errorf("LeafBySignatureKey(leaf 3) = %d, %v", l, ok)
		}
	}
	// The restored group accepts the next commit.
	r, err := RestorePublicGroup(header, store.records())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := DecodeMLSMessage(s.updateCommit(t, 9))
	if _, err := r.StageCommit(m); err != nil {
		t.Errorf("restored group: StageCommit = %v", err)
	}
}

func TestRestoreRejectsGarbage(t *testing.T) {
	s := newSimGroup(t, 1, 4)
	h := s.g.MarshalHeader()
	if _, err := RestorePublicGroup(h[:len(h)-1], s.g.NodeRecords()); err == nil {
		t.Error("truncated header accepted")
	}
	recs := s.g.NodeRecords()
	recs[0].Index = 1 // a leaf record at a parent position
	if _, err := RestorePublicGroup(h, recs); err == nil {
		t.Error("leaf at parent position accepted")
	}
}
