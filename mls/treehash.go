package mls

// Tree hashes and parent hashes (RFC 9420 sections 7.8, 7.9).

import (
	"bytes"
	"slices"
)

// leafSet is a sorted set of leaf indices.
type leafSet []uint32

func newLeafSet(l []uint32) leafSet {
	s := slices.Clone(l)
	slices.Sort(s)
	return s
}

func (s leafSet) has(l uint32) bool {
	_, ok := slices.BinarySearch(s, l)
	return ok
}

// anyIn reports whether the set holds a leaf of the subtree rooted at x.
func (s leafSet) anyIn(x NodeIndex) bool {
	span := uint32(1)<<x.Level() - 1
	lo := (uint32(x) - span) / 2
	hi := (uint32(x) + span) / 2
	i, _ := slices.BinarySearch(s, lo)
	return i < len(s) && s[i] <= hi
}

// TreeHash returns the tree hash of the root.
func (t *RatchetTree) TreeHash() []byte { return t.NodeHash(t.root()) }

// NodeHash returns the tree hash of the subtree rooted at x, computing only
// the hashes that are not cached.
func (t *RatchetTree) NodeHash(x NodeIndex) []byte {
	if h := t.get(x).hash; h != nil {
		return h
	}
	var w writer
	if x.IsLeaf() {
		t.leafHashInput(&w, x, t.get(x).leaf)
	} else {
		left := t.NodeHash(x.Left())
		right := t.NodeHash(x.Right())
		parentHashInputForTree(&w, t.get(x).parent, left, right)
	}
	h := t.suite.Hash(w.buf)
	t.hashOps++
	t.mut(x).hash = h
	return h
}

func (t *RatchetTree) leafHashInput(w *writer, x NodeIndex, ln *LeafNode) {
	w.u8(1)
	w.u32(uint32(x.Leaf()))
	w.optional(ln != nil)
	if ln != nil {
		ln.encode(w)
	}
}

func parentHashInputForTree(w *writer, p *ParentNode, left, right []byte) {
	w.u8(2)
	w.optional(p != nil)
	if p != nil {
		p.encode(w)
	}
	w.opaque(left)
	w.opaque(right)
}

// hashExcluding returns the tree hash of the subtree at x as if the leaves in
// excl were blank and removed from every unmerged_leaves list (the
// "original sibling tree hash" of RFC 9420 section 7.9). Subtrees without an
// excluded leaf use the cached hashes.
func (t *RatchetTree) hashExcluding(x NodeIndex, excl leafSet) []byte {
	if !excl.anyIn(x) {
		return t.NodeHash(x)
	}
	var w writer
	if x.IsLeaf() {
		t.leafHashInput(&w, x, nil)
	} else {
		left := t.hashExcluding(x.Left(), excl)
		right := t.hashExcluding(x.Right(), excl)
		p := t.get(x).parent
		if p != nil {
			q := *p
			q.UnmergedLeaves = nil
			for _, l := range p.UnmergedLeaves {
				if !excl.has(l) {
					q.UnmergedLeaves = append(q.UnmergedLeaves, l)
				}
			}
			p = &q
		}
		parentHashInputForTree(&w, p, left, right)
	}
	return t.suite.Hash(w.buf)
}

// parentHash computes the parent hash of parent node p (at x) for the child
// whose sibling has original tree hash siblingHash:
// Hash(ParentHashInput{encryption_key, parent_hash, original_sibling_tree_hash}).
func parentHash(cs CipherSuite, p *ParentNode, siblingHash []byte) []byte {
	var w writer
	w.opaque(p.EncryptionKey)
	w.opaque(p.ParentHash)
	w.opaque(siblingHash)
	return cs.Hash(w.buf)
}

// nodeParentHash returns the parent_hash field of a non-blank node.
func (t *RatchetTree) nodeParentHash(x NodeIndex) ([]byte, bool) {
	if uint32(x) >= t.width() {
		return nil, false
	}
	e := t.get(x)
	switch {
	case e.leaf != nil:
		if e.leaf.Source != LeafNodeSourceCommit {
			return nil, false
		}
		return e.leaf.ParentHash, true
	case e.parent != nil:
		return e.parent.ParentHash, true
	}
	return nil, false
}

// verifyParentHashes checks that every non-blank parent node is parent-hash
// valid (RFC 9420 section 7.9.2): some node D in the resolution of one of its
// children C (without P's unmerged leaves) carries as parent_hash the parent
// hash of P computed with the original tree hash of C's sibling.
func (t *RatchetTree) verifyParentHashes() error {
	w := t.width()
	for x := NodeIndex(1); uint32(x) < w; x += 2 {
		p := t.get(x).parent
		if p == nil {
			continue
		}
		ok := false
		unmerged := newLeafSet(p.UnmergedLeaves)
		for _, side := range [2]bool{false, true} {
			c, s := x.Left(), x.Right()
			if side {
				c, s = s, c
			}
			ph := parentHash(t.suite, p, t.hashExcluding(s, unmerged))
			for _, d := range t.Resolution(c) {
				if d.IsLeaf() && unmerged.has(uint32(d.Leaf())) {
					continue
				}
				if dph, has := t.nodeParentHash(d); has && bytes.Equal(dph, ph) {
					ok = true
					break
				}
			}
			if ok {
				break
			}
		}
		if !ok {
			return errorf(ErrInvalidTree, "verify parent hashes", "parent node %d is not parent-hash valid", x)
		}
	}
	return nil
}

// verifyUnmergedLeaves checks that each unmerged leaf of a parent P is a
// non-blank descendant of P and is also unmerged in every non-blank node
// between it and P.
func (t *RatchetTree) verifyUnmergedLeaves() error {
	w := t.width()
	sets := map[NodeIndex]leafSet{}
	set := func(x NodeIndex, p *ParentNode) leafSet {
		s, ok := sets[x]
		if !ok {
			s = newLeafSet(p.UnmergedLeaves)
			sets[x] = s
		}
		return s
	}
	for x := NodeIndex(1); uint32(x) < w; x += 2 {
		p := t.get(x).parent
		if p == nil {
			continue
		}
		own := set(x, p)
		for i := 1; i < len(own); i++ {
			if own[i] == own[i-1] {
				return errorf(ErrInvalidTree, "verify unmerged leaves", "leaf %d listed twice at node %d", own[i], x)
			}
		}
		for _, l := range p.UnmergedLeaves {
			ln := LeafIndex(l)
			if uint32(ln) >= t.nLeaves || !isAncestor(x, ln.Node()) {
				return errorf(ErrInvalidTree, "verify unmerged leaves", "leaf %d unmerged at node %d is not below it", l, x)
			}
			if t.get(ln.Node()).leaf == nil {
				return errorf(ErrInvalidTree, "verify unmerged leaves", "blank leaf %d unmerged at node %d", l, x)
			}
			for y := ln.Node().Parent(); y != x; y = y.Parent() {
				if q := t.get(y).parent; q != nil && !set(y, q).has(l) {
					return errorf(ErrInvalidTree, "verify unmerged leaves", "leaf %d unmerged at node %d but not at node %d", l, x, y)
				}
			}
		}
	}
	return nil
}
