package mls

// The public ratchet tree (RFC 9420 section 7): array storage with
// copy-on-write chunks (so staging a commit copies O(log n) chunks, not the
// tree), per-subtree occupancy counts (so resolutions, the filtered direct
// path, truncation and the leftmost free leaf cost O(log n) plus the size of
// the answer), and cached tree hashes (see treehash.go).

import (
	"bytes"
	"sync/atomic"
)

type entry struct {
	leaf   *LeafNode   // leaf positions
	parent *ParentNode // parent positions
	hash   []byte      // cached tree hash of the subtree; nil if unknown
	leaves uint32      // non-blank leaves in the subtree
	nodes  uint32      // non-blank nodes in the subtree
}

func (e *entry) blank() bool { return e.leaf == nil && e.parent == nil }

const (
	chunkShift = 6
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1
)

type chunk struct {
	gen uint64
	e   [chunkSize]entry
}

var genCounter atomic.Uint64

func nextGen() uint64 { return genCounter.Add(1) }

// RatchetTree is the public part of a ratchet tree. It is not safe for
// concurrent use.
type RatchetTree struct {
	suite   CipherSuite
	nLeaves uint32 // power of two
	chunks  []*chunk
	gen     uint64
	// hashOps counts node hashes computed (carried over by Clone); it
	// lets tests and benchmarks check that hashing stays O(log n) per
	// commit.
	hashOps uint64
}

var blankEntry entry

// newTree returns an empty tree of nLeaves (a power of two) blank leaves.
func newTree(cs CipherSuite, nLeaves uint32) *RatchetTree {
	t := &RatchetTree{suite: cs, gen: nextGen()}
	t.resize(nLeaves)
	return t
}

func (t *RatchetTree) width() uint32 { return NodeWidth(t.nLeaves) }

// resize sets the number of leaves; new nodes are blank.
func (t *RatchetTree) resize(nLeaves uint32) {
	old := t.width()
	t.nLeaves = nLeaves
	w := t.width()
	need := int((w + chunkSize - 1) >> chunkShift)
	for len(t.chunks) < need {
		t.chunks = append(t.chunks, &chunk{gen: t.gen})
	}
	t.chunks = t.chunks[:need]
	for x := old; x < w; x++ {
		*t.mut(NodeIndex(x)) = blankEntry
	}
}

// get returns the entry of x for reading. x must be < width.
func (t *RatchetTree) get(x NodeIndex) *entry {
	return &t.chunks[x>>chunkShift].e[x&chunkMask]
}

// mut returns the entry of x for writing, copying its chunk if it is shared.
func (t *RatchetTree) mut(x NodeIndex) *entry {
	c := t.chunks[x>>chunkShift]
	if c.gen != t.gen {
		cp := *c
		cp.gen = t.gen
		c = &cp
		t.chunks[x>>chunkShift] = c
	}
	return &c.e[x&chunkMask]
}

// Clone returns a copy of the tree that shares storage with t until either
// is modified.
func (t *RatchetTree) Clone() *RatchetTree {
	c := &RatchetTree{suite: t.suite, nLeaves: t.nLeaves, gen: nextGen(), hashOps: t.hashOps}
	c.chunks = append(make([]*chunk, 0, len(t.chunks)+1), t.chunks...)
	t.gen = nextGen()
	return c
}

// CipherSuite returns the tree's cipher suite.
func (t *RatchetTree) CipherSuite() CipherSuite { return t.suite }

// NumLeaves is the width of the tree in leaves (a power of two).
func (t *RatchetTree) NumLeaves() uint32 { return t.nLeaves }

// NumMembers is the number of non-blank leaves.
func (t *RatchetTree) NumMembers() uint32 { return t.get(t.root()).leaves }

func (t *RatchetTree) root() NodeIndex { return Root(t.nLeaves) }

// Leaf returns the leaf node at l, or nil if blank or out of range.
func (t *RatchetTree) Leaf(l LeafIndex) *LeafNode {
	if uint32(l) >= t.nLeaves {
		return nil
	}
	return t.get(l.Node()).leaf
}

// Parent returns the parent node at x, or nil if blank or out of range.
func (t *RatchetTree) Parent(x NodeIndex) *ParentNode {
	if uint32(x) >= t.width() || x.IsLeaf() {
		return nil
	}
	return t.get(x).parent
}

// IsBlank reports whether node x is blank.
func (t *RatchetTree) IsBlank(x NodeIndex) bool {
	return uint32(x) >= t.width() || t.get(x).blank()
}

// invalidate clears the cached hashes of x and its ancestors.
func (t *RatchetTree) invalidate(x NodeIndex) {
	r := t.root()
	for {
		if t.get(x).hash != nil {
			t.mut(x).hash = nil
		}
		if x == r {
			return
		}
		x = x.Parent()
	}
}

// adjustCounts adds dl to the leaf counts and dn to the node counts of x and
// its ancestors.
func (t *RatchetTree) adjustCounts(x NodeIndex, dl, dn int32) {
	r := t.root()
	for {
		e := t.mut(x)
		e.leaves = uint32(int32(e.leaves) + dl)
		e.nodes = uint32(int32(e.nodes) + dn)
		e.hash = nil
		if x == r {
			return
		}
		x = x.Parent()
	}
}

