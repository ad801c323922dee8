package mls

import (
	"bytes"
	"errors"
	"testing"
)

func TestDeserializationVectors(t *testing.T) {
	var vs []struct {
		Header hexBytes `json:"vlbytes_header"`
		Length int      `json:"length"`
	}
	loadTestVector(t, "deserialization.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range vs {
		n, hl, err := DecodeVarint(v.Header)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if n != v.Length || hl != len(v.Header) {
			t.Fatalf("case %d: got %d (%d header bytes), want %d (%d)", i, n, hl, v.Length, len(v.Header))
		}
		if enc := AppendVarint(nil, v.Length); !bytes.Equal(enc, v.Header) {
			t.Fatalf("case %d: encode %d = %x, want %x", i, v.Length, enc, v.Header)
		}
	}
}

func TestVarintRejects(t *testing.T) {
	for _, b := range [][]byte{
		{},                       // empty
		{0x40},                   // truncated
		{0x40, 0x3f},             // non-minimal 2-byte
		{0x80, 0x00, 0x3f, 0xff}, // non-minimal 4-byte
		{0xc0, 0, 0, 0, 0, 0, 0, 1},
	} {
		if _, _, err := DecodeVarint(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: err = %v, want ErrMalformed", b, err)
		}
	}
	// Trailing bytes.
	if _, err := DecodeCommit([]byte{0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing bytes accepted: %v", err)
	}
	// Vector longer than the input.
	if _, err := DecodeCommit([]byte{5, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated vector accepted: %v", err)
	}
}

func TestWriterVectorHeaders(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 100, 16383, 16384, 70000} {
		var w writer
		w.vector(func(w *writer) { w.raw(bytes.Repeat([]byte{7}, n)) })
		r := newReader(w.buf)
		got := r.opaque()
		if err := r.finish(); err != nil || len(got) != n {
			t.Fatalf("n=%d: %v len %d", n, err, len(got))
		}
	}
}

func TestTreeMathVectors(t *testing.T) {
	var vs []struct {
		NLeaves uint32    `json:"n_leaves"`
		NNodes  uint32    `json:"n_nodes"`
		Root    uint32    `json:"root"`
		Left    []*uint32 `json:"left"`
		Right   []*uint32 `json:"right"`
		Parent  []*uint32 `json:"parent"`
		Sibling []*uint32 `json:"sibling"`
	}
	loadTestVector(t, "tree-math.json", &vs)
	for _, v := range vs {
		if NodeWidth(v.NLeaves) != v.NNodes {
			t.Fatalf("n=%d: width %d, want %d", v.NLeaves, NodeWidth(v.NLeaves), v.NNodes)
		}
		root := Root(v.NLeaves)
		if uint32(root) != v.Root {
			t.Fatalf("n=%d: root %d, want %d", v.NLeaves, root, v.Root)
		}
		check := func(name string, want []*uint32, f func(x NodeIndex) (NodeIndex, bool)) {
			for i, w := range want {
				got, ok := f(NodeIndex(i))
				if (w == nil) != !ok || (w != nil && uint32(got) != *w) {
					t.Fatalf("n=%d %s(%d) = %d,%v want %v", v.NLeaves, name, i, got, ok, w)
				}
			}
		}
		check("left", v.Left, func(x NodeIndex) (NodeIndex, bool) {
			if x.IsLeaf() {
				return 0, false
			}
			return x.Left(), true
		})
		check("right", v.Right, func(x NodeIndex) (NodeIndex, bool) {
			if x.IsLeaf() {
				return 0, false
			}
			return x.Right(), true
		})
		check("parent", v.Parent, func(x NodeIndex) (NodeIndex, bool) {
			if x == root {
				return 0, false
			}
			return x.Parent(), true
		})
		check("sibling", v.Sibling, func(x NodeIndex) (NodeIndex, bool) {
			if x == root {
				return 0, false
			}
			return x.Sibling(), true
		})
	}
}
