package mls

// Staging and merging commits (RFC 9420 sections 12.2, 12.3, 12.4.2).

import (
	"bytes"
	"slices"
)

// AppliedProposal is a proposal covered by a commit, with its sender.
type AppliedProposal struct {
	Proposal *Proposal
	Sender   Sender
	Ref      []byte // nil for proposals included by value
}

// StagedCommit is a validated commit and the state it leads to. It does not
// change the group until merged.
type StagedCommit struct {
	group *PublicGroup
	seq   uint64

	ctx             *GroupContext
	tree            *RatchetTree
	idx             *memberIndex
	interim         []byte
	confirmationTag []byte

	// Committer is the committer's leaf in the new tree (for an external
	// commit, the leaf the joiner was placed at).
	Committer LeafIndex
	// External reports an external commit (sender new_member_commit).
	External bool
	// Proposals are the proposals the commit covers, in commit order.
	Proposals []AppliedProposal
	// Added, Removed and Updated list the leaves changed by proposals.
	Added, Removed, Updated []LeafIndex
	// AddedKeyPackageRefs are the KeyPackageRefs of the added members, in
	// order: the recipients the commit's Welcome must address.
	AddedKeyPackageRefs [][]byte
	// ReInit is set if the commit covers a ReInit proposal.
	ReInit *ReInit
	// HasPath reports whether the commit carried an UpdatePath.
	HasPath bool
}

// GroupContext returns the GroupContext of the new epoch.
func (sc *StagedCommit) GroupContext() *GroupContext { return sc.ctx.clone() }

// Tree returns a copy of the new ratchet tree.
func (sc *StagedCommit) Tree() *RatchetTree { return sc.tree.Clone() }

// InterimTranscriptHash of the new epoch.
func (sc *StagedCommit) InterimTranscriptHash() []byte { return sc.interim }

// VerifyGroupInfo checks a GroupInfo for the new epoch against the state
// computed by StageCommit (see PublicGroup.VerifyGroupInfo).
func (sc *StagedCommit) VerifyGroupInfo(gi *GroupInfo) error {
	return verifyGroupInfo(gi, sc.ctx, sc.tree, sc.confirmationTag)
}

// CheckWelcome checks that a Welcome sent with the commit uses the group's
// cipher suite and is addressed only to members the commit adds.
func (sc *StagedCommit) CheckWelcome(w *Welcome) error {
	if w.CipherSuite != sc.ctx.CipherSuite {
		return errorf(ErrInvalidMessage, "check Welcome", "cipher suite %d, group %d", w.CipherSuite, sc.ctx.CipherSuite)
	}
	for _, s := range w.Secrets {
		added := func(ref []byte) bool { return bytes.Equal(ref, s.NewMember) }
		if !slices.ContainsFunc(sc.AddedKeyPackageRefs, added) {
			return errorf(ErrInvalidMessage, "check Welcome", "addressed to a KeyPackage the commit does not add")
		}
	}
	return nil
}

func commitErr(format string, args ...any) error {
	return errorf(ErrInvalidCommit, "stage commit", format, args...)
}

// StageCommit validates a commit (sent as a PublicMessage) and computes the
// next epoch's public state without changing the group: signature against the
// current GroupContext, proposal list rules, proposal application in the
// RFC's order (GroupContextExtensions, Update, Remove, Add), UpdatePath
// merge with parent-hash check, new tree hash, transcript hashes and
// GroupContext. The confirmation tag cannot be checked without the
// confirmation key.
func (g *PublicGroup) StageCommit(msg *MLSMessage) (*StagedCommit, error) {
	const op = "stage commit"
	if g.reinit != nil {
		return nil, errorf(ErrInvalidCommit, op, "group was reinitialised")
	}
	pm, err := g.publicContent(msg, ContentCommit)
	if err != nil {
		return nil, wrap(ErrInvalidCommit, op, err)
	}
	sc, err := g.stage(pm)
	if err != nil {
		return nil, wrap(ErrInvalidCommit, op, err)
	}
	return sc, nil
}

