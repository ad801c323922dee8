package mls

import (
	"bytes"
	"errors"
	"testing"
)

type passiveVector struct {
	CipherSuite  uint16 `json:"cipher_suite"`
	ExternalPSKs []struct {
		PSKID hexBytes `json:"psk_id"`
		PSK   hexBytes `json:"psk"`
	} `json:"external_psks"`
	KeyPackage                hexBytes `json:"key_package"`
	InitPriv                  hexBytes `json:"init_priv"`
	Welcome                   hexBytes `json:"welcome"`
	RatchetTree               hexBytes `json:"ratchet_tree"`
	InitialEpochAuthenticator hexBytes `json:"initial_epoch_authenticator"`
	Epochs                    []struct {
		Proposals []hexBytes `json:"proposals"`
		Commit    hexBytes   `json:"commit"`
	} `json:"epochs"`
}

type passiveStats struct {
	groups, epochs, proposals, commits int
	suites                             map[CipherSuite]int
}

func runPassiveClient(t *testing.T, i int, v *passiveVector, st *passiveStats) {
	cs := mustSuite(t, v.CipherSuite)
	st.suites[cs]++
	kpMsg, err := DecodeMLSMessage(v.KeyPackage)
	if err != nil || kpMsg.WireFormat != WireFormatKeyPackage {
		t.Fatalf("case %d: key package: %v", i, err)
	}
	kp := kpMsg.KeyPackage
	wMsg, err := DecodeMLSMessage(v.Welcome)
	if err != nil || wMsg.WireFormat != WireFormatWelcome {
		t.Fatalf("case %d: welcome: %v", i, err)
	}
	psks := map[string][]byte{}
	for _, p := range v.ExternalPSKs {
		psks[string(p.PSKID)] = p.PSK
	}
	ow, err := testOpenWelcome(wMsg.Welcome, kp, v.InitPriv, psks)
	if err != nil {
		t.Fatalf("case %d (suite %d): open welcome: %v", i, cs, err)
	}
	if !bytes.Equal(ow.epochAuthenticator, v.InitialEpochAuthenticator) {
		t.Fatalf("case %d: initial epoch authenticator mismatch: GroupContext from the Welcome is wrong", i)
	}
	var tree *RatchetTree
	if v.RatchetTree != nil {
		if tree, err = DecodeRatchetTree(cs, v.RatchetTree); err != nil {
			t.Fatalf("case %d: ratchet tree: %v", i, err)
		}
	}
	g, err := NewPublicGroup(ow.groupInfo, tree)
	if err != nil {
		t.Fatalf("case %d (suite %d): NewPublicGroup: %v", i, cs, err)
	}
	// The joiner is in the tree.
	found := false
	g.tree.Members(func(_ LeafIndex, ln *LeafNode) bool {
		found = found || bytes.Equal(ln.SignatureKey, kp.LeafNode.SignatureKey)
		return !found
	})
	if !found {
		t.Fatalf("case %d: joiner not in tree", i)
	}
	st.groups++
	for e, ep := range v.Epochs {
		for j, pb := range ep.Proposals {
			m, err := DecodeMLSMessage(pb)
			if err != nil {
				t.Fatalf("case %d epoch %d proposal %d: %v", i, e, j, err)
			}
			if _, err := g.ProcessProposal(m); err != nil {
				t.Fatalf("case %d (suite %d) epoch %d proposal %d: %v", i, cs, e, j, err)
			}
			st.proposals++
		}
		m, err := DecodeMLSMessage(ep.Commit)
		if err != nil {
			t.Fatalf("case %d epoch %d commit: %v", i, e, err)
		}
		before := g.GroupContext().Marshal()
		treeBefore := g.tree.Marshal()
		sc, err := g.StageCommit(m)
		if err != nil {
			t.Fatalf("case %d (suite %d) epoch %d commit: %v", i, cs, e, err)
		}
		// Staging leaves the group untouched.
		if !bytes.Equal(before, g.GroupContext().Marshal()) || !bytes.Equal(treeBefore, g.tree.Marshal()) {
			t.Fatalf("case %d epoch %d: staging changed the group", i, e)
		}
		if err := g.Merge(sc); err != nil {
			t.Fatal(err)
		}
		if err := g.Merge(sc); !errors.Is(err, ErrStaleCommit) {
			t.Fatalf("double merge: %v", err)
		}
		// The cached tree hash equals a fresh computation.
		fresh, err := DecodeRatchetTree(cs, g.tree.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh.TreeHash(), g.ctx.TreeHash) {
			t.Fatalf("case %d epoch %d: cached tree hash differs from fresh", i, e)
		}
		st.commits++
		st.epochs++
		if g.ReInit() != nil && e != len(v.Epochs)-1 {
			t.Fatalf("case %d: epochs after ReInit", i)
		}
	}
	// The final state is a valid tree for the final GroupContext.
	if _, err := g.tree.validate(g.ctx.GroupID, nil); err != nil {
		t.Fatalf("case %d: final tree invalid: %v", i, err)
	}
}

func testPassiveFile(t *testing.T, file string, wantSuites int) {
	var vs []passiveVector
	loadTestVector(t, file, &vs)
	st := &passiveStats{suites: map[CipherSuite]int{}}
	for i := range vs {
		runPassiveClient(t, i, &vs[i], st)
	}
	if len(st.suites) < wantSuites {
		t.Errorf("only %d suites covered", len(st.suites))
	}
	t.Logf("%s: %d groups, %d epochs, %d proposals, %d commits, suites %v", file, st.groups, st.epochs, st.proposals, st.commits, st.suites)
}

func TestPassiveClientWelcome(t *testing.T) { testPassiveFile(t, "passive-client-welcome.json", 7) }
func TestPassiveClientHandlingCommit(t *testing.T) {
	testPassiveFile(t, "passive-client-handling-commit.json", 7)
}
func TestPassiveClientRandom(t *testing.T) { testPassiveFile(t, "passive-client-random.json", 1) }
