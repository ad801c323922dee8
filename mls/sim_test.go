package mls

// TEST-ONLY group simulator: builds large valid groups from generated keys
// and produces valid commits (add, remove, update path) the way a committing
// member would, so that tests and benchmarks can drive PublicGroup. The
// HPKE ciphertexts in the paths are random bytes of the right count: a DS
// cannot decrypt them and does not look inside.

import (
	"crypto/rand"
	"slices"
	"testing"
)

type simGroup struct {
	cs   CipherSuite
	g    *PublicGroup
	keys map[LeafIndex]*SigningKey
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func simCapabilities(cs CipherSuite) Capabilities {
	return Capabilities{
		Versions:     []ProtocolVersion{ProtocolVersionMLS10},
		CipherSuites: []CipherSuite{cs},
		Credentials:  []CredentialType{CredentialBasic},
	}
}

func simLeafNode(cs CipherSuite, sk *SigningKey, src LeafNodeSource) *LeafNode {
	ln := &LeafNode{
		EncryptionKey: randBytes(32),
		SignatureKey:  sk.PublicKey(),
		Credential:    Credential{Type: CredentialBasic, Identity: sk.PublicKey()[:8]},
		Capabilities:  simCapabilities(cs),
		Source:        src,
	}
	if src == LeafNodeSourceKeyPackage {
		ln.Lifetime = Lifetime{NotBefore: 0, NotAfter: ^uint64(0)}
	}
	return ln
}

func simKeyPackage(tb testing.TB, cs CipherSuite) (*KeyPackage, *SigningKey) {
	sk, err := cs.GenerateSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	kp := &KeyPackage{Version: ProtocolVersionMLS10, CipherSuite: cs, InitKey: randBytes(32), LeafNode: *simLeafNode(cs, sk, LeafNodeSourceKeyPackage)}
	if err := kp.LeafNode.Sign(sk, nil, 0); err != nil {
		tb.Fatal(err)
	}
	if err := kp.Sign(sk); err != nil {
		tb.Fatal(err)
	}
	return kp, sk
}

// newSimGroup builds a group of n members with every parent node whose two
// subtrees hold members set and parent-hash valid (left children vouch for
// their parents), as after a round of commits.
func newSimGroup(tb testing.TB, cs CipherSuite, n int) *simGroup {
	return newSimGroupExt(tb, cs, n, nil)
}

// newSimGroupExt is newSimGroup with GroupContext extensions.
func newSimGroupExt(tb testing.TB, cs CipherSuite, n int, exts []Extension) *simGroup {
	groupID := []byte("sim-group")
	nLeaves := uint32(1)
	for nLeaves < uint32(n) {
		nLeaves *= 2
	}
	t := newTree(cs, nLeaves)
	keys := map[LeafIndex]*SigningKey{}
	for i := 0; i < n; i++ {
		sk, err := cs.GenerateSigningKey()
		if err != nil {
			tb.Fatal(err)
		}
		keys[LeafIndex(i)] = sk
		// Left children commit and vouch for their parent; the others
		// come from KeyPackages.
		src := LeafNodeSourceKeyPackage
		if i%2 == 0 && i+1 < n {
			src = LeafNodeSourceCommit
		}
		e := t.mut(LeafIndex(i).Node())
		e.leaf = simLeafNode(cs, sk, src)
	}
	t.recount(t.root())
	var setParents func(x NodeIndex)
	setParents = func(x NodeIndex) {
		if x.IsLeaf() {
			return
		}
		if t.get(x.Left()).leaves > 0 && t.get(x.Right()).leaves > 0 {
			t.setParent(x, &ParentNode{EncryptionKey: randBytes(32), ParentHash: []byte{}})
		}
		setParents(x.Left())
		setParents(x.Right())
	}
	setParents(t.root())
	// Top-down: finalise the right subtree, then give the left child the
	// parent hash of x over the right subtree's hash.
	var chain func(x NodeIndex)
	chain = func(x NodeIndex) {
		if x.IsLeaf() {
			l := x.Leaf()
			if ln := t.get(x).leaf; ln != nil {
				if err := ln.Sign(keys[l], groupID, uint32(l)); err != nil {
					tb.Fatal(err)
				}
				t.invalidate(x)
			}
			return
		}
		chain(x.Right())
		if p := t.get(x).parent; p != nil {
			ph := parentHash(cs, p, t.NodeHash(x.Right()))
			c := x.Left()
			if c.IsLeaf() {
				t.get(c).leaf.ParentHash = ph
			} else {
				cp := *t.get(c).parent
				cp.ParentHash = ph
				t.setParent(c, &cp)
			}
			t.invalidate(c)
		}
		chain(x.Left())
	}
	chain(t.root())
	gc := GroupContext{Version: ProtocolVersionMLS10, CipherSuite: cs, GroupID: groupID, Epoch: 0,
		TreeHash: t.TreeHash(), ConfirmedTranscriptHash: []byte{}, Extensions: exts}
	gi := &GroupInfo{GroupContext: gc, ConfirmationTag: randBytes(cs.HashSize()), Signer: 0,
		Extensions: []Extension{{Type: ExtensionRatchetTree, Data: t.Marshal()}}}
	if err := gi.Sign(keys[0]); err != nil {
		tb.Fatal(err)
	}
	gi, err := DecodeGroupInfo(gi.Marshal())
	if err != nil {
		tb.Fatal(err)
	}
	g, err := NewPublicGroup(gi, nil)
	if err != nil {
		tb.Fatalf("NewPublicGroup(sim %d): %v", n, err)
	}
	return &simGroup{cs: cs, g: g, keys: keys}
}

// clone returns an independent copy (test-only; the index is rebuilt).
func (s *simGroup) clone() *simGroup {
	g := *s.g
	g.tree = s.g.tree.Clone()
	g.idx = buildMemberIndex(g.tree)
	g.proposals = map[string]*PendingProposal{}
	keys := make(map[LeafIndex]*SigningKey, len(s.keys))
	for k, v := range s.keys {
		keys[k] = v
	}
	return &simGroup{cs: s.cs, g: &g, keys: keys}
}

// makePath builds an UpdatePath for committer on tree t (proposals applied),
// skipping the leaves in added for the ciphertext counts.
func (s *simGroup) makePath(tb testing.TB, t *RatchetTree, committer LeafIndex, added []LeafIndex) *UpdatePath {
	fdp, copath := t.filteredDirectPathWithCopath(committer)
	path := &UpdatePath{Nodes: make([]UpdatePathNode, len(fdp))}
	skip := func(x LeafIndex) bool { return slices.Contains(added, x) }
	ph := []byte{}
	for i := len(fdp) - 1; i >= 0; i-- {
		key := randBytes(32)
		n := t.resolutionSize(copath[i], skip)
		cts := make([]HPKECiphertext, n)
		for j := range cts {
			cts[j] = HPKECiphertext{KEMOutput: randBytes(32), Ciphertext: randBytes(48)}
		}
		path.Nodes[i] = UpdatePathNode{EncryptionKey: key, EncryptedPathSecret: cts}
		ph = parentHash(s.cs, &ParentNode{EncryptionKey: key, ParentHash: ph}, t.NodeHash(copath[i]))
	}
	sk := s.keys[committer]
	ln := simLeafNode(s.cs, sk, LeafNodeSourceCommit)
	ln.ParentHash = ph
	if err := ln.Sign(sk, s.g.ctx.GroupID, uint32(committer)); err != nil {
		tb.Fatal(err)
	}
	path.LeafNode = *ln
	return path
}

// commitMessage frames, signs and encodes a commit from committer.
func (s *simGroup) commitMessage(tb testing.TB, committer LeafIndex, c *Commit) []byte {
	fc := FramedContent{Sender: Sender{Type: SenderMember, Index: uint32(committer)}, ContentType: ContentCommit, Commit: c}
	return s.frame(tb, fc, s.keys[committer])
}

// proposalMessage frames, signs and encodes a proposal.
func (s *simGroup) proposalMessage(tb testing.TB, sender Sender, key *SigningKey, p *Proposal) []byte {
	fc := FramedContent{Sender: sender, ContentType: ContentProposal, Proposal: p}
	return s.frame(tb, fc, key)
}

func (s *simGroup) frame(tb testing.TB, fc FramedContent, key *SigningKey) []byte {
	fc.GroupID, fc.Epoch = s.g.ctx.GroupID, s.g.ctx.Epoch
	ac := &AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: fc}
	if err := ac.Sign(key, s.g.ctx); err != nil {
		tb.Fatal(err)
	}
	if fc.ContentType == ContentCommit {
		ac.Auth.ConfirmationTag = randBytes(s.cs.HashSize())
	}
	pm := &PublicMessage{Content: ac.Content, Auth: ac.Auth}
	if fc.Sender.Type == SenderMember {
		pm.MembershipTag = randBytes(s.cs.HashSize())
	}
	m := &MLSMessage{Version: ProtocolVersionMLS10, WireFormat: WireFormatPublicMessage, PublicMessage: pm}
	return m.Marshal()
}

