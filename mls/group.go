package mls

// PublicGroup: the Delivery Service's view of one group.

import (
	"bytes"
	"time"
)

type config struct {
	now func() time.Time // nil: no lifetime checks
}

// Option configures a PublicGroup.
type Option func(*config)

// WithClock sets the clock used to check KeyPackage lifetimes (default
// time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithoutLifetimeCheck disables the KeyPackage lifetime check, which RFC 9420
// only recommends for received leaf nodes.
func WithoutLifetimeCheck() Option { return func(c *config) { c.now = nil } }

// PublicGroup is the public state of a group as a Delivery Service tracks it:
// the GroupContext, the ratchet tree, the interim transcript hash and the
// proposals received in the current epoch. It is not safe for concurrent use.
type PublicGroup struct {
	cfg             config
	suite           CipherSuite
	ctx             *GroupContext
	tree            *RatchetTree
	interim         []byte
	confirmationTag []byte
	idx             *memberIndex
	proposals       map[string]*PendingProposal
	seq             uint64
	reinit          *ReInit
}

// PendingProposal is a proposal received in the current epoch, retained
// until the epoch ends so that commits can reference it.
type PendingProposal struct {
	Ref      []byte
	Proposal *Proposal
	Sender   Sender
}

// NewPublicGroup builds the public state of a group from a GroupInfo and its
// ratchet tree. If tree is nil, the tree is taken from the GroupInfo's
// ratchet_tree extension. It validates the tree completely (tree hash against
// the GroupContext, parent hashes, unmerged leaves, every leaf) and verifies
// the GroupInfo signature.
func NewPublicGroup(gi *GroupInfo, tree *RatchetTree, opts ...Option) (*PublicGroup, error) {
	const op = "new public group"
	cfg := config{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	gc := &gi.GroupContext
	if gc.Version != ProtocolVersionMLS10 {
		return nil, errorf(ErrUnsupported, op, "protocol version %d", gc.Version)
	}
	cs := gc.CipherSuite
	if !cs.Supported() {
		return nil, errorf(ErrUnsupported, op, "cipher suite %d", cs)
	}
	tree, err := groupInfoTree(gi, tree)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(tree.TreeHash(), gc.TreeHash) {
		return nil, errorf(ErrInvalidTree, op, "tree hash does not match the GroupContext")
	}
	rc, err := requiredCapabilities(gc.Extensions)
	if err != nil {
		return nil, wrap(ErrMalformed, op, err)
	}
	idx, err := tree.validate(gc.GroupID, &ValidateTreeOptions{RequiredCapabilities: rc})
	if err != nil {
		return nil, wrap(ErrInvalidTree, op, err)
	}
	signer := tree.Leaf(LeafIndex(gi.Signer))
	if signer == nil {
		return nil, errorf(ErrInvalidSignature, op, "GroupInfo signer %d is not a member", gi.Signer)
	}
	if err := gi.VerifySignature(signer.SignatureKey); err != nil {
		return nil, wrap(ErrInvalidSignature, op+": GroupInfo", err)
	}
	if _, err := externalSenders(gc.Extensions); err != nil {
		return nil, wrap(ErrMalformed, op, err)
	}
	return &PublicGroup{
		cfg:             cfg,
		suite:           cs,
		ctx:             gc.clone(),
		tree:            tree,
		interim:         InterimTranscriptHash(cs, gc.ConfirmedTranscriptHash, gi.ConfirmationTag),
		confirmationTag: gi.ConfirmationTag,
		idx:             idx,
		proposals:       map[string]*PendingProposal{},
	}, nil
}

// groupInfoTree returns a copy of the tree given for gi, or the tree of
// gi's ratchet_tree extension when none is given.
func groupInfoTree(gi *GroupInfo, tree *RatchetTree) (*RatchetTree, error) {
	const op = "new public group"
	cs := gi.GroupContext.CipherSuite
	if tree != nil {
		if tree.suite != cs {
			return nil, errorf(ErrInvalidTree, op, "tree cipher suite %d, group %d", tree.suite, cs)
		}
		return tree.Clone(), nil
	}
	e := findExtension(gi.Extensions, ExtensionRatchetTree)
	if e == nil {
		return nil, errorf(ErrInvalidTree, op, "no ratchet tree given and no ratchet_tree extension")
	}
	tree, err := DecodeRatchetTree(cs, e.Data)
	if err != nil {
		return nil, wrap(ErrMalformed, op, err)
	}
	return tree, nil
}

func externalSenders(exts []Extension) ([]ExternalSender, error) {
	e := findExtension(exts, ExtensionExternalSenders)
	if e == nil {
		return nil, nil
	}
	return ParseExternalSenders(e.Data)
}

// GroupContext returns a copy of the current GroupContext.
func (g *PublicGroup) GroupContext() *GroupContext { return g.ctx.clone() }

// GroupID returns the group id.
func (g *PublicGroup) GroupID() []byte { return g.ctx.GroupID }

// Epoch returns the current epoch.
func (g *PublicGroup) Epoch() uint64 { return g.ctx.Epoch }

// CipherSuite returns the group's cipher suite.
func (g *PublicGroup) CipherSuite() CipherSuite { return g.suite }

// Tree returns a copy of the current ratchet tree (cheap: copy on write).
func (g *PublicGroup) Tree() *RatchetTree { return g.tree.Clone() }

// InterimTranscriptHash returns the current interim transcript hash.
func (g *PublicGroup) InterimTranscriptHash() []byte { return g.interim }

// ConfirmationTag returns the confirmation tag of the last commit (or of the
// GroupInfo the group was built from).
func (g *PublicGroup) ConfirmationTag() []byte { return g.confirmationTag }

// ReInit returns the ReInit proposal committed in the previous epoch, if
// any; such a group accepts no further commits.
func (g *PublicGroup) ReInit() *ReInit { return g.reinit }

// PendingProposals returns the proposals received in the current epoch.
func (g *PublicGroup) PendingProposals() []*PendingProposal {
	out := make([]*PendingProposal, 0, len(g.proposals))
	for _, p := range g.proposals {
		out = append(out, p)
	}
	return out
}

func (g *PublicGroup) validator(idx *memberIndex, exts []Extension) (*validator, error) {
	rc, err := requiredCapabilities(exts)
	if err != nil {
		return nil, wrap(ErrMalformed, "required_capabilities", err)
	}
	return &validator{suite: g.suite, groupID: g.ctx.GroupID, required: rc, idx: idx, now: g.cfg.now}, nil
}

// publicContent checks the framing of a PublicMessage for this group and
// epoch, finds the signer's key and verifies the signature over
// FramedContentTBS with the current GroupContext. Membership tags cannot be
// checked without the membership key, which a DS does not have.
func (g *PublicGroup) publicContent(msg *MLSMessage, want ContentType) (*PublicMessage, error) {
	const op = "verify message"
	if msg.WireFormat != WireFormatPublicMessage || msg.PublicMessage == nil {
		return nil, errorf(ErrInvalidMessage, op, "wire format %d; handshake messages to a DS must be PublicMessages", msg.WireFormat)
	}
	pm := msg.PublicMessage
	fc := &pm.Content
	if !bytes.Equal(fc.GroupID, g.ctx.GroupID) {
		return nil, errorf(ErrInvalidMessage, op, "message for another group")
	}
	if fc.Epoch != g.ctx.Epoch {
		return nil, errorf(ErrWrongEpoch, op, "message epoch %d, group epoch %d", fc.Epoch, g.ctx.Epoch)
	}
	if fc.ContentType != want {
		return nil, errorf(ErrInvalidMessage, op, "content type %d, want %d", fc.ContentType, want)
	}
	// The MACs cannot be checked without keys a DS lacks, but their
	// length is fixed by the suite.
	nh := g.suite.HashSize()
	if fc.Sender.Type == SenderMember && len(pm.MembershipTag) != nh {
		return nil, errorf(ErrInvalidMessage, op, "membership tag of %d bytes, want %d", len(pm.MembershipTag), nh)
	}
	if want == ContentCommit && len(pm.Auth.ConfirmationTag) != nh {
		return nil, errorf(ErrInvalidMessage, op, "confirmation tag of %d bytes, want %d", len(pm.Auth.ConfirmationTag), nh)
	}
	key, err := g.senderKey(fc, want)
	if err != nil {
		return nil, err
	}
	ac := pm.AuthenticatedContent()
	if err := ac.VerifySignature(g.suite, key, g.ctx); err != nil {
		return nil, wrap(ErrInvalidSignature, op, err)
	}
	return pm, nil
}

// senderKey returns the signature key of fc's sender, checking that the
// sender may send content of type want.
func (g *PublicGroup) senderKey(fc *FramedContent, want ContentType) ([]byte, error) {
	const op = "verify message"
	switch fc.Sender.Type {
	case SenderMember:
		ln := g.tree.Leaf(LeafIndex(fc.Sender.Index))
		if ln == nil {
			return nil, errorf(ErrInvalidMessage, op, "sender leaf %d is not a member", fc.Sender.Index)
		}
		return ln.SignatureKey, nil
	case SenderExternal:
		if want != ContentProposal {
			return nil, errorf(ErrInvalidMessage, op, "external sender may only send proposals")
		}
		es, err := externalSenders(g.ctx.Extensions)
		if err != nil {
			return nil, wrap(ErrMalformed, op, err)
		}
		if int64(fc.Sender.Index) >= int64(len(es)) {
			return nil, errorf(ErrInvalidMessage, op, "external sender index %d out of range", fc.Sender.Index)
		}
		return es[fc.Sender.Index].SignatureKey, nil
	case SenderNewMemberProposal:
		if want != ContentProposal || fc.Proposal.Type != ProposalAdd {
			return nil, errorf(ErrInvalidMessage, op, "new_member_proposal sender may only send Add proposals")
		}
		return fc.Proposal.KeyPackage.LeafNode.SignatureKey, nil
	case SenderNewMemberCommit:
		if want != ContentCommit || fc.Commit.Path == nil {
			return nil, errorf(ErrInvalidMessage, op, "new_member_commit sender must send a commit with a path")
		}
		return fc.Commit.Path.LeafNode.SignatureKey, nil
	}
	return nil, nil // an unknown sender type: the signature check fails
}

// ProcessProposal verifies a proposal sent as a PublicMessage (signature
// against the current GroupContext, sender, proposal validity) and retains
// it for the rest of the epoch. It returns the pending proposal with its
// ProposalRef.
func (g *PublicGroup) ProcessProposal(msg *MLSMessage) (*PendingProposal, error) {
	const op = "process proposal"
	if g.reinit != nil {
		return nil, errorf(ErrInvalidMessage, op, "group was reinitialised")
	}
	pm, err := g.publicContent(msg, ContentProposal)
	if err != nil {
		return nil, wrap(ErrInvalidMessage, op, err)
	}
	p := pm.Content.Proposal
	sender := pm.Content.Sender
	if err := g.validateProposal(p, sender); err != nil {
		return nil, wrap(ErrInvalidProposal, op, err)
	}
	ref := pm.AuthenticatedContent().ProposalRef(g.suite)
	pp := &PendingProposal{Ref: ref, Proposal: p, Sender: sender}
	g.proposals[string(ref)] = pp
	return pp, nil
}

// validateProposal checks a single proposal on its own (RFC 9420 12.1).
func (g *PublicGroup) validateProposal(p *Proposal, sender Sender) error {
	const op = "validate proposal"
	if !g.idx.allSupportProposal(p.Type) {
		return errorf(ErrInvalidProposal, op, "proposal type %d not supported by all members", p.Type)
	}
	switch sender.Type {
	case SenderExternal:
		switch p.Type {
		case ProposalUpdate, ProposalExternalInit:
			return errorf(ErrInvalidProposal, op, "external sender cannot send proposal type %d", p.Type)
		}
	case SenderNewMemberProposal:
		if p.Type != ProposalAdd {
			return errorf(ErrInvalidProposal, op, "new member may only propose Add")
		}
	}
	switch p.Type {
	case ProposalAdd:
		v, err := g.validator(g.idx, g.ctx.Extensions)
		if err != nil {
			return err
		}
		return v.keyPackage(p.KeyPackage)
	case ProposalUpdate:
		if sender.Type != SenderMember {
			return errorf(ErrInvalidProposal, op, "Update from a non-member")
		}
		l := LeafIndex(sender.Index)
		old := g.tree.Leaf(l)
		idx := g.idx.overlay()
		idx.remove(l, old)
		v, err := g.validator(idx, g.ctx.Extensions)
		if err != nil {
			return err
		}
		if err := v.leafContent(p.LeafNode, LeafNodeSourceUpdate, l); err != nil {
			return err
		}
		return v.leafWithMembers(p.LeafNode, old)
	case ProposalRemove:
		if g.tree.Leaf(LeafIndex(p.Removed)) == nil {
			return errorf(ErrInvalidProposal, op, "Remove of blank or absent leaf %d", p.Removed)
		}
	case ProposalPSK:
		return g.validatePSK(p.PSK)
	case ProposalReInit:
		if p.ReInit.Version < g.ctx.Version {
			return errorf(ErrInvalidProposal, op, "ReInit to older version %d", p.ReInit.Version)
		}
	case ProposalExternalInit:
		return errorf(ErrInvalidProposal, op, "ExternalInit may only appear in an external commit")
	case ProposalGroupContextExtensions:
		return g.validateGCE(p.Extensions, g.idx)
	}
	return nil
}

func (g *PublicGroup) validatePSK(psk *PreSharedKeyID) error {
	const op = "validate PSK proposal"
	if psk.Type == PSKResumption && psk.Usage != ResumptionApplication {
		return errorf(ErrInvalidProposal, op, "resumption PSK usage %d in a PreSharedKey proposal", psk.Usage)
	}
	if len(psk.Nonce) != g.suite.HashSize() {
		return errorf(ErrInvalidProposal, op, "psk_nonce length %d, want %d", len(psk.Nonce), g.suite.HashSize())
	}
	return nil
}

// validateGCE checks that all members support the new extensions and any
// new required capabilities.
func (g *PublicGroup) validateGCE(exts []Extension, idx *memberIndex) error {
	const op = "validate GroupContextExtensions"
	for _, e := range exts {
		if !idx.allSupportExtension(e.Type) {
			return errorf(ErrInvalidProposal, op, "extension type %d not supported by all members", e.Type)
		}
	}
	rc, err := requiredCapabilities(exts)
	if err != nil {
		return wrap(ErrInvalidProposal, op, err)
	}
	if rc != nil {
		for _, t := range rc.Extensions {
			if !idx.allSupportExtension(t) {
				return errorf(ErrInvalidProposal, op, "required extension type %d not supported by all members", t)
			}
		}
		for _, t := range rc.Proposals {
			if !idx.allSupportProposal(t) {
				return errorf(ErrInvalidProposal, op, "required proposal type %d not supported by all members", t)
			}
		}
		for _, t := range rc.Credentials {
			if !idx.allSupportCredential(t) {
				return errorf(ErrInvalidProposal, op, "required credential type %d not supported by all members", t)
			}
		}
	}
	if _, err := externalSenders(exts); err != nil {
		return wrap(ErrInvalidProposal, op, err)
	}
	return nil
}

// VerifyGroupInfo checks a GroupInfo published for the current epoch (e.g.
// by the committer): its GroupContext must equal the one this package
// computed, its confirmation tag the last commit's, its signer a member whose
// signature verifies, and an included ratchet_tree extension must match the
// tree.
func (g *PublicGroup) VerifyGroupInfo(gi *GroupInfo) error {
	return verifyGroupInfo(gi, g.ctx, g.tree, g.confirmationTag)
}

func verifyGroupInfo(gi *GroupInfo, ctx *GroupContext, tree *RatchetTree, tag []byte) error {
	const op = "verify GroupInfo"
	if !bytes.Equal(gi.GroupContext.Marshal(), ctx.Marshal()) {
		return errorf(ErrGroupInfoMismatch, op, "GroupContext differs from the computed one (epoch %d vs %d)", gi.GroupContext.Epoch, ctx.Epoch)
	}
	if !bytes.Equal(gi.ConfirmationTag, tag) {
		return errorf(ErrGroupInfoMismatch, op, "confirmation tag differs from the commit's")
	}
	signer := tree.Leaf(LeafIndex(gi.Signer))
	if signer == nil {
		return errorf(ErrGroupInfoMismatch, op, "signer %d is not a member", gi.Signer)
	}
	if err := gi.VerifySignature(signer.SignatureKey); err != nil {
		return wrap(ErrInvalidSignature, op, err)
	}
	if e := findExtension(gi.Extensions, ExtensionRatchetTree); e != nil {
		if !bytes.Equal(e.Data, tree.Marshal()) {
			return errorf(ErrGroupInfoMismatch, op, "ratchet_tree extension differs from the computed tree")
		}
	}
	return nil
}
