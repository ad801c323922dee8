package mls

// Array-based tree math (RFC 9420 appendix C). Nodes are numbered left to
// right, leaves at even indices; trees always have a power-of-two number of
// leaves.

import "math/bits"

// NodeIndex is the index of a node in the array representation of the tree.
type NodeIndex uint32

// LeafIndex is the index of a leaf (node index / 2).
type LeafIndex uint32

// Node returns the node index of the leaf.
func (l LeafIndex) Node() NodeIndex { return NodeIndex(2 * l) }

// IsLeaf reports whether x is a leaf position.
func (x NodeIndex) IsLeaf() bool { return x&1 == 0 }

// Leaf returns the leaf index of a leaf node.
func (x NodeIndex) Leaf() LeafIndex { return LeafIndex(x >> 1) }

// Level is the height of x above the leaves (number of trailing one bits).
func (x NodeIndex) Level() uint { return uint(bits.TrailingZeros32(^uint32(x))) }

// NodeWidth is the number of nodes of a tree with n leaves.
func NodeWidth(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	return 2*(n-1) + 1
}

// Root is the root of a tree with n leaves.
func Root(n uint32) NodeIndex {
	if n == 0 {
		return 0
	}
	w := NodeWidth(n)
	return NodeIndex(1<<(bits.Len32(w)-1) - 1)
}

// Left child of a parent node.
func (x NodeIndex) Left() NodeIndex {
	k := x.Level()
	return x ^ (1 << (k - 1))
}

// Right child of a parent node.
func (x NodeIndex) Right() NodeIndex {
	k := x.Level()
	return x ^ (3 << (k - 1))
}

// Parent of a non-root node.
func (x NodeIndex) Parent() NodeIndex {
	k := x.Level()
	b := (x >> (k + 1)) & 1
	return (x | 1<<k) ^ (b << (k + 1))
}

// Sibling of a non-root node.
func (x NodeIndex) Sibling() NodeIndex {
	p := x.Parent()
	if x < p {
		return p.Right()
	}
	return p.Left()
}

// DirectPath of x in a tree with n leaves: its ancestors, up to and including
// the root, excluding x.
func DirectPath(x NodeIndex, n uint32) []NodeIndex {
	r := Root(n)
	var d []NodeIndex
	for x != r {
		x = x.Parent()
		d = append(d, x)
	}
	return d
}

// Copath of x: the siblings of x and of its ancestors below the root.
func Copath(x NodeIndex, n uint32) []NodeIndex {
	r := Root(n)
	var c []NodeIndex
	for x != r {
		c = append(c, x.Sibling())
		x = x.Parent()
	}
	return c
}

// isAncestor reports whether a is an ancestor of (or equal to) d.
func isAncestor(a, d NodeIndex) bool {
	k := a.Level()
	// The subtree of a spans [a - (2^k - 1), a + (2^k - 1)].
	span := NodeIndex(1)<<k - 1
	return d >= a-span && d <= a+span
}