func (g *PublicGroup) stage(pm *PublicMessage) (*StagedCommit, error) {
	fc := &pm.Content
	commit := fc.Commit
	external := fc.Sender.Type == SenderNewMemberCommit
	committer := LeafIndex(fc.Sender.Index)
	sc := &StagedCommit{group: g, seq: g.seq, External: external}

	// Resolve the proposal list.
	byType := map[ProposalType]int{}
	for _, por := range commit.Proposals {
		ap := AppliedProposal{Proposal: por.Proposal, Sender: fc.Sender}
		if por.Proposal == nil {
			if external {
				return nil, commitErr("external commit includes a proposal by reference")
			}
			pp := g.proposals[string(por.Reference)]
			if pp == nil {
				return nil, errorf(ErrUnknownProposal, "stage commit", "proposal reference %x", por.Reference)
			}
			ap = AppliedProposal{Proposal: pp.Proposal, Sender: pp.Sender, Ref: pp.Ref}
		} else if err := g.validateInline(ap.Proposal, fc.Sender); err != nil {
			return nil, err
		}
		byType[ap.Proposal.Type]++
		sc.Proposals = append(sc.Proposals, ap)
	}

	// List rules (RFC 9420 12.2).
	pathRequired := len(sc.Proposals) == 0 || external
	touched := map[LeafIndex]bool{}
	var psks [][]byte
	for _, ap := range sc.Proposals {
		p := ap.Proposal
		switch p.Type {
		case ProposalUpdate:
			pathRequired = true
			if ap.Ref == nil {
				return nil, commitErr("Update proposal by value")
			}
			l := LeafIndex(ap.Sender.Index)
			if !external && l == committer {
				return nil, commitErr("commit covers the committer's own Update")
			}
			if touched[l] {
				return nil, commitErr("several Update/Remove proposals for leaf %d", l)
			}
			touched[l] = true
		case ProposalRemove:
			pathRequired = true
			l := LeafIndex(p.Removed)
			if !external && l == committer {
				return nil, commitErr("commit removes the committer")
			}
			if touched[l] {
				return nil, commitErr("several Update/Remove proposals for leaf %d", l)
			}
			touched[l] = true
		case ProposalPSK:
			id := p.PSK.Marshal()
			for _, o := range psks {
				if bytes.Equal(o, id) {
					return nil, commitErr("duplicate PreSharedKey proposal")
				}
			}
			psks = append(psks, id)
		case ProposalReInit:
			if len(sc.Proposals) != 1 {
				return nil, commitErr("ReInit together with other proposals")
			}
			sc.ReInit = p.ReInit
		case ProposalExternalInit:
			pathRequired = true
			if !external {
				return nil, commitErr("ExternalInit in a member commit")
			}
		case ProposalGroupContextExtensions:
			pathRequired = true
		}
	}
	if byType[ProposalGroupContextExtensions] > 1 {
		return nil, commitErr("several GroupContextExtensions proposals")
	}
	if external {
		if byType[ProposalExternalInit] != 1 {
			return nil, commitErr("external commit must contain exactly one ExternalInit")
		}
		if byType[ProposalRemove] > 1 {
			return nil, commitErr("external commit contains more than one Remove")
		}
		for t, n := range byType {
			if n > 0 && t != ProposalExternalInit && t != ProposalRemove && t != ProposalPSK {
				return nil, commitErr("external commit contains proposal type %d", t)
			}
		}
	}
	if pathRequired && commit.Path == nil {
		return nil, commitErr("path required but absent")
	}

	// Apply, in order, to copies of the state.
	tree := g.tree.Clone()
	idx := g.idx.overlay()
	ctx := g.ctx.clone()
	// GroupContextExtensions proposals were checked against g.idx by
	// validateProposal (on receipt, or in validateInline for inline ones).
	for _, ap := range sc.Proposals {
		if ap.Proposal.Type == ProposalGroupContextExtensions {
			ctx.Extensions = ap.Proposal.Extensions
		}
	}
	v, err := g.validator(idx, ctx.Extensions)
	if err != nil {
		return nil, err
	}
	for _, ap := range sc.Proposals {
		if ap.Proposal.Type != ProposalUpdate {
			continue
		}
		l := LeafIndex(ap.Sender.Index)
		old := tree.Leaf(l)
		if old == nil {
			return nil, commitErr("Update from removed leaf %d", l)
		}
		idx.remove(l, old)
		if err := v.leafContent(ap.Proposal.LeafNode, LeafNodeSourceUpdate, l); err != nil {
			return nil, err
		}
		if err := v.leafWithMembers(ap.Proposal.LeafNode, old); err != nil {
			return nil, err
		}
		tree.updateLeaf(l, ap.Proposal.LeafNode)
		idx.add(l, ap.Proposal.LeafNode)
		sc.Updated = append(sc.Updated, l)
	}
	for _, ap := range sc.Proposals {
		if ap.Proposal.Type != ProposalRemove {
			continue
		}
		l := LeafIndex(ap.Proposal.Removed)
		old := tree.Leaf(l)
		if old == nil {
			return nil, commitErr("Remove of blank leaf %d", l)
		}
		idx.remove(l, old)
		tree.removeLeaf(l)
		sc.Removed = append(sc.Removed, l)
	}
	for _, ap := range sc.Proposals {
		if ap.Proposal.Type != ProposalAdd {
			continue
		}
		kp := ap.Proposal.KeyPackage
		// The KeyPackage itself was validated on receipt (by reference)
		// or in validateInline (by value); check it against the members
		// and the new epoch's required capabilities here.
		if err := supportsRequired(&kp.LeafNode.Capabilities, v.required); err != nil {
			return nil, wrap(ErrInvalidProposal, "Add", err)
		}
		if err := v.leafWithMembers(&kp.LeafNode, nil); err != nil {
			return nil, wrap(ErrInvalidProposal, "Add", err)
		}
		l := tree.addLeaf(&kp.LeafNode)
		idx.add(l, &kp.LeafNode)
		ref, _ := kp.Ref()
		sc.Added = append(sc.Added, l)
		sc.AddedKeyPackageRefs = append(sc.AddedKeyPackageRefs, ref)
	}

	// The committer's leaf and the path.
	if external {
		l, ok := tree.leftmostFreeLeaf()
		if !ok {
			l = LeafIndex(tree.nLeaves)
			tree.extend()
		}
		committer = l
		if err := tree.applyUpdatePath(v, l, commit.Path, sc.Added, nil); err != nil {
			return nil, err
		}
		idx.add(l, &commit.Path.LeafNode)
	} else {
		old := tree.Leaf(committer)
		if old == nil {
			return nil, commitErr("committer leaf %d is blank", committer)
		}
		if commit.Path != nil {
			idx.remove(committer, old)
			if err := tree.applyUpdatePath(v, committer, commit.Path, sc.Added, old); err != nil {
				return nil, err
			}
			idx.add(committer, &commit.Path.LeafNode)
		}
	}
	sc.Committer = committer
	sc.HasPath = commit.Path != nil

	// The next GroupContext and transcript hashes.
	ac := pm.AuthenticatedContent()
	ctx.Epoch++
	ctx.TreeHash = tree.TreeHash()
	ctx.ConfirmedTranscriptHash = ConfirmedTranscriptHash(g.suite, g.interim, ac)
	sc.interim = InterimTranscriptHash(g.suite, ctx.ConfirmedTranscriptHash, pm.Auth.ConfirmationTag)
	sc.confirmationTag = pm.Auth.ConfirmationTag
	sc.ctx, sc.tree, sc.idx = ctx, tree, idx
	return sc, nil
}

// validateInline checks a proposal included by value in a commit.
func (g *PublicGroup) validateInline(p *Proposal, sender Sender) error {
	switch p.Type {
	case ProposalUpdate:
		return commitErr("Update proposal by value")
	case ProposalExternalInit:
		if sender.Type != SenderNewMemberCommit {
			return commitErr("ExternalInit in a member commit")
		}
		if !g.idx.allSupportProposal(p.Type) {
			return commitErr("proposal type %d not supported by all members", p.Type)
		}
		return nil
	}
	return g.validateProposal(p, sender)
}

// Merge makes a staged commit the group's current state and forgets the
// epoch's pending proposals. It fails with ErrStaleCommit if the group has
// changed since the commit was staged.
func (g *PublicGroup) Merge(sc *StagedCommit) error {
	if sc.group != g || sc.seq != g.seq {
		return errorf(ErrStaleCommit, "merge", "commit was staged against another state")
	}
	g.ctx = sc.ctx
	g.tree = sc.tree
	g.idx = sc.idx.merge()
	g.interim = sc.interim
	g.confirmationTag = sc.confirmationTag
	g.reinit = sc.ReInit
	clear(g.proposals)
	g.seq++
	return nil
}