// setLeaf replaces (or blanks, with nil) the leaf at l.
func (t *RatchetTree) setLeaf(l LeafIndex, ln *LeafNode) {
	x := l.Node()
	e := t.mut(x)
	was := e.leaf != nil
	e.leaf = ln
	switch {
	case was && ln == nil:
		t.adjustCounts(x, -1, -1)
	case !was && ln != nil:
		t.adjustCounts(x, 1, 1)
	default:
		t.invalidate(x)
	}
}

// setParent replaces (or blanks, with nil) the parent node at x.
func (t *RatchetTree) setParent(x NodeIndex, p *ParentNode) {
	e := t.mut(x)
	was := e.parent != nil
	e.parent = p
	switch {
	case was && p == nil:
		t.adjustCounts(x, 0, -1)
	case !was && p != nil:
		t.adjustCounts(x, 0, 1)
	default:
		t.invalidate(x)
	}
}

// blankDirectPath blanks every parent on the direct path of leaf l.
func (t *RatchetTree) blankDirectPath(l LeafIndex) {
	r := t.root()
	x := l.Node()
	for x != r {
		x = x.Parent()
		if t.get(x).parent != nil {
			t.setParent(x, nil)
		}
	}
}

// Resolution returns the resolution of node x (RFC 9420 section 4.1.1).
func (t *RatchetTree) Resolution(x NodeIndex) []NodeIndex {
	return t.appendResolution(nil, x)
}

func (t *RatchetTree) appendResolution(out []NodeIndex, x NodeIndex) []NodeIndex {
	e := t.get(x)
	switch {
	case e.nodes == 0:
		return out
	case e.leaf != nil:
		return append(out, x)
	case e.parent != nil:
		out = append(out, x)
		for _, l := range e.parent.UnmergedLeaves {
			out = append(out, LeafIndex(l).Node())
		}
		return out
	default:
		out = t.appendResolution(out, x.Left())
		return t.appendResolution(out, x.Right())
	}
}

// resolutionSize returns len(Resolution(x)) minus the resolved nodes for
// which skip returns true.
func (t *RatchetTree) resolutionSize(x NodeIndex, skip func(LeafIndex) bool) int {
	e := t.get(x)
	switch {
	case e.nodes == 0:
		return 0
	case e.leaf != nil:
		if skip != nil && skip(x.Leaf()) {
			return 0
		}
		return 1
	case e.parent != nil:
		n := 1
		for _, l := range e.parent.UnmergedLeaves {
			if skip == nil || !skip(LeafIndex(l)) {
				n++
			}
		}
		return n
	default:
		return t.resolutionSize(x.Left(), skip) + t.resolutionSize(x.Right(), skip)
	}
}

// FilteredDirectPath returns the filtered direct path of leaf l: its direct
// path without the nodes whose copath child has an empty resolution.
func (t *RatchetTree) FilteredDirectPath(l LeafIndex) []NodeIndex {
	path, _ := t.filteredDirectPathWithCopath(l)
	return path
}

// filteredDirectPathWithCopath returns the filtered direct path with the
// copath child of each node.
func (t *RatchetTree) filteredDirectPathWithCopath(l LeafIndex) (path, copath []NodeIndex) {
	r := t.root()
	x := l.Node()
	for x != r {
		s := x.Sibling()
		x = x.Parent()
		if t.get(s).nodes > 0 {
			path = append(path, x)
			copath = append(copath, s)
		}
	}
	return path, copath
}

// leftmostFreeLeaf returns the leftmost blank leaf, or false if none.
func (t *RatchetTree) leftmostFreeLeaf() (LeafIndex, bool) {
	x := t.root()
	if t.get(x).leaves == t.nLeaves {
		return 0, false
	}
	for !x.IsLeaf() {
		left := x.Left()
		size := uint32(1) << (left.Level())
		if t.get(left).leaves < size {
			x = left
		} else {
			x = x.Right()
		}
	}
	return x.Leaf(), true
}

// addLeaf inserts ln at the leftmost blank leaf (extending the tree if it
// is full) and records it as unmerged on its direct path.
func (t *RatchetTree) addLeaf(ln *LeafNode) LeafIndex {
	l, ok := t.leftmostFreeLeaf()
	if !ok {
		l = LeafIndex(t.nLeaves)
		t.extend()
	}
	t.setLeaf(l, ln)
	r := t.root()
	x := l.Node()
	for x != r {
		x = x.Parent()
		if p := t.get(x).parent; p != nil {
			t.setParent(x, p.withUnmerged(uint32(l)))
		}
	}
	return l
}

// extend doubles the width of the tree.
func (t *RatchetTree) extend() {
	oldRoot := t.root()
	old := *t.get(oldRoot)
	t.resize(2 * t.nLeaves)
	e := t.mut(t.root())
	e.leaves, e.nodes, e.hash = old.leaves, old.nodes, nil
}

