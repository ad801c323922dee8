package mls

// Trusted persistence of a PublicGroup for a service that stores groups:
// the scalar state (header) and the tree as one record per node, so that
// a commit rewrites only the nodes it changed (O(log n) of them), and a
// restore rebuilds the group from records this package wrote itself
// without redoing the O(n) validation (no signature is verified again,
// cached tree hashes are taken as stored). Restore from untrusted bytes
// with NewPublicGroup instead.

import (
	"bytes"
	"time"
)

// NodeRecord is one node of a stored tree. Data is the node's encoding,
// optional<Node> followed by opaque tree_hash<V> (empty when not cached);
// a blank node without a cached hash has no record.
type NodeRecord struct {
	Index NodeIndex
	Data  []byte
}

func encodeHeader(ctx *GroupContext, interim, tag []byte, nLeaves uint32, reinit *ReInit) []byte {
	var w writer
	ctx.encode(&w)
	w.opaque(interim)
	w.opaque(tag)
	w.u32(nLeaves)
	w.optional(reinit != nil)
	if reinit != nil {
		(&Proposal{Type: ProposalReInit, ReInit: reinit}).encodeBody(&w)
	}
	return w.buf
}

// MarshalHeader returns the group's scalar state: GroupContext, interim
// transcript hash, confirmation tag, tree width and ReInit.
func (g *PublicGroup) MarshalHeader() []byte {
	return encodeHeader(g.ctx, g.interim, g.confirmationTag, g.tree.nLeaves, g.reinit)
}

// MarshalHeader returns the header of the state the commit leads to.
func (sc *StagedCommit) MarshalHeader() []byte {
	return encodeHeader(sc.ctx, sc.interim, sc.confirmationTag, sc.tree.nLeaves, sc.ReInit)
}

func encodeNode(t *RatchetTree, x NodeIndex) ([]byte, bool) {
	e := t.get(x)
	if e.blank() && e.hash == nil {
		return nil, false
	}
	var w writer
	w.optional(!e.blank())
	switch {
	case e.leaf != nil:
		w.u8(1)
		e.leaf.encode(&w)
	case e.parent != nil:
		w.u8(2)
		e.parent.encode(&w)
	}
	w.opaque(e.hash)
	return w.buf, true
}

// NodeRecords returns the records of every node of the group's tree.
func (g *PublicGroup) NodeRecords() []NodeRecord {
	g.tree.TreeHash() // cache every hash, so a restore hashes nothing
	var out []NodeRecord
	for x := range g.tree.width() {
		if d, ok := encodeNode(g.tree, NodeIndex(x)); ok {
			out = append(out, NodeRecord{Index: NodeIndex(x), Data: d})
		}
	}
	return out
}

// TreeChanges describes how a commit changes the stored tree.
type TreeChanges struct {
	// Width is the new tree's width in nodes; records at or beyond it
	// are to be deleted.
	Width uint32
	// Put are the records to write (insert or replace).
	Put []NodeRecord
	// Delete are node indexes below Width whose record is to be deleted
	// (the node became blank and has no cached hash).
	Delete []NodeIndex
}

// TreeChanges returns the node records that differ between the group's
// current tree and the staged one. Its cost is one pointer comparison per
// 64 nodes plus the changed chunks, so O(log n) chunks for a commit.
func (sc *StagedCommit) TreeChanges() TreeChanges {
	return diffTrees(sc.group.tree, sc.tree)
}

func diffTrees(old, cur *RatchetTree) TreeChanges {
	cur.TreeHash()
	ch := TreeChanges{Width: cur.width()}
	oldWidth := old.width()
	for ci, c := range cur.chunks {
		if ci < len(old.chunks) && old.chunks[ci] == c {
			continue
		}
		for i := range chunkSize {
			x := NodeIndex(ci<<chunkShift + i)
			if uint32(x) >= ch.Width {
				break
			}
			if uint32(x) < oldWidth && sameEntry(old.get(x), cur.get(x)) {
				continue
			}
			if d, ok := encodeNode(cur, x); ok {
				ch.Put = append(ch.Put, NodeRecord{Index: x, Data: d})
			} else if uint32(x) < oldWidth {
				ch.Delete = append(ch.Delete, x)
			}
		}
	}
	return ch
}

