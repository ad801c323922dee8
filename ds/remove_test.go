package ds_test

import (
	"bytes"
	"testing"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// newSenderInstance is an instance whose DS signs with the deployment's
// keys, loaded (created on first use) from the database.
func newSenderInstance(t *testing.T, url string, key *masterkey.Key) *instance {
	t.Helper()
	probe := newInstance(t, url) // opens and migrates the database
	keys, err := ds.LoadSenderKeys(t.Context(), probe.db.SenderSecrets(), key)
	if err != nil {
		t.Fatalf("LoadSenderKeys = %v", err)
	}
	return newInstanceConfig(t, url, memstore.NewNotifier[qs.ID](), ds.Config{Sender: keys})
}

// externalSenders is the extension listing the DS's entry for suite.
func externalSenders(t *testing.T, in *instance) []mls.Extension {
	t.Helper()
	es, err := in.ds.Sender().ExternalSender(suite)
	if err != nil {
		t.Fatal(err)
	}
	return []mls.Extension{{Type: mls.ExtensionExternalSenders, Data: mls.EncodeExternalSenders([]mls.ExternalSender{es})}}
}

func (in *instance) deleteQueue(t *testing.T, c *dstest.Client) {
	t.Helper()
	if err := in.queues.Delete(t.Context(), qs.Credentials{ID: string(c.Queue), Secret: string(c.QueueSecret)}); err != nil {
		t.Fatalf("deleting the queue: %v", err)
	}
}

// TestRejectedQueueRemovedByDSProposal: a member deletes its queue; the
// next fan-out makes the DS propose the member's removal as external
// sender, once, to every remaining member (also after a restart); the
// proposal verifies with the DS's published key; a member commits it by
// reference and the group loses the leaf.
func TestRejectedQueueRemovedByDSProposal(t *testing.T) {
	for name, url := range map[string]func(testing.TB) string{"SQLite": sqlstoretest.SQLiteURL, "PostgreSQL": sqlstoretest.PostgresURL} {
		t.Run(name, func(t *testing.T) { testRejectedQueueRemoved(t, url(t)) })
	}
}

func testRejectedQueueRemoved(t *testing.T, url string) {
	key := masterkey.Generate()
	in := newSenderInstance(t, url, key)
	alice, bob, carol, dave := in.client(t), in.client(t), in.client(t), in.client(t)
	gid := in.newGroupWith(t, externalSenders(t, in), alice, bob, carol, dave)
	in.deleteQueue(t, carol)

	in.mustOK(t, alice.AppMessage(t, 32))
	remaining := []*dstest.Client{alice, bob, dave}
	var ref []byte
	for _, c := range remaining {
		in.drain(t, c)
		if len(c.Proposals) != 1 {
			t.Fatalf("member %d holds %d proposals, want the DS's one", c.Leaf, len(c.Proposals))
		}
		pp := c.Proposals[0]
		if pp.Sender.Type != mls.SenderExternal || pp.Proposal.Type != mls.ProposalRemove || pp.Proposal.Removed != carol.Leaf {
			t.Fatalf("member %d got %+v from %+v, want an external Remove of leaf %d", c.Leaf, pp.Proposal, pp.Sender, carol.Leaf)
		}
		ref = pp.Ref
	}
	// Further fan-outs, also from a restarted instance, propose nothing new.
	in.mustOK(t, dave.AppMessage(t, 32))
	again := newSenderInstance(t, url, key)
	again.mustOK(t, bob.AppMessage(t, 32))
	for _, c := range remaining {
		in.drain(t, c)
		if len(c.Proposals) != 1 {
			t.Errorf("member %d holds %d proposals after more messages, want 1", c.Leaf, len(c.Proposals))
		}
	}
	if got := in.ds.Stats().Removals + again.ds.Stats().Removals; got != 1 {
		t.Errorf("the DS issued %d removals, want 1", got)
	}

	p := bob.PathCommit(t, [][]byte{ref})
	again.mustOK(t, p.Request)
	bob.Accepted(t, p)
	for _, c := range []*dstest.Client{alice, dave} {
		in.drain(t, c)
	}
	for _, c := range remaining {
		if c.Group.Leaf(mls.LeafIndex(carol.Leaf)) != nil || c.Group.NumMembers() != 3 || c.Group.Epoch() != bob.Group.Epoch() ||
			!bytes.Equal(c.Group.GroupContext().TreeHash, bob.Group.GroupContext().TreeHash) {
			t.Errorf("member %d: %d members at epoch %d, carol's leaf %v; want 3 at bob's epoch and tree hash without her",
				c.Leaf, c.Group.NumMembers(), c.Group.Epoch(), c.Group.Leaf(mls.LeafIndex(carol.Leaf)))
		}
	}
	g, err := in.db.Groups().Get(t.Context(), gid)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members) != 3 || len(g.Proposals) != 0 {
		t.Errorf("stored group: %d members, %d proposals; want 3 and 0", len(g.Members), len(g.Proposals))
	}
}