// externalCommit: a new client joins by external commit, optionally
// removing leaf remove (>= 0) as its old self.
func (s *simGroup) externalCommit(tb testing.TB, remove int) ([]byte, *SigningKey) {
	sk, err := s.cs.GenerateSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	t := s.g.tree.Clone()
	props := []ProposalOrRef{{Proposal: &Proposal{Type: ProposalExternalInit, KEMOutput: randBytes(32)}}}
	if remove >= 0 {
		props = append(props, ProposalOrRef{Proposal: &Proposal{Type: ProposalRemove, Removed: uint32(remove)}})
		t.removeLeaf(LeafIndex(remove))
	}
	l, ok := t.leftmostFreeLeaf()
	if !ok {
		l = LeafIndex(t.nLeaves)
		t.extend()
	}
	old, had := s.keys[l]
	s.keys[l] = sk
	path := s.makePath(tb, t, l, nil)
	if had {
		s.keys[l] = old
	} else {
		delete(s.keys, l)
	}
	fc := FramedContent{Sender: Sender{Type: SenderNewMemberCommit}, ContentType: ContentCommit,
		Commit: &Commit{Proposals: props, Path: path}}
	return s.frame(tb, fc, sk), sk
}

// updateCommit: an empty commit with a path from committer.
func (s *simGroup) updateCommit(tb testing.TB, committer LeafIndex) []byte {
	path := s.makePath(tb, s.g.tree.Clone(), committer, nil)
	return s.commitMessage(tb, committer, &Commit{Path: path})
}

