package mls

import (
	"bytes"
	"errors"
	"testing"
)

func TestTreeValidationVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16        `json:"cipher_suite"`
		Tree        hexBytes      `json:"tree"`
		GroupID     hexBytes      `json:"group_id"`
		Resolutions [][]NodeIndex `json:"resolutions"`
		TreeHashes  []hexBytes    `json:"tree_hashes"`
	}
	loadTestVector(t, "tree-validation.json", &vs)
	seen := map[CipherSuite]bool{}
	for i, v := range vs {
		cs := mustSuite(t, v.CipherSuite)
		seen[cs] = true
		tr, err := DecodeRatchetTree(cs, v.Tree)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(tr.Marshal(), v.Tree) {
			t.Fatalf("case %d: re-encoding differs", i)
		}
		if int(tr.width()) != len(v.TreeHashes) || len(v.Resolutions) != len(v.TreeHashes) {
			t.Fatalf("case %d: width %d, vector has %d hashes / %d resolutions", i, tr.width(), len(v.TreeHashes), len(v.Resolutions))
		}
		for x := range v.Resolutions {
			got := tr.Resolution(NodeIndex(x))
			if len(got) != len(v.Resolutions[x]) {
				t.Fatalf("case %d node %d: resolution %v, want %v", i, x, got, v.Resolutions[x])
			}
			for j := range got {
				if got[j] != v.Resolutions[x][j] {
					t.Fatalf("case %d node %d: resolution %v, want %v", i, x, got, v.Resolutions[x])
				}
			}
			if n := tr.resolutionSize(NodeIndex(x), nil); n != len(got) {
				t.Fatalf("case %d node %d: resolutionSize %d, want %d", i, x, n, len(got))
			}
		}
		for x, h := range v.TreeHashes {
			if got := tr.NodeHash(NodeIndex(x)); !bytes.Equal(got, h) {
				t.Fatalf("case %d node %d: tree hash %x, want %x", i, x, got, h)
			}
		}
		if err := tr.Validate(v.GroupID, nil); err != nil {
			t.Fatalf("case %d (suite %d): Validate: %v", i, cs, err)
		}
		// A wrong group id breaks update/commit leaf signatures, if any.
		hasCtxLeaf := false
		tr.Members(func(_ LeafIndex, ln *LeafNode) bool {
			hasCtxLeaf = hasCtxLeaf || ln.Source != LeafNodeSourceKeyPackage
			return true
		})
		if hasCtxLeaf {
			if err := tr.Validate(append([]byte{1}, v.GroupID...), nil); err == nil {
				t.Fatalf("case %d: wrong group id accepted", i)
			}
		}
	}
	checkSuitesCovered(t, seen)
}

func TestTreeOperationsVectors(t *testing.T) {
	var vs []struct {
		CipherSuite    uint16   `json:"cipher_suite"`
		TreeBefore     hexBytes `json:"tree_before"`
		Proposal       hexBytes `json:"proposal"`
		ProposalSender uint32   `json:"proposal_sender"`
		TreeAfter      hexBytes `json:"tree_after"`
		TreeHashBefore hexBytes `json:"tree_hash_before"`
		TreeHashAfter  hexBytes `json:"tree_hash_after"`
	}
	loadTestVector(t, "tree-operations.json", &vs)
	for i, v := range vs {
		cs := mustSuite(t, v.CipherSuite)
		tr, err := DecodeRatchetTree(cs, v.TreeBefore)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if h := tr.TreeHash(); !bytes.Equal(h, v.TreeHashBefore) {
			t.Fatalf("case %d: tree hash before %x, want %x", i, h, v.TreeHashBefore)
		}
		p, err := DecodeProposal(v.Proposal)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		before := tr.Clone()
		switch p.Type {
		case ProposalAdd:
			tr.addLeaf(&p.KeyPackage.LeafNode)
		case ProposalUpdate:
			tr.updateLeaf(LeafIndex(v.ProposalSender), p.LeafNode)
		case ProposalRemove:
			tr.removeLeaf(LeafIndex(p.Removed))
		default:
			t.Fatalf("case %d: unexpected proposal type %d", i, p.Type)
		}
		if got := tr.Marshal(); !bytes.Equal(got, v.TreeAfter) {
			t.Fatalf("case %d (type %d): tree after\n got %x\nwant %x", i, p.Type, got, v.TreeAfter)
		}
		if h := tr.TreeHash(); !bytes.Equal(h, v.TreeHashAfter) {
			t.Fatalf("case %d: tree hash after %x, want %x", i, h, v.TreeHashAfter)
		}
		// Cached hashes must match a fresh computation.
		fresh, _ := DecodeRatchetTree(cs, v.TreeAfter)
		if !bytes.Equal(fresh.TreeHash(), tr.TreeHash()) {
			t.Fatalf("case %d: cached hash differs from fresh", i)
		}
		// The clone taken before must be untouched (copy on write).
		if !bytes.Equal(before.Marshal(), v.TreeBefore) || !bytes.Equal(before.TreeHash(), v.TreeHashBefore) {
			t.Fatalf("case %d: operation changed the clone", i)
		}
	}
}