func sameEntry(a, b *entry) bool {
	return a.leaf == b.leaf && a.parent == b.parent && bytes.Equal(a.hash, b.hash)
}

// RestorePublicGroup rebuilds a group from a header and node records
// written by MarshalHeader, NodeRecords and TreeChanges. The input is
// trusted: only its syntax is checked (errors of kind ErrMalformed). The
// cost is decoding plus an O(n) member index build, without signature
// verification or hashing. Pending proposals are not part of the stored
// state; re-process them with ProcessProposal.
func RestorePublicGroup(header []byte, nodes []NodeRecord, opts ...Option) (*PublicGroup, error) {
	const op = "restore public group"
	cfg := config{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	g := &PublicGroup{cfg: cfg, ctx: new(GroupContext), proposals: map[string]*PendingProposal{}}
	var nLeaves uint32
	err := decodeAll(header, func(r *reader) {
		g.ctx.decode(r)
		g.interim = r.opaque()
		g.confirmationTag = r.opaque()
		nLeaves = r.u32()
		if r.optional() {
			p := &Proposal{Type: ProposalReInit}
			p.decodeBody(r)
			g.reinit = p.ReInit
		}
	})
	if err != nil {
		return nil, wrap(ErrMalformed, op, err)
	}
	g.suite = g.ctx.CipherSuite
	if !g.suite.Supported() || nLeaves == 0 || nLeaves&(nLeaves-1) != 0 {
		return nil, errorf(ErrMalformed, op, "cipher suite %d, %d leaves", g.suite, nLeaves)
	}
	t, err := restoreTree(g.suite, nLeaves, nodes)
	if err != nil {
		return nil, wrap(ErrMalformed, op, err)
	}
	g.tree = t
	g.idx = buildMemberIndex(t)
	return g, nil
}

func restoreTree(cs CipherSuite, nLeaves uint32, nodes []NodeRecord) (*RatchetTree, error) {
	t := newTree(cs, nLeaves)
	hashes := make(map[NodeIndex][]byte, len(nodes))
	for _, n := range nodes {
		if uint32(n.Index) >= t.width() {
			return nil, errorf(ErrMalformed, "restore tree", "node %d beyond width %d", n.Index, t.width())
		}
		e := t.mut(n.Index)
		err := decodeAll(n.Data, func(r *reader) {
			if r.optional() {
				decodeStoredNode(r, n.Index, e)
			}
			if h := r.opaque(); len(h) > 0 {
				hashes[n.Index] = h
			}
		})
		if err != nil {
			return nil, err
		}
	}
	t.recount(t.root())
	for x, h := range hashes {
		t.mut(x).hash = h
	}
	return t, nil
}

func decodeStoredNode(r *reader, x NodeIndex, e *entry) {
	switch typ := r.u8(); {
	case typ == 1 && x.IsLeaf():
		e.leaf = new(LeafNode)
		e.leaf.decode(r)
	case typ == 2 && !x.IsLeaf():
		e.parent = new(ParentNode)
		e.parent.decode(r)
	default:
		r.fail("node type %d at node %d", typ, x)
	}
}

// Leaf returns the member at leaf l, or nil if the leaf is blank.
func (g *PublicGroup) Leaf(l LeafIndex) *LeafNode { return g.tree.Leaf(l) }

// NumMembers returns the number of members.
func (g *PublicGroup) NumMembers() uint32 { return g.tree.NumMembers() }

// Members calls f for each member in leaf order until f returns false.
func (g *PublicGroup) Members(f func(LeafIndex, *LeafNode) bool) { g.tree.Members(f) }

// LeafBySignatureKey returns the leaf whose signature key is key, in O(1).
func (g *PublicGroup) LeafBySignatureKey(key []byte) (LeafIndex, bool) {
	return g.idx.sigKeyOwner(key)
}

// MarshalTree returns the encoded ratchet tree (as in the ratchet_tree
// extension).
func (g *PublicGroup) MarshalTree() []byte { return g.tree.Marshal() }
