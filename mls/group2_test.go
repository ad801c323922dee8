package mls

import (
	"errors"
	"testing"
)

func mustDecode(t testing.TB, b []byte) *MLSMessage {
	t.Helper()
	m, err := DecodeMLSMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExternalSenderAndNewMemberProposals(t *testing.T) {
	cs := CipherSuite(1)
	ext, _ := cs.GenerateSigningKey()
	es := EncodeExternalSenders([]ExternalSender{{SignatureKey: ext.PublicKey(), Credential: Credential{Type: CredentialBasic, Identity: []byte("server")}}})
	s := newSimGroupExt(t, cs, 5, []Extension{{Type: ExtensionExternalSenders, Data: es}})

	// External sender removes leaf 3.
	rm := s.proposalMessage(t, Sender{Type: SenderExternal, Index: 0}, ext, &Proposal{Type: ProposalRemove, Removed: 3})
	pp1, err := s.g.ProcessProposal(mustDecode(t, rm))
	if err != nil {
		t.Fatal(err)
	}
	// External sender may not send Update.
	up := s.proposalMessage(t, Sender{Type: SenderExternal, Index: 0}, ext, &Proposal{Type: ProposalUpdate, LeafNode: simLeafNode(cs, ext, LeafNodeSourceUpdate)})
	if _, err := s.g.ProcessProposal(mustDecode(t, up)); !errors.Is(err, ErrInvalidProposal) {
		t.Errorf("external Update: %v", err)
	}
	// Unknown external sender index.
	bad := s.proposalMessage(t, Sender{Type: SenderExternal, Index: 1}, ext, &Proposal{Type: ProposalRemove, Removed: 2})
	if _, err := s.g.ProcessProposal(mustDecode(t, bad)); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("bad external index: %v", err)
	}
	// A new member proposes to add itself.
	kp, sk := simKeyPackage(t, cs)
	add := s.proposalMessage(t, Sender{Type: SenderNewMemberProposal}, sk, &Proposal{Type: ProposalAdd, KeyPackage: kp})
	pp2, err := s.g.ProcessProposal(mustDecode(t, add))
	if err != nil {
		t.Fatal(err)
	}
	// Member 1 proposes an Update.
	ln := simLeafNode(cs, s.keys[1], LeafNodeSourceUpdate)
	ln.Sign(s.keys[1], s.g.GroupID(), 1)
	upd := s.proposalMessage(t, Sender{Type: SenderMember, Index: 1}, s.keys[1], &Proposal{Type: ProposalUpdate, LeafNode: ln})
	pp3, err := s.g.ProcessProposal(mustDecode(t, upd))
	if err != nil {
		t.Fatal(err)
	}
	// Member 0 commits all three by reference, with a path.
	tr := s.g.tree.Clone()
	tr.updateLeaf(1, ln)
	tr.removeLeaf(3)
	added := tr.addLeaf(&kp.LeafNode)
	path := s.makePath(t, tr, 0, []LeafIndex{added})
	c := &Commit{Proposals: []ProposalOrRef{{Reference: pp1.Ref}, {Reference: pp2.Ref}, {Reference: pp3.Ref}}, Path: path}
	sc := s.apply(t, s.commitMessage(t, 0, c), sk)
	if len(sc.Removed) != 1 || len(sc.Added) != 1 || sc.Added[0] != 3 || len(sc.Updated) != 1 {
		t.Fatalf("removed %v added %v updated %v", sc.Removed, sc.Added, sc.Updated)
	}
	if err := s.g.tree.Validate(s.g.GroupID(), nil); err != nil {
		t.Fatal(err)
	}
	// The added member can now commit.
	s.apply(t, s.updateCommit(t, 3), nil)
	// The committer's own Update may not be committed.
	ln0 := simLeafNode(cs, s.keys[0], LeafNodeSourceUpdate)
	ln0.Sign(s.keys[0], s.g.GroupID(), 0)
	pp, err := s.g.ProcessProposal(mustDecode(t, s.proposalMessage(t, Sender{Type: SenderMember, Index: 0}, s.keys[0], &Proposal{Type: ProposalUpdate, LeafNode: ln0})))
	if err != nil {
		t.Fatal(err)
	}
	c = &Commit{Proposals: []ProposalOrRef{{Reference: pp.Ref}}, Path: s.makePath(t, s.g.tree.Clone(), 0, nil)}
	if _, err := s.g.StageCommit(mustDecode(t, s.commitMessage(t, 0, c))); !errors.Is(err, ErrInvalidCommit) {
		t.Errorf("own update committed: %v", err)
	}
}

