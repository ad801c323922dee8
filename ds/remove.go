package ds

// Removing members whose queue is gone, as the MIMI DS draft has the DS
// do when the queueing service rejects a message: the DS issues a Remove
// proposal as the group's external sender, keeps it as a pending proposal
// of the epoch and fans it out, and any member commits it by reference.

import (
	"context"
	"encoding/hex"
	"slices"

	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

// rejectedQueues returns the queues of deliveries, but their senders',
// that the queueing service did not deliver to (they no longer exist).
// It runs on every fan-out, so it is linear in the recipients (a commit
// to 10,000 members must not compare 10,000 by 10,000).
func rejectedQueues(deliveries []Delivery, delivered []qs.ID) []qs.ID {
	expected := 0
	for _, d := range deliveries {
		for _, q := range d.Queues {
			if q != d.Except {
				expected++
			}
		}
	}
	if len(delivered) >= expected {
		return nil // the common case: every recipient got it
	}
	got := make(map[qs.ID]bool, len(delivered))
	for _, q := range delivered {
		got[q] = true
	}
	var out []qs.ID
	for _, d := range deliveries {
		for _, q := range d.Queues {
			if q != d.Except && !got[q] {
				got[q] = true // listed once
				out = append(out, q)
			}
		}
	}
	return out
}

// leavesOn returns, in order, the members on the queues that have no
// Remove proposal pending this epoch.
func (st *groupState) leavesOn(queues []qs.ID) []uint32 {
	var out []uint32
	for l, mb := range st.members {
		if slices.Contains(queues, mb.Queue) && !st.removing[l] {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// proposeRemovals proposes the removal of the members on rejected queues.
// The request that found them has succeeded whatever happens here: a
// removal that fails is proposed again at the next rejected delivery.
// A group that does not list the DS as an external sender keeps such
// members (counted as unremovable); they receive nothing until they set
// a new queue.
func (s *Service) proposeRemovals(ctx context.Context, st *groupState, rejected []qs.ID) {
	leaves := st.leavesOn(rejected)
	if len(leaves) == 0 {
		return
	}
	gid := st.pg.GroupID()
	var idx uint32
	ok := false
	if s.cfg.Sender != nil {
		idx, ok = s.cfg.Sender.senderIndex(st.pg.GroupContext())
	}
	if !ok {
		s.stats.unremovable.Add(uint64(len(leaves)))
		s.log.Warn("ds: members' queues are gone and the group does not list the DS as external sender",
			"group", hex.EncodeToString(gid), "leaves", leaves)
		return
	}
	for _, l := range leaves {
		if err := s.proposeRemoval(ctx, st, idx, l); err != nil {
			s.forget(gid)
			s.log.Error("ds: proposing a member's removal", "group", hex.EncodeToString(gid), "leaf", l, "err", err)
			return
		}
	}
}

// proposeRemoval stores and fans out the DS's Remove proposal of leaf.
func (s *Service) proposeRemoval(ctx context.Context, st *groupState, idx, leaf uint32) error {
	msg, err := s.removeProposal(st.pg.GroupContext(), idx, leaf)
	if err != nil {
		return err
	}
	if _, err := st.pg.ProcessProposal(msg); err != nil { // as every member will
		return err
	}
	data := msg.Marshal()
	c := Change{GroupID: st.pg.GroupID(), Version: st.version, Epoch: st.pg.Epoch(), AddProposal: data,
		Deliveries: []Delivery{st.fanOut(-1, data)}}
	delivered, err := s.store.Update(ctx, c, s.cfg.Now())
	if err != nil {
		return err
	}
	st.version++
	st.removing[leaf] = true
	s.stats.removals.Add(1)
	s.queues.Delivered(ctx, delivered)
	return nil
}

// removeProposal builds the PublicMessage of a Remove of leaf sent by
// the DS as external sender idx of the group with context gc.
func (s *Service) removeProposal(gc *mls.GroupContext, idx, leaf uint32) (*mls.MLSMessage, error) {
	key, err := s.cfg.Sender.Key(gc.CipherSuite)
	if err != nil {
		return nil, err
	}
	ac := &mls.AuthenticatedContent{WireFormat: mls.WireFormatPublicMessage, Content: mls.FramedContent{
		GroupID: gc.GroupID, Epoch: gc.Epoch, Sender: mls.Sender{Type: mls.SenderExternal, Index: idx},
		ContentType: mls.ContentProposal, Proposal: &mls.Proposal{Type: mls.ProposalRemove, Removed: leaf},
	}}
	if err := ac.Sign(key, gc); err != nil {
		return nil, err
	}
	m := &mls.MLSMessage{Version: mls.ProtocolVersionMLS10, WireFormat: mls.WireFormatPublicMessage,
		PublicMessage: &mls.PublicMessage{Content: ac.Content, Auth: ac.Auth}}
	return mls.DecodeMLSMessage(m.Marshal()) // parsed back: mls keeps the exact bytes it verifies
}
