package mls

import (
	"bytes"
	"testing"
)

// Seeds come from the vectors when present; the fuzz targets also run (on
// their seeds) as ordinary tests.
func fuzzSeeds(f *testing.F, fields ...string) {
	var vs []map[string]hexBytes
	loadTestVector(f, "messages.json", &vs)
	for i, v := range vs {
		if i%10 != 0 {
			continue
		}
		for _, fl := range fields {
			if b, ok := v[fl]; ok {
				f.Add([]byte(b))
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 1})
}

// checkReencode asserts that whatever decodes re-encodes to the same bytes
// (the codec is canonical: minimal lengths, no trailing bytes).
func checkReencode(t *testing.T, in []byte, v encoder) {
	if got := freshEncode(v); !bytes.Equal(got, in) {
		t.Fatalf("re-encoding differs:\n in %x\nout %x", in, got)
	}
}

func FuzzDecodeMLSMessage(f *testing.F) {
	fuzzSeeds(f, "mls_welcome", "mls_group_info", "mls_key_package", "public_message_application",
		"public_message_proposal", "public_message_commit", "private_message")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMLSMessage(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Marshal(), b) {
			t.Fatal("Marshal differs from input")
		}
		checkReencode(t, b, m)
	})
}

func FuzzDecodeKeyPackage(f *testing.F) {
	var vs []map[string]hexBytes
	loadTestVector(f, "messages.json", &vs)
	for i, v := range vs {
		if i%10 == 0 {
			f.Add([]byte(v["mls_key_package"][4:])) // strip the MLSMessage header
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		kp, err := DecodeKeyPackage(b)
		if err != nil {
			return
		}
		checkReencode(t, b, kp)
		_ = kp.VerifySignature() // must not panic
		_, _ = kp.Ref()
	})
}

func FuzzDecodeGroupInfo(f *testing.F) {
	var vs []map[string]hexBytes
	loadTestVector(f, "messages.json", &vs)
	for i, v := range vs {
		if i%10 == 0 {
			f.Add([]byte(v["mls_group_info"][4:]))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		gi, err := DecodeGroupInfo(b)
		if err != nil {
			return
		}
		checkReencode(t, b, gi)
		if gi.GroupContext.CipherSuite.Supported() {
			_ = gi.VerifySignature(make([]byte, 32))
			_, _ = NewPublicGroup(gi, nil) // must not panic
		}
	})
}

type treeEncoder struct{ t *RatchetTree }

func (e treeEncoder) encode(w *writer) { e.t.encode(w) }

func FuzzDecodeRatchetTree(f *testing.F) {
	var vs []struct {
		CipherSuite uint16   `json:"cipher_suite"`
		Tree        hexBytes `json:"tree"`
	}
	loadTestVector(f, "tree-validation.json", &vs)
	for i, v := range vs {
		if v.CipherSuite == 1 && i%2 == 0 {
			f.Add([]byte(v.Tree))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := DecodeRatchetTree(1, b)
		if err != nil {
			return
		}
		checkReencode(t, b, treeEncoder{tr})
		// Exercise the tree algorithms on arbitrary (decodable) trees.
		_ = tr.TreeHash()
		_ = tr.Validate([]byte("g"), nil)
		for x := NodeIndex(0); uint32(x) < tr.width() && x < 64; x++ {
			_ = tr.Resolution(x)
		}
		for l := LeafIndex(0); uint32(l) < tr.NumLeaves() && l < 16; l++ {
			_ = tr.FilteredDirectPath(l)
		}
	})
}

// FuzzStageCommit feeds mutated commits and proposals to a small group: they
// must be rejected or accepted cleanly, never panic, and staging must never
// change the group.
func FuzzStageCommit(f *testing.F) {
	s := newSimGroup(f, 1, 5)
	f.Add(s.updateCommit(f, 1))
	add, _ := s.addCommit(f, 2)
	f.Add(add)
	f.Add(s.removeCommit(f, 0, 3))
	ext, _ := s.externalCommit(f, -1)
	f.Add(ext)
	ln := simLeafNode(1, s.keys[1], LeafNodeSourceUpdate)
	ln.Sign(s.keys[1], s.g.GroupID(), 1)
	f.Add(s.proposalMessage(f, Sender{Type: SenderMember, Index: 1}, s.keys[1], &Proposal{Type: ProposalUpdate, LeafNode: ln}))
	before := s.g.tree.Marshal()
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMLSMessage(b)
		if err != nil {
			return
		}
		if m.WireFormat == WireFormatPublicMessage && m.PublicMessage.Content.ContentType == ContentProposal {
			if _, err := s.g.ProcessProposal(m); err == nil {
				clear(s.g.proposals)
			}
			return
		}
		_, _ = s.g.StageCommit(m)
		if !bytes.Equal(s.g.tree.Marshal(), before) {
			t.Fatal("staging changed the group")
		}
	})
}
