package ds_test

import (
	"errors"
	"testing"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/mls"
)

// snapshot is what a refused request must leave as it was: the stored
// group and what every member's queue holds.
type snapshot struct {
	version, epoch uint64
	queued         []int
}

func (in *instance) snapshot(t *testing.T, gid []byte, cs ...*dstest.Client) snapshot {
	t.Helper()
	v, e, err := in.db.Groups().Version(t.Context(), gid)
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{version: v, epoch: e}
	for _, c := range cs {
		s.queued = append(s.queued, len(in.fetch(t, c)))
	}
	return s
}

func TestBadInputChangesNothing(t *testing.T) {
	in := newSQLite(t)
	alice, bob, carol := in.client(t), in.client(t), in.client(t)
	other := in.newGroup(t, alice) // alice is leaf 0 here too
	gid := in.newGroup(t, alice, bob)
	stale := alice.AddCommit(t, carol)
	advance := bob.AddCommit(t, in.client(t))
	in.mustOK(t, advance.Request)
	bob.Accepted(t, advance)
	in.drain(t, alice)

	valid := alice.AppMessage(t, 32)
	badSig := append([]byte(nil), valid...)
	badSig[len(badSig)-1] ^= 1
	sign := func(c *dstest.Client, s ds.SenderID, g []byte, rt ds.RequestType, body []byte) []byte {
		return c.Message(t, s, g, rt, body)
	}
	reinit := &mls.Proposal{Type: mls.ProposalReInit, ReInit: &mls.ReInit{GroupID: gid, Version: mls.ProtocolVersionMLS10, CipherSuite: suite}}
	noWelcome := alice.AddCommit(t, carol)
	req, _ := ds.DecodeMessage(noWelcome.Request)
	body, _ := ds.DecodeSendCommitRequest(req.Request.Body)
	body.Welcome = nil

	tests := []struct {
		name    string
		msg     []byte
		wantErr error
		want    ds.Code
		// elsewhere: the request is addressed to the other group, whose
		// epoch the refusal carries.
		elsewhere bool
	}{
		{name: "garbage", msg: []byte{0xff, 0x00, 0x01}, wantErr: ds.ErrMalformed},
		{name: "empty", msg: nil, wantErr: ds.ErrMalformed},
		{name: "trailing byte", msg: append(append([]byte(nil), valid...), 0), wantErr: ds.ErrMalformed},
		{name: "truncated", msg: valid[:len(valid)-3], wantErr: ds.ErrMalformed},
		{name: "oversized", msg: make([]byte, ds.MaxMessageSize+1), wantErr: ds.ErrTooLarge},
		{name: "bad signature", msg: badSig, wantErr: ds.ErrBadSignature},
		{name: "signed by someone else", msg: sign(carol, alice.AsMember(), gid, ds.RequestSendMessage, nil), wantErr: ds.ErrBadSignature},
		{name: "unknown sender", msg: sign(alice, ds.SenderID{Type: ds.SenderLeafIndex, LeafIndex: 99}, gid, ds.RequestGroupInfo, nil), wantErr: ds.ErrUnknownSender},
		{name: "unknown key package", msg: sign(carol, carol.AsKeyPackage(), gid, ds.RequestGroupInfo, nil), wantErr: ds.ErrUnknownSender},
		{name: "unknown group", msg: sign(alice, alice.AsMember(), []byte("no such group"), ds.RequestGroupInfo, nil), wantErr: ds.ErrGroupNotFound},
		{name: "unknown request type", msg: sign(alice, alice.AsMember(), gid, 99, nil), wantErr: ds.ErrUnknownRequest},
		{name: "malformed body", msg: sign(alice, alice.AsMember(), gid, ds.RequestSendCommit, []byte{1, 2, 3}), wantErr: ds.ErrMalformed},
		{name: "body trailing byte", msg: sign(alice, alice.AsMember(), gid, ds.RequestGroupInfo, []byte{0}), wantErr: ds.ErrMalformed},
		{name: "stale epoch", msg: stale.Request, want: ds.CodeWrongEpoch},
		{name: "message for another group", msg: sign(alice, alice.AsMember(), other, ds.RequestSendMessage, appBody(t, alice)), want: ds.CodeInvalidMessage, elsewhere: true},
		{name: "disallowed proposal", msg: alice.ProposalMessage(t, reinit), want: ds.CodeProposalNotAllowed},
		{name: "commit without its Welcome", msg: sign(alice, alice.AsMember(), gid, ds.RequestSendCommit, body.Marshal()), want: ds.CodeInvalidMessage},
		{name: "commit as someone else", msg: sign(bob, bob.AsMember(), gid, ds.RequestSendCommit, mustBody(t, alice.AddCommit(t, carol).Request)), want: ds.CodeNotAllowed},
		{name: "delete with members", msg: sign(alice, alice.AsMember(), gid, ds.RequestDeleteGroup, nil), want: ds.CodeNotAllowed},
		{name: "queue that does not exist", msg: sign(alice, alice.AsMember(), gid, ds.RequestUpdateQueueConfig, ds.MarshalQueueConfig("AAAAAAAAAAAAAAAAAAAAAA")), want: ds.CodeInvalidQueue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.snapshot(t, gid, alice, bob)
			r, err := in.ds.Handle(t.Context(), tt.msg)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("Handle = %v, %v; want error %v", r, err, tt.wantErr)
			case tt.wantErr == nil && (err != nil || r.Code != tt.want):
				t.Errorf("Handle = %+v, %v; want code %s", r, err, tt.want)
			case tt.wantErr == nil && !tt.elsewhere && r.Epoch != before.epoch:
				t.Errorf("refusal carries epoch %d, want the current %d", r.Epoch, before.epoch)
			}
			if after := in.snapshot(t, gid, alice, bob); !equalSnapshots(before, after) {
				t.Errorf("state changed: %+v -> %+v", before, after)
			}
		})
	}
}

