package mls

// Building a committer's UpdatePath (RFC 9420 sections 7.5, 7.9, 12.4.1):
// the public half of what a committing member does. The key schedule and
// HPKE stay with the caller, which this package leaves to clients.

import "slices"

// PathFiller supplies the new HPKE public key of one node of a committer's
// filtered direct path and the path secret encrypted to each node of
// resolution (the resolution of the node's copath child, without the
// leaves the commit adds), in that order. A client derives the key from
// its path secret and encrypts the secret to the resolution's keys.
type PathFiller func(node NodeIndex, resolution []NodeIndex) (encryptionKey []byte, secrets []HPKECiphertext, err error)

// BuildUpdatePath builds the UpdatePath of a commit that committer (a
// member) sends covering proposals: it applies the proposals to a copy of
// the tree as StageCommit will, asks fill for each node of the filtered
// direct path, computes the parent-hash chain, and signs leaf as the
// committer's new leaf (source commit) with sk. The group is not changed.
func (g *PublicGroup) BuildUpdatePath(committer LeafIndex, proposals []ProposalOrRef, leaf LeafNode, sk *SigningKey, fill PathFiller) (*UpdatePath, error) {
	const op = "build update path"
	pm := &PublicMessage{Content: FramedContent{
		GroupID: g.ctx.GroupID, Epoch: g.ctx.Epoch, Sender: Sender{Type: SenderMember, Index: uint32(committer)},
		ContentType: ContentCommit, Commit: &Commit{Proposals: proposals},
	}}
	st := &staging{g: g, pm: pm, commit: pm.Content.Commit, committer: committer,
		sc: &StagedCommit{group: g, seq: g.seq}, byType: map[ProposalType]int{}}
	for _, step := range []func() error{st.resolveProposals, st.newEpochState, st.applyUpdates, st.applyRemoves, st.applyAdds} {
		if err := step(); err != nil {
			return nil, wrap(ErrInvalidCommit, op, err)
		}
	}
	if st.tree.Leaf(committer) == nil {
		return nil, errorf(ErrInvalidCommit, op, "committer leaf %d is blank", committer)
	}
	path, err := st.tree.fillPath(committer, st.sc.Added, fill)
	if err != nil {
		return nil, wrap(ErrInvalidCommit, op, err)
	}
	leaf.Source = LeafNodeSourceCommit
	leaf.ParentHash = path.LeafNode.ParentHash
	if err := leaf.Sign(sk, g.ctx.GroupID, uint32(committer)); err != nil {
		return nil, err
	}
	path.LeafNode = leaf
	return path, nil
}

// fillPath builds the path nodes of leaf l from the root down, each node's
// parent hash covering the node above; the returned leaf holds only the
// parent hash the committer's new leaf must carry.
func (t *RatchetTree) fillPath(l LeafIndex, added []LeafIndex, fill PathFiller) (*UpdatePath, error) {
	fdp, copath := t.filteredDirectPathWithCopath(l)
	path := &UpdatePath{Nodes: make([]UpdatePathNode, len(fdp))}
	ph := []byte{}
	for i := len(fdp) - 1; i >= 0; i-- {
		res := slices.DeleteFunc(t.Resolution(copath[i]), func(x NodeIndex) bool {
			return x.IsLeaf() && slices.Contains(added, x.Leaf())
		})
		key, secrets, err := fill(fdp[i], res)
		if err != nil {
			return nil, err
		}
		if len(secrets) != len(res) {
			return nil, errorf(ErrInvalidCommit, "fill path", "%d encrypted path secrets for a resolution of %d", len(secrets), len(res))
		}
		path.Nodes[i] = UpdatePathNode{EncryptionKey: key, EncryptedPathSecret: secrets}
		ph = parentHash(t.suite, &ParentNode{EncryptionKey: key, ParentHash: ph}, t.NodeHash(copath[i]))
	}
	path.LeafNode.ParentHash = ph
	return path, nil
}
