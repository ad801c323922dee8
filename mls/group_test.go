package mls

import (
	"bytes"
	"errors"
	"testing"
)

func TestSimGroupCommits(t *testing.T) {
	for _, cs := range []CipherSuite{1, 2, 4} {
		s := newSimGroup(t, cs, 13)
		// update path from several members
		for _, c := range []LeafIndex{0, 5, 12} {
			s.apply(t, s.updateCommit(t, c), nil)
		}
		// add then remove
		b, sk := s.addCommit(t, 3)
		sc := s.apply(t, b, sk)
		if len(sc.Added) != 1 || sc.Added[0] != 13 || s.g.tree.NumMembers() != 14 {
			t.Fatalf("add: %v members %d", sc.Added, s.g.tree.NumMembers())
		}
		s.apply(t, s.updateCommit(t, 13), nil)
		s.apply(t, s.removeCommit(t, 0, 13), nil)
		s.apply(t, s.removeCommit(t, 0, 12), nil)
		if s.g.Epoch() != 7 || s.g.tree.NumMembers() != 12 {
			t.Fatalf("epoch %d members %d", s.g.Epoch(), s.g.tree.NumMembers())
		}
		// The tree stays valid and hashes cached correctly.
		if err := s.g.tree.Validate(s.g.GroupID(), nil); err != nil {
			t.Fatal(err)
		}
		fresh, _ := DecodeRatchetTree(cs, s.g.tree.Marshal())
		if !bytes.Equal(fresh.TreeHash(), s.g.ctx.TreeHash) {
			t.Fatal("cached tree hash differs")
		}
	}
}

func TestStageCommitRejects(t *testing.T) {
	s := newSimGroup(t, 1, 8)
	decode := func(b []byte) *MLSMessage {
		m, err := DecodeMLSMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	good := s.updateCommit(t, 2)

	// Tampered signature.
	m := decode(good)
	m.PublicMessage.Auth.Signature = append([]byte(nil), m.PublicMessage.Auth.Signature...)
	m.PublicMessage.Auth.Signature[0] ^= 1
	if _, err := s.g.StageCommit(m); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("tampered signature: %v", err)
	}
	// Wrong sender (signature by 2, claimed 3).
	m = decode(good)
	m.PublicMessage.Content.Sender.Index = 3
	m.PublicMessage.Content.raw = nil
	if _, err := s.g.StageCommit(m); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("wrong sender: %v", err)
	}
	// Bad parent hash in the path leaf (re-signed, so only the chain is wrong).
	{
		c := s.clone()
		path := c.makePath(t, c.g.tree.Clone(), 2, nil)
		path.LeafNode.ParentHash = randBytes(32)
		path.LeafNode.Sign(c.keys[2], c.g.GroupID(), 2)
		if _, err := c.g.StageCommit(decode(c.commitMessage(t, 2, &Commit{Path: path}))); !errors.Is(err, ErrInvalidCommit) {
			t.Errorf("bad parent hash: %v", err)
		}
		// Wrong number of encrypted path secrets.
		path = c.makePath(t, c.g.tree.Clone(), 2, nil)
		path.Nodes[0].EncryptedPathSecret = append(path.Nodes[0].EncryptedPathSecret, path.Nodes[0].EncryptedPathSecret[0])
		if _, err := c.g.StageCommit(decode(c.commitMessage(t, 2, &Commit{Path: path}))); !errors.Is(err, ErrInvalidCommit) {
			t.Errorf("bad ciphertext count: %v", err)
		}
		// Missing path on an empty commit.
		if _, err := c.g.StageCommit(decode(c.commitMessage(t, 2, &Commit{}))); !errors.Is(err, ErrInvalidCommit) {
			t.Errorf("missing path: %v", err)
		}
		// Committer removes itself.
		if _, err := c.g.StageCommit(decode(c.removeCommit(t, 2, 2))); !errors.Is(err, ErrInvalidCommit) {
			t.Errorf("self remove: %v", err)
		}
		// Unknown proposal reference.
		cm := &Commit{Proposals: []ProposalOrRef{{Reference: randBytes(32)}}, Path: c.makePath(t, c.g.tree.Clone(), 2, nil)}
		if _, err := c.g.StageCommit(decode(c.commitMessage(t, 2, cm))); !errors.Is(err, ErrUnknownProposal) {
			t.Errorf("unknown ref: %v", err)
		}
		// Adding an existing member's KeyPackage again.
		kp, _ := simKeyPackage(t, 1)
		kp2 := *kp
		cm = &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalAdd, KeyPackage: kp}}, {Proposal: &Proposal{Type: ProposalAdd, KeyPackage: &kp2}}}}
		if _, err := c.g.StageCommit(decode(c.commitMessage(t, 2, cm))); !errors.Is(err, ErrInvalidLeafNode) || !errors.Is(err, ErrInvalidCommit) {
			t.Errorf("duplicate add: %v", err)
		}
	}

	// Stage two competing commits; merging one makes the other stale.
	m1, m2 := decode(good), decode(s.updateCommit(t, 4))
	sc1, err := s.g.StageCommit(m1)
	if err != nil {
		t.Fatal(err)
	}
	sc2, err := s.g.StageCommit(m2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.g.Merge(sc2); err != nil {
		t.Fatal(err)
	}
	if err := s.g.Merge(sc1); !errors.Is(err, ErrStaleCommit) {
		t.Errorf("stale merge: %v", err)
	}
	// Replay of the old epoch's commit.
	if _, err := s.g.StageCommit(decode(good)); !errors.Is(err, ErrWrongEpoch) {
		t.Errorf("replay: %v", err)
	}
}