// addCommit: committer adds a fresh member by value, without a path.
func (s *simGroup) addCommit(tb testing.TB, committer LeafIndex) ([]byte, *SigningKey) {
	kp, sk := simKeyPackage(tb, s.cs)
	c := &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalAdd, KeyPackage: kp}}}}
	return s.commitMessage(tb, committer, c), sk
}

// removeCommit: committer removes leaf r by value, with a path.
func (s *simGroup) removeCommit(tb testing.TB, committer, r LeafIndex) []byte {
	t := s.g.tree.Clone()
	t.removeLeaf(r)
	path := s.makePath(tb, t, committer, nil)
	c := &Commit{Proposals: []ProposalOrRef{{Proposal: &Proposal{Type: ProposalRemove, Removed: uint32(r)}}}, Path: path}
	return s.commitMessage(tb, committer, c)
}

// apply decodes, stages and merges a commit, and records new members' keys.
func (s *simGroup) apply(tb testing.TB, b []byte, newKey *SigningKey) *StagedCommit {
	m, err := DecodeMLSMessage(b)
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := s.g.StageCommit(m)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.g.Merge(sc); err != nil {
		tb.Fatal(err)
	}
	for _, l := range sc.Removed {
		delete(s.keys, l)
	}
	for _, l := range sc.Added {
		s.keys[l] = newKey
	}
	if sc.External {
		s.keys[sc.Committer] = newKey
	}
	return sc
}
