package mls

// Merging a commit's UpdatePath into the public tree (RFC 9420 sections 7.5,
// 7.9, 12.4.2): path length and ciphertext counts against the filtered direct
// path, parent-hash chain, committer leaf validation, merge.

import (
	"bytes"
	"slices"
)

// applyUpdatePath merges path, sent by leaf l, into t (to which the commit's
// proposals are already applied). added are the leaves added by the same
// commit, which receive no path secret. v validates the new leaf; its index
// must not contain l.
func (t *RatchetTree) applyUpdatePath(v *validator, l LeafIndex, path *UpdatePath, added []LeafIndex, replaced *LeafNode) error {
	fdp, copath := t.filteredDirectPathWithCopath(l)
	if len(path.Nodes) != len(fdp) {
		return errorf(ErrInvalidCommit, "update path", "%d nodes, filtered direct path has %d", len(path.Nodes), len(fdp))
	}
	var skip func(LeafIndex) bool
	if len(added) > 0 {
		ls := make(leafSet, len(added))
		for i, l := range added {
			ls[i] = uint32(l)
		}
		slices.Sort(ls)
		skip = func(x LeafIndex) bool { return ls.has(uint32(x)) }
	}
	for i, c := range copath {
		want := t.resolutionSize(c, skip)
		if got := len(path.Nodes[i].EncryptedPathSecret); got != want {
			return errorf(ErrInvalidCommit, "update path", "node %d has %d encrypted path secrets, want %d", fdp[i], got, want)
		}
	}
	// Parent hashes, from the root down.
	nodes := make([]ParentNode, len(fdp))
	ph := []byte{}
	for i := len(fdp) - 1; i >= 0; i-- {
		nodes[i] = ParentNode{EncryptionKey: path.Nodes[i].EncryptionKey, ParentHash: ph}
		ph = parentHash(t.suite, &nodes[i], t.NodeHash(copath[i]))
	}
	ln := &path.LeafNode
	if !bytes.Equal(ln.ParentHash, ph) {
		return errorf(ErrInvalidCommit, "update path", "leaf parent_hash does not match the path")
	}
	if err := v.leafContent(ln, LeafNodeSourceCommit, l); err != nil {
		return err
	}
	if err := v.leafWithMembers(ln, replaced); err != nil {
		return err
	}
	t.blankDirectPath(l)
	for i, x := range fdp {
		t.setParent(x, &nodes[i])
	}
	t.setLeaf(l, ln)
	return nil
}

// MergeUpdatePath validates path from leaf l against the tree and merges it,
// as a non-member would when processing a commit with no proposals. It
// checks the leaf signature (with groupID), the parent-hash chain and the
// number of encrypted path secrets per node. For tests and tools; groups use
// PublicGroup.StageCommit.
func (t *RatchetTree) MergeUpdatePath(groupID []byte, l LeafIndex, path *UpdatePath) error {
	old := t.Leaf(l)
	if old == nil {
		return errorf(ErrInvalidCommit, "update path", "sender leaf %d is blank", l)
	}
	idx := buildMemberIndex(t).overlay()
	idx.remove(l, old)
	v := &validator{suite: t.suite, groupID: groupID, idx: idx}
	return t.applyUpdatePath(v, l, path, nil, old)
}