func TestTreeKEMVectors(t *testing.T) {
	var vs []struct {
		CipherSuite             uint16   `json:"cipher_suite"`
		GroupID                 hexBytes `json:"group_id"`
		Epoch                   uint64   `json:"epoch"`
		ConfirmedTranscriptHash hexBytes `json:"confirmed_transcript_hash"`
		RatchetTree             hexBytes `json:"ratchet_tree"`
		UpdatePaths             []struct {
			Sender        uint32   `json:"sender"`
			UpdatePath    hexBytes `json:"update_path"`
			TreeHashAfter hexBytes `json:"tree_hash_after"`
		} `json:"update_paths"`
	}
	loadTestVector(t, "treekem.json", &vs)
	seen := map[CipherSuite]bool{}
	n := 0
	for i, v := range vs {
		cs := mustSuite(t, v.CipherSuite)
		seen[cs] = true
		base, err := DecodeRatchetTree(cs, v.RatchetTree)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if err := base.Validate(v.GroupID, nil); err != nil {
			t.Fatalf("case %d: tree invalid: %v", i, err)
		}
		for j, up := range v.UpdatePaths {
			path, err := DecodeUpdatePath(up.UpdatePath)
			if err != nil {
				t.Fatalf("case %d path %d: %v", i, j, err)
			}
			if !bytes.Equal(path.Marshal(), up.UpdatePath) {
				t.Fatalf("case %d path %d: re-encoding differs", i, j)
			}
			tr := base.Clone()
			if err := tr.MergeUpdatePath(v.GroupID, LeafIndex(up.Sender), path); err != nil {
				t.Fatalf("case %d path %d (suite %d): %v", i, j, cs, err)
			}
			if h := tr.TreeHash(); !bytes.Equal(h, up.TreeHashAfter) {
				t.Fatalf("case %d path %d: tree hash after %x, want %x", i, j, h, up.TreeHashAfter)
			}
			if err := tr.Validate(v.GroupID, nil); err != nil {
				t.Fatalf("case %d path %d: merged tree invalid: %v", i, j, err)
			}
			n++
		}
	}
	checkSuitesCovered(t, seen)
	t.Logf("%d update paths merged", n)
}

