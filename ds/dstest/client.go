// Package dstest has the conformance suite of ds.Store (TestStore) and
// Client, an MLS client for tests and benchmarks that talks to a DS.
package dstest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

// Client is an MLS client as a DS sees one. It signs with a real key and
// builds real KeyPackages, GroupInfos, commits and Welcomes, and it
// follows its group's public state (an mls.PublicGroup) from what its
// queue delivers. What only members could check (confirmation and
// membership tags, HPKE ciphertexts, application ciphertexts) is random
// bytes of the right size: a DS cannot tell. It is not safe for
// concurrent use.
type Client struct {
	Suite mls.CipherSuite
	Key   *mls.SigningKey
	// KeyPackage is the client's current KeyPackage (used to add it).
	KeyPackage *mls.KeyPackage
	Queue      qs.ID
	// QueueSecret authenticates fetches from Queue.
	QueueSecret qs.Secret
	// Group is the client's view of its group, nil before it joins.
	Group *mls.PublicGroup
	// Leaf is the client's leaf in Group.
	Leaf uint32
	// Welcomed is set when a Welcome for the client arrived.
	Welcomed bool
	// Received are the application messages that arrived.
	Received [][]byte
	// After is the sequence number of the last fetched queue message.
	After uint64
	// Proposals are the PublicMessage proposals that arrived this epoch,
	// in order, with their refs.
	Proposals []*mls.PendingProposal
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// NewClient returns a client with a fresh key and KeyPackage.
func NewClient(tb testing.TB, cs mls.CipherSuite, queue qs.ID, secret qs.Secret) *Client {
	tb.Helper()
	sk, err := cs.GenerateSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	c := &Client{Suite: cs, Key: sk, Queue: queue, QueueSecret: secret}
	c.KeyPackage = c.newKeyPackage(tb)
	return c
}

func (c *Client) newKeyPackage(tb testing.TB) *mls.KeyPackage {
	ln := mls.LeafNode{
		EncryptionKey: random(32),
		SignatureKey:  c.Key.PublicKey(),
		Credential:    mls.Credential{Type: mls.CredentialBasic, Identity: c.Key.PublicKey()[:8]},
		Capabilities: mls.Capabilities{Versions: []mls.ProtocolVersion{mls.ProtocolVersionMLS10},
			CipherSuites: []mls.CipherSuite{c.Suite}, Credentials: []mls.CredentialType{mls.CredentialBasic}},
		Source:   mls.LeafNodeSourceKeyPackage,
		Lifetime: mls.Lifetime{NotBefore: 0, NotAfter: ^uint64(0)},
	}
	kp := &mls.KeyPackage{Version: mls.ProtocolVersionMLS10, CipherSuite: c.Suite, InitKey: random(32), LeafNode: ln}
	if err := kp.LeafNode.Sign(c.Key, nil, 0); err != nil {
		tb.Fatal(err)
	}
	if err := kp.Sign(c.Key); err != nil {
		tb.Fatal(err)
	}
	kp, err := mls.DecodeKeyPackage(kp.Marshal())
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

// KeyPackageRef returns the ref of the client's KeyPackage.
func (c *Client) KeyPackageRef() []byte {
	ref, _ := c.KeyPackage.Ref()
	return ref
}

// Message signs a DSMessage from sender.
func (c *Client) Message(tb testing.TB, sender ds.SenderID, gid []byte, t ds.RequestType, body []byte) []byte {
	tb.Helper()
	m := &ds.Message{Sender: sender, Request: ds.Request{GroupID: gid, Type: t, Body: body}}
	if err := m.Sign(c.Key); err != nil {
		tb.Fatal(err)
	}
	return m.Marshal()
}

// AsMember is the client's leaf_index sender id.
func (c *Client) AsMember() ds.SenderID {
	return ds.SenderID{Type: ds.SenderLeafIndex, LeafIndex: c.Leaf}
}

// AsKeyPackage is the client's key_package_ref sender id.
func (c *Client) AsKeyPackage() ds.SenderID {
	return ds.SenderID{Type: ds.SenderKeyPackageRef, KeyPackageRef: c.KeyPackageRef()}
}

func wrap(tb testing.TB, m *mls.MLSMessage) *mls.MLSMessage {
	tb.Helper()
	m.Version = mls.ProtocolVersionMLS10
	d, err := mls.DecodeMLSMessage(m.Marshal())
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// CreateGroup returns the create_group request of a group holding just
// the client, and makes that group the client's.
func (c *Client) CreateGroup(tb testing.TB, gid []byte) []byte {
	tb.Helper()
	return c.CreateGroupWith(tb, gid, nil)
}

// CreateGroupWith is CreateGroup with GroupContext extensions (such as
// external_senders).
func (c *Client) CreateGroupWith(tb testing.TB, gid []byte, exts []mls.Extension) []byte {
	tb.Helper()
	var node mls.Encoder
	node.U8(1) // present
	node.U8(1) // leaf
	node.Raw(c.KeyPackage.LeafNode.Marshal())
	var enc mls.Encoder
	enc.Opaque(node.Bytes())
	tree, err := mls.DecodeRatchetTree(c.Suite, enc.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	gc := mls.GroupContext{Version: mls.ProtocolVersionMLS10, CipherSuite: c.Suite, GroupID: gid,
		TreeHash: tree.TreeHash(), ConfirmedTranscriptHash: []byte{}, Extensions: exts}
	gi := &mls.GroupInfo{GroupContext: gc, ConfirmationTag: random(c.Suite.HashSize())}
	if err := gi.Sign(c.Key); err != nil {
		tb.Fatal(err)
	}
	gim := wrap(tb, &mls.MLSMessage{WireFormat: mls.WireFormatGroupInfo, GroupInfo: gi})
	if c.Group, err = mls.NewPublicGroup(gim.GroupInfo, tree); err != nil {
		tb.Fatal(err)
	}
	c.Leaf = 0
	req := &ds.CreateGroupRequest{KeyPackage: c.KeyPackage, Queue: c.Queue, GroupInfo: gim, RatchetTree: enc.Bytes()}
	return c.Message(tb, c.AsKeyPackage(), gid, ds.RequestCreateGroup, req.Marshal())
}

// Pending is a commit sent but not yet accepted.
type Pending struct {
	Request []byte
	Staged  *mls.StagedCommit
	Commit  *mls.MLSMessage
}

// frame signs fc as a PublicMessage of the client's group.
func (c *Client) frame(tb testing.TB, fc mls.FramedContent) *mls.MLSMessage {
	tb.Helper()
	gc := c.Group.GroupContext()
	fc.GroupID, fc.Epoch = gc.GroupID, gc.Epoch
	fc.Sender = mls.Sender{Type: mls.SenderMember, Index: c.Leaf}
	ac := &mls.AuthenticatedContent{WireFormat: mls.WireFormatPublicMessage, Content: fc}
	if err := ac.Sign(c.Key, gc); err != nil {
		tb.Fatal(err)
	}
	if fc.ContentType == mls.ContentCommit {
		ac.Auth.ConfirmationTag = random(c.Suite.HashSize())
	}
	pm := &mls.PublicMessage{Content: ac.Content, Auth: ac.Auth, MembershipTag: random(c.Suite.HashSize())}
	return wrap(tb, &mls.MLSMessage{WireFormat: mls.WireFormatPublicMessage, PublicMessage: pm})
}

// AddCommit builds the send_commit request of a commit adding the
// clients (by value, without a path), with the new epoch's GroupInfo and
// a Welcome addressed to them.
func (c *Client) AddCommit(tb testing.TB, joiners ...*Client) *Pending {
	tb.Helper()
	commit := &mls.Commit{}
	for _, j := range joiners {
		commit.Proposals = append(commit.Proposals, mls.ProposalOrRef{Proposal: &mls.Proposal{Type: mls.ProposalAdd, KeyPackage: j.KeyPackage}})
	}
	return c.buildCommit(tb, commit, joiners)
}

// CommitRefs builds the send_commit request of a commit covering the
// proposals refs by reference; joiners are the clients those proposals
// add, whom the Welcome addresses.
func (c *Client) CommitRefs(tb testing.TB, refs [][]byte, joiners ...*Client) *Pending {
	tb.Helper()
	commit := &mls.Commit{}
	for _, r := range refs {
		commit.Proposals = append(commit.Proposals, mls.ProposalOrRef{Reference: r})
	}
	return c.buildCommit(tb, commit, joiners)
}

// PathCommit builds the send_commit request of a commit covering the
// proposals refs by reference, with an UpdatePath (RFC 9420 requires one
// for Remove and Update proposals). The path's keys and encrypted path
// secrets are random bytes of the right number: a DS cannot tell.
func (c *Client) PathCommit(tb testing.TB, refs [][]byte) *Pending {
	tb.Helper()
	commit := &mls.Commit{}
	for _, r := range refs {
		commit.Proposals = append(commit.Proposals, mls.ProposalOrRef{Reference: r})
	}
	leaf := *c.Group.Leaf(mls.LeafIndex(c.Leaf))
	leaf.EncryptionKey = random(32)
	fill := func(_ mls.NodeIndex, res []mls.NodeIndex) ([]byte, []mls.HPKECiphertext, error) {
		cts := make([]mls.HPKECiphertext, len(res))
		for i := range cts {
			cts[i] = mls.HPKECiphertext{KEMOutput: random(32), Ciphertext: random(48)}
		}
		return random(32), cts, nil
	}
	path, err := c.Group.BuildUpdatePath(mls.LeafIndex(c.Leaf), commit.Proposals, leaf, c.Key, fill)
	if err != nil {
		tb.Fatalf("building the update path: %v", err)
	}
	commit.Path = path
	return c.buildCommit(tb, commit, nil)
}

func (c *Client) buildCommit(tb testing.TB, commit *mls.Commit, joiners []*Client) *Pending {
	msg := c.frame(tb, mls.FramedContent{ContentType: mls.ContentCommit, Commit: commit})
	sc, err := c.Group.StageCommit(msg)
	if err != nil {
		tb.Fatalf("staging own commit: %v", err)
	}
	req := &ds.SendCommitRequest{Commit: msg, GroupInfo: c.groupInfo(tb, sc, msg)}
	if len(joiners) > 0 {
		w := &mls.Welcome{CipherSuite: c.Suite, EncryptedGroupInfo: random(64)}
		for _, j := range joiners {
			ref := j.KeyPackageRef()
			w.Secrets = append(w.Secrets, mls.EncryptedGroupSecrets{NewMember: ref,
				EncryptedGroupSecrets: mls.HPKECiphertext{KEMOutput: random(32), Ciphertext: random(48)}})
			req.Added = append(req.Added, ds.AddedClient{KeyPackageRef: ref, Queue: j.Queue})
		}
		req.Welcome = wrap(tb, &mls.MLSMessage{WireFormat: mls.WireFormatWelcome, Welcome: w})
	}
	return &Pending{Request: c.Message(tb, c.AsMember(), c.Group.GroupID(), ds.RequestSendCommit, req.Marshal()), Staged: sc, Commit: msg}
}

func (c *Client) groupInfo(tb testing.TB, sc *mls.StagedCommit, commit *mls.MLSMessage) *mls.MLSMessage {
	gi := &mls.GroupInfo{GroupContext: *sc.GroupContext(), ConfirmationTag: commit.PublicMessage.Auth.ConfirmationTag, Signer: c.Leaf}
	if err := gi.Sign(c.Key); err != nil {
		tb.Fatal(err)
	}
	return wrap(tb, &mls.MLSMessage{WireFormat: mls.WireFormatGroupInfo, GroupInfo: gi})
}

// Accepted merges a pending commit the DS accepted.
func (c *Client) Accepted(tb testing.TB, p *Pending) {
	tb.Helper()
	if err := c.Group.Merge(p.Staged); err != nil {
		tb.Fatal(err)
	}
	c.Proposals = nil
}

// ProposalMessage builds the send_proposal request of a proposal.
func (c *Client) ProposalMessage(tb testing.TB, p *mls.Proposal) []byte {
	tb.Helper()
	msg := c.frame(tb, mls.FramedContent{ContentType: mls.ContentProposal, Proposal: p})
	return c.Message(tb, c.AsMember(), c.Group.GroupID(), ds.RequestSendProposal, msg.Marshal())
}

// AppMessage builds the send_message request of an application message
// (a PrivateMessage whose ciphertext is random).
func (c *Client) AppMessage(tb testing.TB, size int) []byte {
	tb.Helper()
	gc := c.Group.GroupContext()
	pm := &mls.PrivateMessage{GroupID: gc.GroupID, Epoch: gc.Epoch, ContentType: mls.ContentApplication,
		AuthenticatedData: []byte{}, EncryptedSenderData: random(28), Ciphertext: random(size)}
	msg := wrap(tb, &mls.MLSMessage{WireFormat: mls.WireFormatPrivateMessage, PrivateMessage: pm})
	return c.Message(tb, c.AsMember(), gc.GroupID, ds.RequestSendMessage, msg.Marshal())
}

// GroupInfoRequest builds a group_info request, as a member or (before
// the client knows its leaf) by its KeyPackage ref.
func (c *Client) GroupInfoRequest(tb testing.TB, gid []byte, sender ds.SenderID) []byte {
	return c.Message(tb, sender, gid, ds.RequestGroupInfo, nil)
}

// Join builds the client's group from a group_info result.
func (c *Client) Join(tb testing.TB, body []byte) error {
	tb.Helper()
	res, err := ds.DecodeGroupInfoResult(body)
	if err != nil {
		return err
	}
	tree, err := mls.DecodeRatchetTree(res.GroupInfo.GroupInfo.GroupContext.CipherSuite, res.RatchetTree)
	if err != nil {
		return err
	}
	g, err := mls.NewPublicGroup(res.GroupInfo.GroupInfo, tree)
	if err != nil {
		return err
	}
	l, ok := g.LeafBySignatureKey(c.Key.PublicKey())
	if !ok {
		return fmt.Errorf("not a member of the fetched group")
	}
	c.Group, c.Leaf = g, uint32(l)
	return nil
}

// Process applies one message from the client's queue: commits of its
// current epoch are staged and merged (older ones skipped: a client that
// joined later already has their result), proposals retained, Welcomes
// and application messages noted.
func (c *Client) Process(data []byte) error {
	m, err := mls.DecodeMLSMessage(data)
	if err != nil {
		return err
	}
	switch {
	case m.Welcome != nil:
		c.Welcomed = true
	case m.PrivateMessage != nil:
		c.Received = append(c.Received, data)
	case m.PublicMessage != nil && c.Group != nil && bytes.Equal(m.GroupID(), c.Group.GroupID()):
		if m.Epoch() < c.Group.Epoch() {
			return nil
		}
		if m.PublicMessage.Content.ContentType == mls.ContentProposal {
			pp, err := c.Group.ProcessProposal(m)
			if err == nil {
				c.Proposals = append(c.Proposals, pp)
			}
			return err
		}
		sc, err := c.Group.StageCommit(m)
		if err != nil {
			return err
		}
		c.Proposals = nil
		return c.Group.Merge(sc)
	}
	return nil
}