func TestVerifyGroupInfo(t *testing.T) {
	s := newSimGroup(t, 1, 6)
	b := s.updateCommit(t, 1)
	m, _ := DecodeMLSMessage(b)
	sc, err := s.g.StageCommit(m)
	if err != nil {
		t.Fatal(err)
	}
	// The committer publishes a GroupInfo for the new epoch.
	gi := &GroupInfo{GroupContext: *sc.GroupContext(), ConfirmationTag: m.PublicMessage.Auth.ConfirmationTag, Signer: 1,
		Extensions: []Extension{{Type: ExtensionRatchetTree, Data: sc.Tree().Marshal()}}}
	if err := gi.Sign(s.keys[1]); err != nil {
		t.Fatal(err)
	}
	gi, _ = DecodeGroupInfo(gi.Marshal())
	if err := sc.VerifyGroupInfo(gi); err != nil {
		t.Fatalf("valid GroupInfo rejected: %v", err)
	}
	bad := *gi
	bad.GroupContext.Epoch++
	bad.raw = nil
	bad.Sign(s.keys[1])
	if err := sc.VerifyGroupInfo(&bad); !errors.Is(err, ErrGroupInfoMismatch) {
		t.Errorf("wrong epoch: %v", err)
	}
	bad = *gi
	bad.ConfirmationTag = randBytes(32)
	bad.raw = nil
	bad.Sign(s.keys[1])
	if err := sc.VerifyGroupInfo(&bad); !errors.Is(err, ErrGroupInfoMismatch) {
		t.Errorf("wrong tag: %v", err)
	}
	bad = *gi
	bad.Signer = 2
	bad.raw = nil
	bad.Sign(s.keys[1])
	if err := sc.VerifyGroupInfo(&bad); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("wrong signer: %v", err)
	}
	if err := s.g.Merge(sc); err != nil {
		t.Fatal(err)
	}
	if err := s.g.VerifyGroupInfo(gi); err != nil {
		t.Fatalf("after merge: %v", err)
	}
	// A DS-built group from that GroupInfo agrees.
	g2, err := NewPublicGroup(gi, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g2.InterimTranscriptHash(), s.g.InterimTranscriptHash()) {
		t.Fatal("interim transcript hash differs")
	}
}

func TestPassiveClientDetectsWrongState(t *testing.T) {
	// If the DS's GroupContext were wrong, the next signature would fail:
	// corrupt the interim transcript hash and stage the next commit.
	var vs []passiveVector
	loadTestVector(t, "passive-client-random.json", &vs)
	v := &vs[0]
	kpm, _ := DecodeMLSMessage(v.KeyPackage)
	wm, _ := DecodeMLSMessage(v.Welcome)
	ow, err := testOpenWelcome(wm.Welcome, kpm.KeyPackage, v.InitPriv, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewPublicGroup(ow.groupInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range v.Epochs[0].Proposals {
		m, _ := DecodeMLSMessage(p)
		if _, err := g.ProcessProposal(m); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := DecodeMLSMessage(v.Epochs[0].Commit)
	sc, err := g.StageCommit(m)
	if err != nil {
		t.Fatal(err)
	}
	sc.ctx.TreeHash = append([]byte{sc.ctx.TreeHash[0] ^ 1}, sc.ctx.TreeHash[1:]...)
	g.Merge(sc)
	var next *MLSMessage
	if len(v.Epochs[1].Proposals) > 0 {
		next, _ = DecodeMLSMessage(v.Epochs[1].Proposals[0])
		_, err = g.ProcessProposal(next)
	} else {
		next, _ = DecodeMLSMessage(v.Epochs[1].Commit)
		_, err = g.StageCommit(next)
	}
	if !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("corrupted state not detected: %v", err)
	}
}
