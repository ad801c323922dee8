package ds

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

// sender is an authenticated DSMessage sender.
type sender struct {
	// leaf is the member's leaf (member true), or unset for an external
	// committer (external true).
	leaf     uint32
	member   bool
	external bool
}

// UserKeyHash is the user_key_hash of a signature public key: the
// group's cipher suite hash of the key's raw bytes.
func UserKeyHash(cs mls.CipherSuite, signatureKey []byte) []byte { return cs.Hash(signatureKey) }

// authenticate finds the sender's signature key and verifies the
// DSMessage signature with it.
func (s *Service) authenticate(st *groupState, m *Message) (sender, error) {
	var snd sender
	var key []byte
	switch m.Sender.Type {
	case SenderLeafIndex, SenderKeyPackageRef:
		l, ok := m.Sender.LeafIndex, true
		if m.Sender.Type == SenderKeyPackageRef {
			l, ok = st.kpRefs[string(m.Sender.KeyPackageRef)]
		}
		ln := st.pg.Leaf(mls.LeafIndex(l))
		if !ok || ln == nil {
			return sender{}, fmt.Errorf("%w: no member at this sender id", ErrUnknownSender)
		}
		snd, key = sender{leaf: l, member: true}, ln.SignatureKey
	case SenderUserKeyHash:
		k, err := externalCommitterKey(st, m)
		if err != nil {
			return sender{}, err
		}
		snd, key = sender{external: true}, k
	}
	if err := st.pg.CipherSuite().VerifyWithLabel(key, SignatureLabel, m.TBS(), m.Signature); err != nil {
		return sender{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return snd, nil
}

// externalCommitterKey returns the signature key of the joiner of an
// external commit whose user_key_hash names it: the only request a
// non-member may send to an existing group.
func externalCommitterKey(st *groupState, m *Message) ([]byte, error) {
	if m.Request.Type != RequestSendCommit {
		return nil, fmt.Errorf("%w: user_key_hash may only send an external commit", ErrUnknownSender)
	}
	req, err := DecodeSendCommitRequest(m.Request.Body)
	if err != nil {
		return nil, err
	}
	pm := req.Commit.PublicMessage
	if pm == nil || pm.Content.Sender.Type != mls.SenderNewMemberCommit || pm.Content.Commit == nil || pm.Content.Commit.Path == nil {
		return nil, fmt.Errorf("%w: user_key_hash without an external commit", ErrUnknownSender)
	}
	key := pm.Content.Commit.Path.LeafNode.SignatureKey
	if subtle.ConstantTimeCompare(UserKeyHash(st.pg.CipherSuite(), key), m.Sender.UserKeyHash) != 1 {
		return nil, fmt.Errorf("%w: user_key_hash does not match the committer", ErrUnknownSender)
	}
	return key, nil
}

// mlsRefusal turns an mls validation error into a response.
func mlsRefusal(err error, epoch uint64) outcome {
	switch {
	case errors.Is(err, mls.ErrWrongEpoch):
		return refused(CodeWrongEpoch, epoch, "%v", err)
	case errors.Is(err, mls.ErrUnknownProposal):
		return refused(CodeUnknownProposal, epoch, "%v", err)
	}
	return refused(CodeInvalidMessage, epoch, "%v", err)
}

// allowedProposal reports whether this DS relays a proposal type: every
// RFC 9420 type but ReInit (a group is not reinitialised through this DS:
// its members create a new group and delete the old one).
func allowedProposal(t mls.ProposalType) bool {
	return t >= mls.ProposalAdd && t <= mls.ProposalGroupContextExtensions && t != mls.ProposalReInit
}

func (s *Service) deleteGroup(st *groupState, snd sender, m *Message) (outcome, error) {
	if err := decodeEmpty(m.Request.Body); err != nil {
		return outcome{}, err
	}
	epoch := st.pg.Epoch()
	if !snd.member {
		return refused(CodeNotAllowed, epoch, "only a member may delete a group"), nil
	}
	if n := st.pg.NumMembers(); n != 1 {
		return refused(CodeNotAllowed, epoch, "the group has %d members; remove the others first", n), nil
	}
	return outcome{resp: Response{Code: CodeOK, Epoch: epoch}, deleted: true}, nil
}

func (s *Service) updateQueue(ctx context.Context, st *groupState, snd sender, m *Message) (outcome, error) {
	q, err := DecodeQueueConfig(m.Request.Body)
	if err != nil {
		return outcome{}, err
	}
	epoch := st.pg.Epoch()
	if !snd.member {
		return refused(CodeNotAllowed, epoch, "only a member has a queue"), nil
	}
	if o, bad, err := s.checkQueues(ctx, epoch, []qs.ID{q}); bad || err != nil {
		return o, err
	}
	mb := st.members[snd.leaf]
	mb.Leaf, mb.Queue = snd.leaf, q
	c := &Change{GroupID: st.pg.GroupID(), Version: st.version, Epoch: epoch, PutMembers: []Member{mb}}
	return outcome{resp: Response{Code: CodeOK, Epoch: epoch}, change: c, apply: func(st *groupState) { st.setMember(mb) }}, nil
}

// checkQueues refuses with invalid_queue if a queue does not exist.
func (s *Service) checkQueues(ctx context.Context, epoch uint64, ids []qs.ID) (outcome, bool, error) {
	missing, err := s.queues.Missing(ctx, ids)
	if err != nil {
		return outcome{}, false, err
	}
	if len(missing) > 0 {
		return refused(CodeInvalidQueue, epoch, "no queue %s", missing[0]), true, nil
	}
	return outcome{}, false, nil
}

// checkFraming refuses a message for another group or epoch.
func checkFraming(st *groupState, m *Message, msg *mls.MLSMessage) (outcome, bool) {
	epoch := st.pg.Epoch()
	if !bytes.Equal(msg.GroupID(), m.Request.GroupID) {
		return refused(CodeInvalidMessage, epoch, "the MLS message is for another group"), true
	}
	if msg.Epoch() != epoch {
		return refused(CodeWrongEpoch, epoch, "message for epoch %d, group is at %d", msg.Epoch(), epoch), true
	}
	return outcome{}, false
}

func (s *Service) sendProposal(st *groupState, snd sender, m *Message) (outcome, error) {
	msg, err := DecodeMLSBody(m.Request.Body)
	if err != nil {
		return outcome{}, err
	}
	epoch := st.pg.Epoch()
	pm := msg.PublicMessage
	if pm == nil || pm.Content.ContentType != mls.ContentProposal {
		return refused(CodeInvalidMessage, epoch, "proposals must be PublicMessages"), nil
	}
	if o, bad := checkFraming(st, m, msg); bad {
		return o, nil
	}
	if !snd.member || pm.Content.Sender.Type != mls.SenderMember || pm.Content.Sender.Index != snd.leaf {
		return refused(CodeNotAllowed, epoch, "the proposal's sender is not the DS sender"), nil
	}
	if !allowedProposal(pm.Content.Proposal.Type) {
		return refused(CodeProposalNotAllowed, epoch, "proposal type %d is not allowed", pm.Content.Proposal.Type), nil
	}
	pp, err := st.pg.ProcessProposal(msg)
	if err != nil {
		return mlsRefusal(err, epoch), nil
	}
	data := msg.Marshal()
	c := &Change{GroupID: st.pg.GroupID(), Version: st.version, Epoch: epoch, AddProposal: data,
		Deliveries: []Delivery{st.fanOut(int64(snd.leaf), data)}}
	return outcome{resp: Response{Code: CodeOK, Epoch: epoch}, change: c, apply: func(st *groupState) { st.noteProposal(pp.Proposal) }}, nil
}

func (s *Service) sendMessage(st *groupState, snd sender, m *Message) (outcome, error) {
	msg, err := DecodeMLSBody(m.Request.Body)
	if err != nil {
		return outcome{}, err
	}
	epoch := st.pg.Epoch()
	if msg.PrivateMessage == nil || msg.PrivateMessage.ContentType != mls.ContentApplication {
		return refused(CodeInvalidMessage, epoch, "application messages must be PrivateMessages of content type application"), nil
	}
	if o, bad := checkFraming(st, m, msg); bad {
		return o, nil
	}
	if !snd.member {
		return refused(CodeNotAllowed, epoch, "only a member may send messages"), nil
	}
	d := st.fanOut(int64(snd.leaf), msg.Marshal())
	return outcome{resp: Response{Code: CodeOK, Epoch: epoch}, deliver: &d}, nil
}

func (s *Service) groupInfo(st *groupState, m *Message) (outcome, error) {
	if err := decodeEmpty(m.Request.Body); err != nil {
		return outcome{}, err
	}
	var e mls.Encoder
	e.Raw(st.groupInfo)
	e.Opaque(st.pg.MarshalTree())
	return outcome{resp: Response{Code: CodeOK, Epoch: st.pg.Epoch(), Body: e.Bytes()}}, nil
}