func equalSnapshots(a, b snapshot) bool {
	if a.version != b.version || a.epoch != b.epoch || len(a.queued) != len(b.queued) {
		return false
	}
	for i := range a.queued {
		if a.queued[i] != b.queued[i] {
			return false
		}
	}
	return true
}

func appBody(t *testing.T, c *dstest.Client) []byte {
	return mustBody(t, c.AppMessage(t, 16))
}

func mustBody(t *testing.T, b []byte) []byte {
	m, err := ds.DecodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	return m.Request.Body
}

func TestCreateGroupRefusals(t *testing.T) {
	in := newSQLite(t)
	alice := in.client(t)
	gid := groupID()
	create := alice.CreateGroup(t, gid)
	in.mustOK(t, create)
	if r := in.send(t, alice.CreateGroup(t, gid)); r.Code != ds.CodeGroupAlreadyExists {
		t.Errorf("second create = %s, want group_already_exists", r.Code)
	}
	bob := in.client(t)
	m, _ := ds.DecodeMessage(bob.CreateGroup(t, groupID()))
	// A DSMessage naming one group, carrying another's GroupInfo.
	if r := in.send(t, bob.Message(t, bob.AsKeyPackage(), groupID(), ds.RequestCreateGroup, m.Request.Body)); r.Code != ds.CodeInvalidGroupInfo {
		t.Errorf("create with another group's GroupInfo = %s, want invalid_group_info", r.Code)
	}
	// The sender must be the request's KeyPackage.
	carol := in.client(t)
	if _, err := in.ds.Handle(t.Context(), bob.Message(t, carol.AsKeyPackage(), groupID(), ds.RequestCreateGroup, m.Request.Body)); !errors.Is(err, ds.ErrUnknownSender) {
		t.Errorf("create by another KeyPackage = %v, want ErrUnknownSender", err)
	}
}

func TestDeleteGroup(t *testing.T) {
	in := newSQLite(t)
	alice := in.client(t)
	gid := in.newGroup(t, alice)
	in.mustOK(t, alice.Message(t, alice.AsMember(), gid, ds.RequestDeleteGroup, nil))
	if _, err := in.ds.Handle(t.Context(), alice.GroupInfoRequest(t, gid, alice.AsMember())); !errors.Is(err, ds.ErrGroupNotFound) {
		t.Errorf("group_info after delete = %v, want ErrGroupNotFound", err)
	}
}

// TestRecreatedGroupNotServedFromCache deletes a group on one instance and
// creates it again there: the other instance, which cached the first
// group, must serve the second.
func TestRecreatedGroupNotServedFromCache(t *testing.T) {
	url := newSQLiteURL(t)
	a, b := newInstance(t, url), newInstance(t, url)
	alice := a.client(t)
	gid := a.newGroup(t, alice)
	a.mustOK(t, alice.GroupInfoRequest(t, gid, alice.AsMember())) // cached on a
	b.mustOK(t, alice.Message(t, alice.AsMember(), gid, ds.RequestDeleteGroup, nil))
	carol := b.client(t)
	b.mustOK(t, carol.CreateGroup(t, gid))
	if _, err := a.ds.Handle(t.Context(), alice.GroupInfoRequest(t, gid, alice.AsMember())); !errors.Is(err, ds.ErrBadSignature) {
		t.Errorf("the deleted group's member asked the new group: %v, want ErrBadSignature (leaf 0 is carol now)", err)
	}
	r := a.mustOK(t, carol.GroupInfoRequest(t, gid, carol.AsMember()))
	if err := alice.Join(t, r.Body); err == nil {
		t.Error("instance a served the deleted group's tree")
	}
}
