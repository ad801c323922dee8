package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/mls"
)

// publishedExtension fetches the DS's external_senders entry for suite 1
// from s and returns the extension a group lists it in.
func publishedExtension(t *testing.T, s *testServer) []mls.Extension {
	t.Helper()
	resp, out := s.do(t, http.MethodGet, "/v1/ds/external-senders", "")
	var got struct {
		ExternalSenders []struct {
			CipherSuite    uint16 `json:"cipher_suite"`
			ExternalSender []byte `json:"external_sender"`
		} `json:"external_senders"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(out), &got) != nil || len(got.ExternalSenders) == 0 {
		t.Fatalf("GET /v1/ds/external-senders = %d %s", resp.StatusCode, out)
	}
	var list mls.Encoder
	list.Opaque(got.ExternalSenders[0].ExternalSender) // suite 1's entry, first
	return []mls.Extension{{Type: mls.ExtensionExternalSenders, Data: list.Bytes()}}
}

// TestDSRemovesLostQueueEndToEnd runs through a running gateway: a group
// lists the DS's published entry; Carol deletes her queue; Alice's next
// message makes the DS propose Carol's removal, which Bob receives once,
// verifies against the group's copy of the published key, and commits by
// reference; Alice follows.
func TestDSRemovesLostQueueEndToEnd(t *testing.T) {
	s := startServer(t)
	alice, bob, carol := queueOn(t, s, ""), queueOn(t, s, ""), queueOn(t, s, "")
	gid := []byte("removal group")
	dsOK(t, s, alice.CreateGroupWith(t, gid, publishedExtension(t, s)))
	p := alice.AddCommit(t, bob, carol)
	dsOK(t, s, p.Request)
	alice.Accepted(t, p)
	for _, c := range []*dstest.Client{bob, carol} {
		drainOn(t, s, c, 0)
		r := dsOK(t, s, c.GroupInfoRequest(t, gid, c.AsKeyPackage()))
		if err := c.Join(t, r.Body); err != nil {
			t.Fatal(err)
		}
	}
	auth := []string{"Authorization", "Bearer " + string(carol.QueueSecret)}
	if resp, out := s.do(t, http.MethodDelete, fmt.Sprintf("/v1/queues/%s", carol.Queue), "", auth...); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE queue = %d %s", resp.StatusCode, out)
	}

	dsOK(t, s, alice.AppMessage(t, 40))
	dsOK(t, s, alice.AppMessage(t, 40))
	drainOn(t, s, bob, 0)
	if len(bob.Proposals) != 1 || bob.Proposals[0].Sender.Type != mls.SenderExternal || bob.Proposals[0].Proposal.Removed != carol.Leaf {
		t.Fatalf("bob holds %d proposals (%+v), want the DS's Remove of leaf %d", len(bob.Proposals), bob.Proposals, carol.Leaf)
	}
	c := bob.PathCommit(t, [][]byte{bob.Proposals[0].Ref})
	dsOK(t, s, c.Request)
	bob.Accepted(t, c)
	drainOn(t, s, alice, 0)
	if alice.Group.NumMembers() != 2 || alice.Group.Epoch() != bob.Group.Epoch() || alice.Group.Leaf(mls.LeafIndex(carol.Leaf)) != nil {
		t.Errorf("alice: %d members at epoch %d (bob %d); want 2 without carol", alice.Group.NumMembers(), alice.Group.Epoch(), bob.Group.Epoch())
	}
	if _, metrics := s.do(t, http.MethodGet, "/metrics", ""); !strings.Contains(metrics, `tryst_ds_removals_total{outcome="proposed"} 1`) {
		t.Errorf("/metrics does not count the one proposed removal")
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve = %v", err)
	}
}