func TestTreeValidationRejects(t *testing.T) {
	var vs []struct {
		CipherSuite uint16   `json:"cipher_suite"`
		Tree        hexBytes `json:"tree"`
		GroupID     hexBytes `json:"group_id"`
	}
	loadTestVector(t, "tree-validation.json", &vs)
	checked := 0
	for i, v := range vs {
		tr, err := DecodeRatchetTree(CipherSuite(v.CipherSuite), v.Tree)
		if err != nil {
			t.Fatal(err)
		}
		// Corrupt the parent hash of the first non-blank parent node.
		for x := NodeIndex(1); uint32(x) < tr.width(); x += 2 {
			p := tr.Parent(x)
			if p == nil {
				continue
			}
			c := tr.Clone()
			q := *p
			q.ParentHash = append([]byte{0xff}, p.ParentHash...)
			c.setParent(x, &q)
			// Changing a node's parent_hash breaks the node below it that
			// vouched for its parent, unless nothing vouches through it.
			if err := c.Validate(v.GroupID, nil); err == nil {
				// The node might be the root with no vouching child
				// above; corrupt its key instead, which must fail.
				q.EncryptionKey = append([]byte{0xff}, p.EncryptionKey...)
				c.setParent(x, &q)
				if err := c.Validate(v.GroupID, nil); !errors.Is(err, ErrInvalidTree) {
					t.Fatalf("case %d: corrupted parent %d accepted", i, x)
				}
			}
			checked++
			break
		}
		// Unmerged leaf that is not below its parent.
		for x := NodeIndex(1); uint32(x) < tr.width(); x += 2 {
			p := tr.Parent(x)
			if p == nil || x == tr.root() {
				continue
			}
			c := tr.Clone()
			q := *p
			q.UnmergedLeaves = append(append([]uint32(nil), p.UnmergedLeaves...), uint32(tr.NumLeaves()-1))
			if isAncestor(x, LeafIndex(tr.NumLeaves()-1).Node()) {
				continue
			}
			c.setParent(x, &q)
			if err := c.verifyUnmergedLeaves(); !errors.Is(err, ErrInvalidTree) {
				t.Fatalf("case %d: bad unmerged leaf accepted", i)
			}
			break
		}
	}
	if checked == 0 {
		t.Fatal("no tree with parent nodes")
	}
}

func TestUnknownProposalAndExtensionOpaque(t *testing.T) {
	p := &Proposal{Type: 0xff0a, Data: []byte("custom")}
	b := p.Marshal()
	q, err := DecodeProposal(b)
	if err != nil || q.Type != 0xff0a || string(q.Data) != "custom" {
		t.Fatalf("%v %+v", err, q)
	}
	gce := &Proposal{Type: ProposalGroupContextExtensions, Extensions: []Extension{{Type: 0xabcd, Data: []byte{1, 2, 3}}}}
	q, err = DecodeProposal(gce.Marshal())
	if err != nil || len(q.Extensions) != 1 || q.Extensions[0].Type != 0xabcd || !bytes.Equal(q.Extensions[0].Data, []byte{1, 2, 3}) {
		t.Fatalf("%v %+v", err, q)
	}
	dup := &Proposal{Type: ProposalGroupContextExtensions, Extensions: []Extension{{Type: 9}, {Type: 9}}}
	if _, err := DecodeProposal(dup.Marshal()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("duplicate extension accepted: %v", err)
	}
}

func TestMalformedTreesDoNotPanic(t *testing.T) {
	var vs []struct {
		CipherSuite uint16   `json:"cipher_suite"`
		Tree        hexBytes `json:"tree"`
		GroupID     hexBytes `json:"group_id"`
	}
	loadTestVector(t, "tree-validation.json", &vs)
	for _, v := range vs[:14] {
		tr, _ := DecodeRatchetTree(CipherSuite(v.CipherSuite), v.Tree)
		for x := NodeIndex(1); uint32(x) < tr.width(); x += 2 {
			p := tr.Parent(x)
			if p == nil {
				continue
			}
			for _, bad := range []uint32{0xffffffff, 0x80000000, tr.NumLeaves()} {
				c := tr.Clone()
				q := *p
				q.UnmergedLeaves = []uint32{bad}
				c.setParent(x, &q)
				// Must fail cleanly, whatever runs first.
				if err := c.Validate(v.GroupID, nil); err == nil {
					t.Fatal("accepted out-of-range unmerged leaf")
				}
				_ = c.verifyParentHashes()
				_ = c.TreeHash()
				_ = c.Resolution(x)
				for l := LeafIndex(0); uint32(l) < c.NumLeaves(); l++ {
					_ = c.FilteredDirectPath(l)
				}
				_ = c.Marshal()
			}
		}
	}
	for _, n := range []uint32{0, 1} {
		_ = DirectPath(0, n)
		_ = Copath(0, n)
	}
}