func TestExternalCommit(t *testing.T) {
	s := newSimGroup(t, 1, 4) // full tree: the joiner extends it
	b, sk := s.externalCommit(t, -1)
	sc := s.apply(t, b, sk)
	if !sc.External || sc.Committer != 4 || s.g.tree.NumMembers() != 5 {
		t.Fatalf("external %v committer %d members %d", sc.External, sc.Committer, s.g.tree.NumMembers())
	}
	// Rejoin, removing the old self.
	b, sk = s.externalCommit(t, 4)
	sc = s.apply(t, b, sk)
	if sc.Committer != 4 || s.g.tree.NumMembers() != 5 {
		t.Fatalf("rejoin: committer %d members %d", sc.Committer, s.g.tree.NumMembers())
	}
	s.apply(t, s.updateCommit(t, 2), nil)
	if err := s.g.tree.Validate(s.g.GroupID(), nil); err != nil {
		t.Fatal(err)
	}
	// ExternalInit in a member commit is rejected.
	c := &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalExternalInit, KEMOutput: randBytes(32)}}},
		Path: s.makePath(t, s.g.tree.Clone(), 1, nil)}
	if _, err := s.g.StageCommit(mustDecode(t, s.commitMessage(t, 1, c))); !errors.Is(err, ErrInvalidCommit) {
		t.Errorf("member ExternalInit: %v", err)
	}
}

func TestGCEAndPSKAndReInit(t *testing.T) {
	cs := CipherSuite(3)
	s := newSimGroup(t, cs, 6)
	// GroupContextExtensions with an unsupported extension type fails.
	c := &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalGroupContextExtensions, Extensions: []Extension{{Type: 0x0a0a}}}}},
		Path: s.makePath(t, s.g.tree.Clone(), 0, nil)}
	if _, err := s.g.StageCommit(mustDecode(t, s.commitMessage(t, 0, c))); !errors.Is(err, ErrInvalidProposal) {
		t.Errorf("unsupported GCE: %v", err)
	}
	// A supported one (application_id is a default type) applies.
	c.Proposals[0].Proposal.Extensions = []Extension{{Type: ExtensionApplicationID, Data: []byte("app")}}
	sc := s.apply(t, s.commitMessage(t, 0, c), nil)
	if len(sc.GroupContext().Extensions) != 1 {
		t.Fatal("GCE not applied")
	}
	// PSK proposals: bad nonce length rejected, good one accepted (no path needed).
	psk := &PreSharedKeyID{Type: PSKExternal, PSKID: []byte("id"), Nonce: randBytes(cs.HashSize())}
	c = &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalPSK, PSK: psk}}}}
	s.apply(t, s.commitMessage(t, 1, c), nil)
	psk2 := *psk
	psk2.Nonce = randBytes(5)
	c = &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalPSK, PSK: &psk2}}}}
	if _, err := s.g.StageCommit(mustDecode(t, s.commitMessage(t, 1, c))); !errors.Is(err, ErrInvalidProposal) {
		t.Errorf("bad PSK nonce: %v", err)
	}
	// Duplicate PSK.
	c = &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalPSK, PSK: psk}}, {Proposal: &Proposal{Type: ProposalPSK, PSK: psk}}}}
	if _, err := s.g.StageCommit(mustDecode(t, s.commitMessage(t, 1, c))); !errors.Is(err, ErrInvalidCommit) {
		t.Errorf("duplicate PSK: %v", err)
	}
	// ReInit with another proposal is rejected; alone it ends the group.
	ri := &ReInit{GroupID: []byte("next"), Version: ProtocolVersionMLS10, CipherSuite: 1}
	c = &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalReInit, ReInit: ri}}, {Proposal: &Proposal{Type: ProposalPSK, PSK: psk}}}}
	if _, err := s.g.StageCommit(mustDecode(t, s.commitMessage(t, 1, c))); !errors.Is(err, ErrInvalidCommit) {
		t.Errorf("ReInit with others: %v", err)
	}
	c = &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalReInit, ReInit: ri}}}}
	sc = s.apply(t, s.commitMessage(t, 1, c), nil)
	if sc.ReInit == nil || s.g.ReInit() == nil {
		t.Fatal("ReInit not reported")
	}
	if _, err := s.g.StageCommit(mustDecode(t, s.updateCommit(t, 2))); !errors.Is(err, ErrInvalidCommit) {
		t.Errorf("commit after ReInit: %v", err)
	}
}

func TestCheckWelcome(t *testing.T) {
	s := newSimGroup(t, 1, 3)
	b, _ := s.addCommit(t, 0)
	sc, err := s.g.StageCommit(mustDecode(t, b))
	if err != nil {
		t.Fatal(err)
	}
	w := &Welcome{CipherSuite: 1, Secrets: []EncryptedGroupSecrets{{NewMember: sc.AddedKeyPackageRefs[0]}}, EncryptedGroupInfo: randBytes(10)}
	if err := sc.CheckWelcome(w); err != nil {
		t.Fatal(err)
	}
	w.Secrets[0].NewMember = randBytes(32)
	if err := sc.CheckWelcome(w); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("foreign recipient: %v", err)
	}
}
