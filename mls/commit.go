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

// staging is one StageCommit in progress: the commit, what has been
// learnt about it, and copies of the group state it changes. Its methods
// are the steps of stage, in order.
type staging struct {
	g         *PublicGroup
	pm        *PublicMessage
	commit    *Commit
	sc        *StagedCommit
	external  bool
	committer LeafIndex
	byType    map[ProposalType]int

	tree *RatchetTree
	idx  *memberIndex
	ctx  *GroupContext
	v    *validator
}

// stage validates the commit in pm and computes the next epoch, step by
// step: resolve the proposal list, check it (RFC 9420 12.2), apply the
// proposals to copies of the state, place the committer and merge the
// path, then derive the next GroupContext and transcript hashes.
func (g *PublicGroup) stage(pm *PublicMessage) (*StagedCommit, error) {
	fc := &pm.Content
	external := fc.Sender.Type == SenderNewMemberCommit
	st := &staging{
		g: g, pm: pm, commit: fc.Commit, external: external, committer: LeafIndex(fc.Sender.Index),
		sc: &StagedCommit{group: g, seq: g.seq, External: external}, byType: map[ProposalType]int{},
	}
	for _, step := range []func() error{
		st.resolveProposals, st.checkProposalList, st.newEpochState,
		st.applyUpdates, st.applyRemoves, st.applyAdds, st.placeCommitter,
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	st.nextContext()
	return st.sc, nil
}

// resolveProposals turns the commit's proposal list into the proposals
// it covers: references are looked up among the epoch's pending
// proposals, proposals by value are validated.
func (st *staging) resolveProposals() error {
	sender := st.pm.Content.Sender
	for _, por := range st.commit.Proposals {
		ap := AppliedProposal{Proposal: por.Proposal, Sender: sender}
		if por.Proposal == nil {
			if st.external {
				return commitErr("external commit includes a proposal by reference")
			}
			pp := st.g.proposals[string(por.Reference)]
			if pp == nil {
				return errorf(ErrUnknownProposal, "stage commit", "proposal reference %x", por.Reference)
			}
			ap = AppliedProposal{Proposal: pp.Proposal, Sender: pp.Sender, Ref: pp.Ref}
		} else if err := st.g.validateInline(ap.Proposal, sender); err != nil {
			return err
		}
		st.byType[ap.Proposal.Type]++
		st.sc.Proposals = append(st.sc.Proposals, ap)
	}
	return nil
}

// listRules is what checkProposalList learns while walking the list.
type listRules struct {
	pathRequired bool
	touched      map[LeafIndex]bool // leaves with an Update or Remove
	psks         [][]byte           // PreSharedKey ids seen
}

// checkProposalList applies the proposal list rules (RFC 9420 12.2) and
// requires the path when a proposal calls for one.
func (st *staging) checkProposalList() error {
	rules := listRules{pathRequired: len(st.sc.Proposals) == 0 || st.external, touched: map[LeafIndex]bool{}}
	for _, ap := range st.sc.Proposals {
		if err := st.checkListed(ap, &rules); err != nil {
			return err
		}
	}
	if st.byType[ProposalGroupContextExtensions] > 1 {
		return commitErr("several GroupContextExtensions proposals")
	}
	if st.external {
		if err := st.checkExternalList(); err != nil {
			return err
		}
	}
	if rules.pathRequired && st.commit.Path == nil {
		return commitErr("path required but absent")
	}
	return nil
}

// checkListed applies the list rules to one covered proposal.
func (st *staging) checkListed(ap AppliedProposal, rules *listRules) error {
	p := ap.Proposal
	switch p.Type {
	case ProposalUpdate:
		rules.pathRequired = true
		if ap.Ref == nil {
			return commitErr("Update proposal by value")
		}
		l := LeafIndex(ap.Sender.Index)
		if !st.external && l == st.committer {
			return commitErr("commit covers the committer's own Update")
		}
		return rules.touch(l)
	case ProposalRemove:
		rules.pathRequired = true
		l := LeafIndex(p.Removed)
		if !st.external && l == st.committer {
			return commitErr("commit removes the committer")
		}
		return rules.touch(l)
	case ProposalPSK:
		return rules.addPSK(p.PSK.Marshal())
	case ProposalReInit:
		if len(st.sc.Proposals) != 1 {
			return commitErr("ReInit together with other proposals")
		}
		st.sc.ReInit = p.ReInit
	case ProposalExternalInit:
		rules.pathRequired = true
		if !st.external {
			return commitErr("ExternalInit in a member commit")
		}
	case ProposalGroupContextExtensions:
		rules.pathRequired = true
	}
	return nil
}

// touch records an Update or Remove of leaf l; a leaf may have one.
func (r *listRules) touch(l LeafIndex) error {
	if r.touched[l] {
		return commitErr("several Update/Remove proposals for leaf %d", l)
	}
	r.touched[l] = true
	return nil
}

// addPSK records a PreSharedKey id; each may appear once.
func (r *listRules) addPSK(id []byte) error {
	for _, o := range r.psks {
		if bytes.Equal(o, id) {
			return commitErr("duplicate PreSharedKey proposal")
		}
	}
	r.psks = append(r.psks, id)
	return nil
}

// checkExternalList applies the rules of an external commit's list:
// exactly one ExternalInit, at most one Remove, and PreSharedKeys.
func (st *staging) checkExternalList() error {
	if st.byType[ProposalExternalInit] != 1 {
		return commitErr("external commit must contain exactly one ExternalInit")
	}
	if st.byType[ProposalRemove] > 1 {
		return commitErr("external commit contains more than one Remove")
	}
	for t, n := range st.byType {
		if n > 0 && t != ProposalExternalInit && t != ProposalRemove && t != ProposalPSK {
			return commitErr("external commit contains proposal type %d", t)
		}
	}
	return nil
}

// newEpochState copies the state the proposals change and builds the
// validator of the new epoch, whose extensions a GroupContextExtensions
// proposal sets.
func (st *staging) newEpochState() error {
	st.tree, st.idx, st.ctx = st.g.tree.Clone(), st.g.idx.overlay(), st.g.ctx.clone()
	// GroupContextExtensions proposals were checked against g.idx by
	// validateProposal (on receipt, or in validateInline for inline ones).
	for _, ap := range st.sc.Proposals {
		if ap.Proposal.Type == ProposalGroupContextExtensions {
			st.ctx.Extensions = ap.Proposal.Extensions
		}
	}
	v, err := st.g.validator(st.idx, st.ctx.Extensions)
	st.v = v
	return err
}

// applyUpdates replaces the leaves of Update proposals.
func (st *staging) applyUpdates() error {
	for _, ap := range st.sc.Proposals {
		if ap.Proposal.Type != ProposalUpdate {
			continue
		}
		l := LeafIndex(ap.Sender.Index)
		old := st.tree.Leaf(l)
		if old == nil {
			return commitErr("Update from removed leaf %d", l)
		}
		st.idx.remove(l, old)
		if err := st.v.leafContent(ap.Proposal.LeafNode, LeafNodeSourceUpdate, l); err != nil {
			return err
		}
		if err := st.v.leafWithMembers(ap.Proposal.LeafNode, old); err != nil {
			return err
		}
		st.tree.updateLeaf(l, ap.Proposal.LeafNode)
		st.idx.add(l, ap.Proposal.LeafNode)
		st.sc.Updated = append(st.sc.Updated, l)
	}
	return nil
}

// applyRemoves blanks the leaves of Remove proposals.
func (st *staging) applyRemoves() error {
	for _, ap := range st.sc.Proposals {
		if ap.Proposal.Type != ProposalRemove {
			continue
		}
		l := LeafIndex(ap.Proposal.Removed)
		old := st.tree.Leaf(l)
		if old == nil {
			return commitErr("Remove of blank leaf %d", l)
		}
		st.idx.remove(l, old)
		st.tree.removeLeaf(l)
		st.sc.Removed = append(st.sc.Removed, l)
	}
	return nil
}

// applyAdds places the members of Add proposals.
func (st *staging) applyAdds() error {
	for _, ap := range st.sc.Proposals {
		if ap.Proposal.Type != ProposalAdd {
			continue
		}
		kp := ap.Proposal.KeyPackage
		// The KeyPackage itself was validated on receipt (by reference)
		// or in validateInline (by value); check it against the members
		// and the new epoch's required capabilities here.
		if err := supportsRequired(&kp.LeafNode.Capabilities, st.v.required); err != nil {
			return wrap(ErrInvalidProposal, "Add", err)
		}
		if err := st.v.leafWithMembers(&kp.LeafNode, nil); err != nil {
			return wrap(ErrInvalidProposal, "Add", err)
		}
		l := st.tree.addLeaf(&kp.LeafNode)
		st.idx.add(l, &kp.LeafNode)
		ref, _ := kp.Ref()
		st.sc.Added = append(st.sc.Added, l)
		st.sc.AddedKeyPackageRefs = append(st.sc.AddedKeyPackageRefs, ref)
	}
	return nil
}

// placeCommitter finds the committer's leaf (for an external commit, the
// leaf the joiner takes) and merges the UpdatePath there.
func (st *staging) placeCommitter() error {
	path := st.commit.Path
	if st.external {
		l, ok := st.tree.leftmostFreeLeaf()
		if !ok {
			l = LeafIndex(st.tree.nLeaves)
			st.tree.extend()
		}
		st.committer = l
		if err := st.tree.applyUpdatePath(st.v, l, path, st.sc.Added, nil); err != nil {
			return err
		}
		st.idx.add(l, &path.LeafNode)
	} else {
		old := st.tree.Leaf(st.committer)
		if old == nil {
			return commitErr("committer leaf %d is blank", st.committer)
		}
		if path != nil {
			st.idx.remove(st.committer, old)
			if err := st.tree.applyUpdatePath(st.v, st.committer, path, st.sc.Added, old); err != nil {
				return err
			}
			st.idx.add(st.committer, &path.LeafNode)
		}
	}
	st.sc.Committer = st.committer
	st.sc.HasPath = path != nil
	return nil
}

// nextContext derives the next GroupContext and transcript hashes and
// puts the new state in the StagedCommit.
func (st *staging) nextContext() {
	g, pm, sc, ctx := st.g, st.pm, st.sc, st.ctx
	ctx.Epoch++
	ctx.TreeHash = st.tree.TreeHash()
	ctx.ConfirmedTranscriptHash = ConfirmedTranscriptHash(g.suite, g.interim, pm.AuthenticatedContent())
	sc.interim = InterimTranscriptHash(g.suite, ctx.ConfirmedTranscriptHash, pm.Auth.ConfirmationTag)
	sc.confirmationTag = pm.Auth.ConfirmationTag
	sc.ctx, sc.tree, sc.idx = ctx, st.tree, st.idx
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
