package ds

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

// createGroup stores a new one-member group. The sender is the creator's
// KeyPackage (sender type key_package_ref, the ref of the request's
// KeyPackage), whose signature key signs the DSMessage and must be the
// only member's.
func (s *Service) createGroup(ctx context.Context, m *Message) (*Response, error) {
	req, err := DecodeCreateGroupRequest(m.Request.Body)
	if err != nil {
		return nil, err
	}
	if err := authenticateCreator(m, req.KeyPackage); err != nil {
		s.stats.rejected.Add(1)
		return nil, err
	}
	pg, o, bad := s.validateNewGroup(m, req)
	if !bad {
		if o, bad, err = s.checkQueues(ctx, pg.Epoch(), []qs.ID{req.Queue}); err != nil {
			return nil, err
		}
	}
	if !bad {
		if o, err = s.storeNewGroup(ctx, pg, m, req); err != nil {
			return nil, err
		}
	}
	s.count(RequestCreateGroup, o.resp.Code)
	return &o.resp, nil
}

// validateNewGroup builds the group's public state from the GroupInfo and
// tree, validating both completely, and checks that the creator is its
// only member.
func (s *Service) validateNewGroup(m *Message, req *CreateGroupRequest) (*mls.PublicGroup, outcome, bool) {
	kp := req.KeyPackage
	if err := kp.VerifySignature(); err != nil || kp.Version != mls.ProtocolVersionMLS10 {
		return nil, refused(CodeInvalidKeyPackage, 0, "KeyPackage: %v", err), true
	}
	gi := req.GroupInfo.GroupInfo
	if gi == nil {
		return nil, refused(CodeInvalidGroupInfo, 0, "group_info is not a GroupInfo"), true
	}
	var tree *mls.RatchetTree
	if len(req.RatchetTree) > 0 {
		t, err := mls.DecodeRatchetTree(gi.GroupContext.CipherSuite, req.RatchetTree)
		if err != nil {
			return nil, refused(CodeInvalidGroupInfo, 0, "ratchet_tree: %v", err), true
		}
		tree = t
	}
	pg, err := mls.NewPublicGroup(gi, tree, s.cfg.MLSOptions...)
	if err != nil {
		return nil, refused(CodeInvalidGroupInfo, 0, "%v", err), true
	}
	switch {
	case !bytes.Equal(pg.GroupID(), m.Request.GroupID):
		return nil, refused(CodeInvalidGroupInfo, 0, "the GroupInfo is for another group"), true
	case kp.CipherSuite != pg.CipherSuite():
		return nil, refused(CodeInvalidKeyPackage, 0, "KeyPackage suite %d, group %d", kp.CipherSuite, pg.CipherSuite()), true
	case pg.NumMembers() != 1 || pg.Leaf(0) == nil || !bytes.Equal(pg.Leaf(0).SignatureKey, kp.LeafNode.SignatureKey):
		return nil, refused(CodeInvalidGroupInfo, 0, "the group must hold exactly the creator, at leaf 0"), true
	}
	return pg, outcome{}, false
}

func (s *Service) storeNewGroup(ctx context.Context, pg *mls.PublicGroup, m *Message, req *CreateGroupRequest) (outcome, error) {
	creator := Member{Leaf: 0, Queue: req.Queue, KeyPackageRef: m.Sender.KeyPackageRef}
	g := Group{ID: pg.GroupID(), Version: firstVersion(), Epoch: pg.Epoch(), Header: pg.MarshalHeader(),
		GroupInfo: req.GroupInfo.Marshal(), Nodes: pg.NodeRecords(), Members: []Member{creator}}
	if err := s.store.Create(ctx, g, s.cfg.Now()); err != nil {
		if errors.Is(err, ErrGroupExists) {
			return refused(CodeGroupAlreadyExists, 0, "group exists"), nil
		}
		return outcome{}, err
	}
	st := &groupState{version: g.Version, pg: pg, members: map[uint32]Member{}, kpRefs: map[string]uint32{}, groupInfo: g.GroupInfo,
		removing: map[uint32]bool{}}
	st.setMember(creator)
	s.remember(g.ID, st)
	return outcome{resp: Response{Code: CodeOK, Epoch: pg.Epoch()}}, nil
}

// firstVersion is a new group's version: random below 2^40, leaving room
// for any number of changes below the store's 2^62 bound.
func firstVersion() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])>>24 + 1
}

func authenticateCreator(m *Message, kp *mls.KeyPackage) error {
	if m.Sender.Type != SenderKeyPackageRef {
		return fmt.Errorf("%w: create_group is sent by the creator's key_package_ref", ErrUnknownSender)
	}
	ref, err := kp.Ref()
	if err != nil || subtle.ConstantTimeCompare(ref, m.Sender.KeyPackageRef) != 1 {
		return fmt.Errorf("%w: key_package_ref is not the KeyPackage's", ErrUnknownSender)
	}
	if err := kp.CipherSuite.VerifyWithLabel(kp.LeafNode.SignatureKey, SignatureLabel, m.TBS(), m.Signature); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}
