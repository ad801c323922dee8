package mls

import (
	"errors"
	"slices"
	"testing"
)

// randomFiller fills a path as a DS sees it: a fresh key per node and one
// random ciphertext per resolution node.
func randomFiller(_ NodeIndex, res []NodeIndex) ([]byte, []HPKECiphertext, error) {
	cts := make([]HPKECiphertext, len(res))
	for i := range cts {
		cts[i] = HPKECiphertext{KEMOutput: randBytes(32), Ciphertext: randBytes(48)}
	}
	return randBytes(32), cts, nil
}

// stageWithBuiltPath builds, stages and merges a commit of props from
// committer whose path comes from BuildUpdatePath.
func stageWithBuiltPath(t *testing.T, s *simGroup, committer LeafIndex, props []ProposalOrRef, newKey *SigningKey) *StagedCommit {
	t.Helper()
	leaf := *simLeafNode(s.cs, s.keys[committer], LeafNodeSourceCommit)
	path, err := s.g.BuildUpdatePath(committer, props, leaf, s.keys[committer], randomFiller)
	if err != nil {
		t.Fatalf("BuildUpdatePath: %v", err)
	}
	return s.apply(t, s.commitMessage(t, committer, &Commit{Proposals: props, Path: path}), newKey)
}

func TestBuildUpdatePathCommitsAnExternalRemoveByReference(t *testing.T) {
	for _, cs := range []CipherSuite{1, 2} {
		ext, err := cs.GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		senders := EncodeExternalSenders([]ExternalSender{{SignatureKey: ext.PublicKey(), Credential: Credential{Type: CredentialBasic, Identity: []byte("ds")}}})
		s := newSimGroupExt(t, cs, 7, []Extension{{Type: ExtensionExternalSenders, Data: senders}})
		b := s.proposalMessage(t, Sender{Type: SenderExternal, Index: 0}, ext, &Proposal{Type: ProposalRemove, Removed: 3})
		m, err := DecodeMLSMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		pp, err := s.g.ProcessProposal(m)
		if err != nil {
			t.Fatalf("suite %d: ProcessProposal(external Remove) = %v", cs, err)
		}
		sc := stageWithBuiltPath(t, s, 5, []ProposalOrRef{{Reference: pp.Ref}}, nil)
		if !slices.Equal(sc.Removed, []LeafIndex{3}) || !sc.HasPath || s.g.Leaf(3) != nil || s.g.NumMembers() != 6 {
			t.Errorf("suite %d: removed %v, path %v, leaf 3 %v, %d members", cs, sc.Removed, sc.HasPath, s.g.Leaf(3), s.g.NumMembers())
		}
	}
}

func TestBuildUpdatePathSkipsAddedLeaves(t *testing.T) {
	s := newSimGroup(t, 1, 5)
	kp, sk := simKeyPackage(t, 1)
	props := []ProposalOrRef{{Proposal: &Proposal{Type: ProposalRemove, Removed: 1}}, {Proposal: &Proposal{Type: ProposalAdd, KeyPackage: kp}}}
	sc := stageWithBuiltPath(t, s, 4, props, sk)
	if !slices.Equal(sc.Added, []LeafIndex{1}) || !slices.Equal(sc.Removed, []LeafIndex{1}) {
		t.Errorf("added %v, removed %v; want [1] and [1]", sc.Added, sc.Removed)
	}
	// A later commit from another member covers the new leaf.
	stageWithBuiltPath(t, s, 0, nil, nil)
}

func TestBuildUpdatePathRefusesWhatStagingWould(t *testing.T) {
	s := newSimGroup(t, 1, 4)
	leaf := *simLeafNode(s.cs, s.keys[0], LeafNodeSourceCommit)
	short := func(NodeIndex, []NodeIndex) ([]byte, []HPKECiphertext, error) { return randBytes(32), nil, nil }
	cases := map[string]struct {
		committer LeafIndex
		props     []ProposalOrRef
		fill      PathFiller
	}{
		"unknown reference": {0, []ProposalOrRef{{Reference: randBytes(32)}}, randomFiller},
		"committer removed": {0, []ProposalOrRef{{Proposal: &Proposal{Type: ProposalRemove, Removed: 0}}}, randomFiller},
		"too few secrets":   {0, nil, short},
	}
	for name, c := range cases {
		if _, err := s.g.BuildUpdatePath(c.committer, c.props, leaf, s.keys[0], c.fill); !errors.Is(err, ErrInvalidCommit) && !errors.Is(err, ErrUnknownProposal) {
			t.Errorf("%s: err = %v, want ErrInvalidCommit or ErrUnknownProposal", name, err)
		}
	}
	if s.g.Epoch() != 0 || s.g.NumMembers() != 4 {
		t.Errorf("the group changed: epoch %d, %d members", s.g.Epoch(), s.g.NumMembers())
	}
}