// TestRejectedQueueWithoutExternalSender: a group that does not list the
// DS gets no proposal; the member is counted as unremovable and the
// others still get their messages.
func TestRejectedQueueWithoutExternalSender(t *testing.T) {
	in := newSenderInstance(t, sqlstoretest.SQLiteURL(t), masterkey.Generate())
	alice, bob, carol := in.client(t), in.client(t), in.client(t)
	in.newGroupWith(t, nil, alice, bob, carol)
	in.deleteQueue(t, carol)
	in.mustOK(t, alice.AppMessage(t, 32))
	in.drain(t, bob)
	if len(bob.Proposals) != 0 || len(bob.Received) != 1 {
		t.Errorf("bob holds %d proposals and %d messages, want 0 and 1", len(bob.Proposals), len(bob.Received))
	}
	if st := in.ds.Stats(); st.Removals != 0 || st.Unremovable != 1 {
		t.Errorf("stats: %d removals, %d unremovable; want 0 and 1", st.Removals, st.Unremovable)
	}
}

// TestSenderKeysShared: instances on one database sign with the same
// keys; another master key cannot open the stored secret.
func TestSenderKeysShared(t *testing.T) {
	url := sqlstoretest.SQLiteURL(t)
	key := masterkey.Generate()
	a, b := newSenderInstance(t, url, key), newSenderInstance(t, url, key)
	ea, _ := a.ds.Sender().ExternalSender(suite)
	eb, _ := b.ds.Sender().ExternalSender(suite)
	if !bytes.Equal(ea.SignatureKey, eb.SignatureKey) || string(ea.Credential.Identity) != ds.SenderIdentity {
		t.Errorf("instances publish %x and %x (identity %q)", ea.SignatureKey, eb.SignatureKey, ea.Credential.Identity)
	}
	if _, err := ds.LoadSenderKeys(t.Context(), a.db.SenderSecrets(), masterkey.Generate()); err == nil {
		t.Error("LoadSenderKeys with another master key succeeded")
	}
}

// TestRejectedQueues: of a commit's fan-out to 10,000 queues and a
// Welcome, the two queues not delivered to are found, once each, and the
// sender's is not one. (Its cost on every fan-out is BenchmarkCommit's.)
func TestRejectedQueues(t *testing.T) {
	var queues []qs.ID
	for range 10_000 {
		queues = append(queues, qs.NewID())
	}
	sender, lost1, lost2 := queues[0], queues[17], queues[9_999]
	var delivered []qs.ID
	for _, q := range queues {
		if q != sender && q != lost1 && q != lost2 {
			delivered = append(delivered, q)
		}
	}
	d := []ds.Delivery{{Queues: queues, Except: sender}, {Queues: []qs.ID{lost2}}}
	if got := ds.RejectedQueues(d, delivered); len(got) != 2 || got[0] != lost1 || got[1] != lost2 {
		t.Errorf("rejected = %v, want [%s %s]", got, lost1, lost2)
	}
	if got := ds.RejectedQueues(d[:1], append(delivered, lost1, lost2)); got != nil {
		t.Errorf("rejected with everyone delivered = %v, want none", got)
	}
}
