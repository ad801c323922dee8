package ds

import (
	"bytes"
	"context"

	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

// sendCommit validates a commit for the current epoch with its GroupInfo
// and Welcome, and produces the change that moves the group to the next
// epoch together with the fan-out: the commit to every old member but the
// committer (removed members included, so they learn of it), the Welcome
// to the added clients' queues.
func (s *Service) sendCommit(ctx context.Context, st *groupState, snd sender, m *Message) (outcome, error) {
	req, err := DecodeSendCommitRequest(m.Request.Body)
	if err != nil {
		return outcome{}, err
	}
	epoch := st.pg.Epoch()
	pm := req.Commit.PublicMessage
	if pm == nil || pm.Content.ContentType != mls.ContentCommit {
		return refused(CodeInvalidMessage, epoch, "commits must be PublicMessages"), nil
	}
	if o, bad := checkFraming(st, m, req.Commit); bad {
		return o, nil
	}
	if o, bad := checkCommitSender(pm, snd, epoch); bad {
		return o, nil
	}
	sc, err := st.pg.StageCommit(req.Commit)
	if err != nil {
		return mlsRefusal(err, epoch), nil
	}
	if o, bad := checkCommitAttachments(sc, req, epoch); bad {
		return o, nil
	}
	added, o, bad := addedMembers(sc, req, epoch)
	if bad {
		return o, nil
	}
	queues := make([]qs.ID, len(added))
	for i, a := range added {
		queues[i] = a.Queue
	}
	if o, bad, err := s.checkQueues(ctx, epoch, queues); bad || err != nil {
		return o, err
	}
	return commitOutcome(st, snd, sc, req, added), nil
}

func checkCommitSender(pm *mls.PublicMessage, snd sender, epoch uint64) (outcome, bool) {
	switch {
	case snd.external && pm.Content.Sender.Type == mls.SenderNewMemberCommit:
	case snd.member && pm.Content.Sender.Type == mls.SenderMember && pm.Content.Sender.Index == snd.leaf:
	default:
		return refused(CodeNotAllowed, epoch, "the commit's sender is not the DS sender"), true
	}
	return outcome{}, false
}

// checkCommitAttachments checks the proposals the DS relays, the new
// epoch's GroupInfo and the Welcome.
func checkCommitAttachments(sc *mls.StagedCommit, req *SendCommitRequest, epoch uint64) (outcome, bool) {
	for _, ap := range sc.Proposals {
		if !allowedProposal(ap.Proposal.Type) {
			return refused(CodeProposalNotAllowed, epoch, "proposal type %d is not allowed", ap.Proposal.Type), true
		}
	}
	gi := req.GroupInfo.GroupInfo
	if gi == nil {
		return refused(CodeInvalidGroupInfo, epoch, "group_info is not a GroupInfo"), true
	}
	if err := sc.VerifyGroupInfo(gi); err != nil {
		return refused(CodeInvalidGroupInfo, epoch, "%v", err), true
	}
	if len(sc.AddedKeyPackageRefs) == 0 {
		if req.Welcome != nil {
			return refused(CodeInvalidMessage, epoch, "a Welcome with a commit that adds nobody"), true
		}
		return outcome{}, false
	}
	w := req.Welcome
	if w == nil || w.Welcome == nil {
		return refused(CodeInvalidMessage, epoch, "the commit adds members but carries no Welcome"), true
	}
	if err := sc.CheckWelcome(w.Welcome); err != nil {
		return refused(CodeInvalidMessage, epoch, "%v", err), true
	}
	for _, ref := range sc.AddedKeyPackageRefs {
		if w.Welcome.Find(ref) == nil {
			return refused(CodeInvalidMessage, epoch, "the Welcome misses an added member"), true
		}
	}
	return outcome{}, false
}

// addedMembers pairs the commit's new leaves with the queues the request
// names for them.
func addedMembers(sc *mls.StagedCommit, req *SendCommitRequest, epoch uint64) ([]Member, outcome, bool) {
	if sc.External {
		if len(req.Added) != 1 || len(req.Added[0].KeyPackageRef) != 0 {
			return nil, refused(CodeInvalidQueue, epoch, "an external commit names exactly one queue, the joiner's, with an empty ref"), true
		}
		return []Member{{Leaf: uint32(sc.Committer), Queue: req.Added[0].Queue}}, outcome{}, false
	}
	if len(req.Added) != len(sc.Added) {
		return nil, refused(CodeInvalidQueue, epoch, "%d added clients for %d added members", len(req.Added), len(sc.Added)), true
	}
	out := make([]Member, len(sc.Added))
	for i, l := range sc.Added {
		ref := sc.AddedKeyPackageRefs[i]
		j := indexOfRef(req.Added, ref)
		if j < 0 {
			return nil, refused(CodeInvalidQueue, epoch, "no queue for added member %d", l), true
		}
		out[i] = Member{Leaf: uint32(l), Queue: req.Added[j].Queue, KeyPackageRef: ref}
	}
	return out, outcome{}, false
}

func indexOfRef(added []AddedClient, ref []byte) int {
	for i, a := range added {
		if bytes.Equal(a.KeyPackageRef, ref) {
			return i
		}
	}
	return -1
}

func commitOutcome(st *groupState, snd sender, sc *mls.StagedCommit, req *SendCommitRequest, added []Member) outcome {
	committer := int64(-1)
	if snd.member {
		committer = int64(snd.leaf)
	}
	newLeaf := map[uint32]bool{}
	for _, a := range added {
		newLeaf[a.Leaf] = true
	}
	var removed []uint32
	for _, l := range sc.Removed {
		if !newLeaf[uint32(l)] {
			removed = append(removed, uint32(l))
		}
	}
	tree := sc.TreeChanges()
	ctx := sc.GroupContext()
	giBytes := req.GroupInfo.Marshal()
	c := &Change{
		GroupID: ctx.GroupID, Version: st.version, Epoch: ctx.Epoch, Header: sc.MarshalHeader(), GroupInfo: giBytes,
		Tree: &tree, PutMembers: added, DeleteMembers: removed, ClearProposals: true,
		Deliveries: []Delivery{st.fanOut(committer, req.Commit.Marshal())},
	}
	if req.Welcome != nil {
		c.Deliveries = append(c.Deliveries, Delivery{Queues: memberQueues(added), Data: req.Welcome.Marshal()})
	}
	apply := func(st *groupState) {
		st.pg.Merge(sc)    // cannot fail: staged from this state under the group's lock
		clear(st.removing) // the epoch's proposals are gone
		for _, l := range removed {
			st.deleteMember(l)
		}
		for _, a := range added {
			st.setMember(a)
		}
		st.groupInfo = giBytes
	}
	return outcome{resp: Response{Code: CodeOK, Epoch: ctx.Epoch}, change: c, apply: apply}
}

func memberQueues(ms []Member) []qs.ID {
	out := make([]qs.ID, len(ms))
	for i, mb := range ms {
		out[i] = mb.Queue
	}
	return out
}