// truncate halves the tree while its right half holds no leaf (RFC 9420
// section 7.8).
func (t *RatchetTree) truncate() {
	for t.nLeaves > 1 {
		r := t.root()
		if t.get(r.Right()).nodes > 0 {
			return
		}
		t.resize(t.nLeaves / 2)
	}
}

// removeLeaf blanks leaf l and its direct path, then truncates.
func (t *RatchetTree) removeLeaf(l LeafIndex) {
	t.setLeaf(l, nil)
	t.blankDirectPath(l)
	t.truncate()
}

// updateLeaf replaces leaf l and blanks its direct path.
func (t *RatchetTree) updateLeaf(l LeafIndex, ln *LeafNode) {
	t.setLeaf(l, ln)
	t.blankDirectPath(l)
}

// Marshal encodes the tree as optional<Node> ratchet_tree<V>, omitting
// trailing blank nodes.
func (t *RatchetTree) Marshal() []byte {
	var w writer
	t.encode(&w)
	return w.buf
}

func (t *RatchetTree) encode(w *writer) {
	w.vector(func(w *writer) {
		last := int(t.width()) - 1
		for last >= 0 && t.get(NodeIndex(last)).blank() {
			last--
		}
		for x := 0; x <= last; x++ {
			e := t.get(NodeIndex(x))
			switch {
			case e.leaf != nil:
				w.u8(1)
				w.u8(1)
				e.leaf.encode(w)
			case e.parent != nil:
				w.u8(1)
				w.u8(2)
				e.parent.encode(w)
			default:
				w.u8(0)
			}
		}
	})
}

// DecodeRatchetTree decodes a ratchet_tree (as in the ratchet_tree
// extension). It checks only the syntax: node types at the right positions,
// last node non-blank. Use ValidateTree (or NewPublicGroup) to check the
// content.
func DecodeRatchetTree(cs CipherSuite, b []byte) (*RatchetTree, error) {
	if !cs.Supported() {
		return nil, errorf(ErrUnsupported, "decode ratchet tree", "cipher suite %d", cs)
	}
	var t *RatchetTree
	err := decodeAll(b, func(r *reader) { t = decodeTree(cs, r) })
	if err != nil {
		return nil, wrap(ErrMalformed, "decode ratchet tree", err)
	}
	return t, nil
}

func decodeTree(cs CipherSuite, r *reader) *RatchetTree {
	type node struct {
		leaf   *LeafNode
		parent *ParentNode
	}
	var nodes []node
	r.each(func(r *reader) {
		var n node
		if r.optional() {
			switch r.u8() {
			case 1:
				if len(nodes)%2 != 0 {
					r.fail("leaf node at parent position %d", len(nodes))
					return
				}
				n.leaf = new(LeafNode)
				n.leaf.decode(r)
			case 2:
				if len(nodes)%2 != 1 {
					r.fail("parent node at leaf position %d", len(nodes))
					return
				}
				n.parent = new(ParentNode)
				n.parent.decode(r)
			default:
				r.fail("invalid node type")
				return
			}
		}
		if len(nodes) >= 1<<31 {
			r.fail("tree too large")
			return
		}
		nodes = append(nodes, n)
	})
	if r.err != nil {
		return nil
	}
	if len(nodes) == 0 {
		r.fail("empty ratchet tree")
		return nil
	}
	if last := nodes[len(nodes)-1]; last.leaf == nil && last.parent == nil {
		r.fail("last node of ratchet tree is blank")
		return nil
	}
	nLeaves := uint32(1)
	for NodeWidth(nLeaves) < uint32(len(nodes)) {
		nLeaves *= 2
	}
	t := newTree(cs, nLeaves)
	for i, n := range nodes {
		e := t.mut(NodeIndex(i))
		e.leaf, e.parent = n.leaf, n.parent
	}
	t.recount(t.root())
	return t
}

// recount recomputes the occupancy counts of the subtree at x.
func (t *RatchetTree) recount(x NodeIndex) (leaves, nodes uint32) {
	e := t.mut(x)
	if x.IsLeaf() {
		if e.leaf != nil {
			e.leaves, e.nodes = 1, 1
		} else {
			e.leaves, e.nodes = 0, 0
		}
		return e.leaves, e.nodes
	}
	l1, n1 := t.recount(x.Left())
	l2, n2 := t.recount(x.Right())
	e = t.mut(x)
	e.leaves = l1 + l2
	e.nodes = n1 + n2
	if e.parent != nil {
		e.nodes++
	}
	e.hash = nil
	return e.leaves, e.nodes
}

// Equal reports whether two trees have the same encoding.
func (t *RatchetTree) Equal(o *RatchetTree) bool {
	return bytes.Equal(t.Marshal(), o.Marshal())
}

// Members calls f for each non-blank leaf in order until f returns false.
func (t *RatchetTree) Members(f func(LeafIndex, *LeafNode) bool) {
	t.members(t.root(), f)
}

func (t *RatchetTree) members(x NodeIndex, f func(LeafIndex, *LeafNode) bool) bool {
	e := t.get(x)
	if e.leaves == 0 {
		return true
	}
	if x.IsLeaf() {
		return f(x.Leaf(), e.leaf)
	}
	return t.members(x.Left(), f) && t.members(x.Right(), f)
}
