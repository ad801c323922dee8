package mls

import (
	"bytes"
	"errors"
	"testing"
)

func TestWelcomeVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16   `json:"cipher_suite"`
		InitPriv    hexBytes `json:"init_priv"`
		KeyPackage  hexBytes `json:"key_package"`
		SignerPub   hexBytes `json:"signer_pub"`
		Welcome     hexBytes `json:"welcome"`
	}
	loadTestVector(t, "welcome.json", &vs)
	seen := map[CipherSuite]bool{}
	for i, v := range vs {
		cs := mustSuite(t, v.CipherSuite)
		seen[cs] = true
		kpm, err := DecodeMLSMessage(v.KeyPackage)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		wm, err := DecodeMLSMessage(v.Welcome)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if wm.Welcome.CipherSuite != cs || kpm.KeyPackage.CipherSuite != cs {
			t.Fatalf("case %d: suite mismatch", i)
		}
		// DS part: the KeyPackage's signature and routing by KeyPackageRef.
		if err := kpm.KeyPackage.VerifySignature(); err != nil {
			t.Fatalf("case %d: key package signature: %v", i, err)
		}
		ref, _ := kpm.KeyPackage.Ref()
		if wm.Welcome.Find(ref) == nil {
			t.Fatalf("case %d: KeyPackageRef not among the Welcome's recipients", i)
		}
		// Test-only part: open it and check the GroupInfo signature.
		ow, err := testOpenWelcome(wm.Welcome, kpm.KeyPackage, v.InitPriv, nil)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if err := ow.groupInfo.VerifySignature(v.SignerPub); err != nil {
			t.Fatalf("case %d: GroupInfo signature: %v", i, err)
		}
	}
	checkSuitesCovered(t, seen)
}

func TestMessageProtectionVectors(t *testing.T) {
	var vs []struct {
		CipherSuite             uint16   `json:"cipher_suite"`
		GroupID                 hexBytes `json:"group_id"`
		Epoch                   uint64   `json:"epoch"`
		TreeHash                hexBytes `json:"tree_hash"`
		ConfirmedTranscriptHash hexBytes `json:"confirmed_transcript_hash"`
		SignaturePriv           hexBytes `json:"signature_priv"`
		SignaturePub            hexBytes `json:"signature_pub"`
		MembershipKey           hexBytes `json:"membership_key"`
		Proposal                hexBytes `json:"proposal"`
		ProposalPub             hexBytes `json:"proposal_pub"`
		ProposalPriv            hexBytes `json:"proposal_priv"`
		Commit                  hexBytes `json:"commit"`
		CommitPub               hexBytes `json:"commit_pub"`
		CommitPriv              hexBytes `json:"commit_priv"`
		Application             hexBytes `json:"application"`
		ApplicationPriv         hexBytes `json:"application_priv"`
	}
	loadTestVector(t, "message-protection.json", &vs)
	seen := map[CipherSuite]bool{}
	for i, v := range vs {
		cs := mustSuite(t, v.CipherSuite)
		seen[cs] = true
		gc := &GroupContext{
			Version: ProtocolVersionMLS10, CipherSuite: cs, GroupID: v.GroupID, Epoch: v.Epoch,
			TreeHash: v.TreeHash, ConfirmedTranscriptHash: v.ConfirmedTranscriptHash,
		}
		for _, c := range []struct {
			name    string
			pub     hexBytes
			content hexBytes
			ct      ContentType
		}{
			{"proposal", v.ProposalPub, v.Proposal, ContentProposal},
			{"commit", v.CommitPub, v.Commit, ContentCommit},
		} {
			m, err := DecodeMLSMessage(c.pub)
			if err != nil {
				t.Fatalf("case %d %s: %v", i, c.name, err)
			}
			pm := m.PublicMessage
			if pm == nil || pm.Content.ContentType != c.ct || !bytes.Equal(pm.Content.GroupID, v.GroupID) || pm.Content.Epoch != v.Epoch {
				t.Fatalf("case %d %s: unexpected framing", i, c.name)
			}
			var body []byte
			if c.ct == ContentProposal {
				body = pm.Content.Proposal.Marshal()
			} else {
				body = pm.Content.Commit.Marshal()
			}
			if !bytes.Equal(body, c.content) {
				t.Fatalf("case %d %s: content differs", i, c.name)
			}
			ac := pm.AuthenticatedContent()
			if err := ac.VerifySignature(cs, v.SignaturePub, gc); err != nil {
				t.Fatalf("case %d %s: signature: %v", i, c.name, err)
			}
			bad := gc.clone()
			bad.Epoch++
			if err := ac.VerifySignature(cs, v.SignaturePub, bad); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("case %d %s: signature verified with wrong GroupContext", i, c.name)
			}
			// Test-only: the membership tag needs the membership key,
			// which a DS does not have; the vector provides it.
			var w writer
			w.raw(ac.TBS(gc))
			ac.Auth.encode(&w, ac.Content.ContentType)
			if tag := cs.MAC(v.MembershipKey, w.buf); !bytes.Equal(tag, pm.MembershipTag) {
				t.Fatalf("case %d %s: membership tag mismatch", i, c.name)
			}
			// Our own signature over the same content verifies too.
			k, err := cs.NewSigningKey(v.SignaturePriv)
			if err != nil {
				t.Fatal(err)
			}
			ac2 := *ac
			if err := ac2.Sign(k, gc); err != nil {
				t.Fatal(err)
			}
			if err := ac2.VerifySignature(cs, v.SignaturePub, gc); err != nil {
				t.Fatalf("case %d %s: own signature: %v", i, c.name, err)
			}
		}
		// PrivateMessages: a DS can only read and check the header.
		for _, c := range []struct {
			name string
			b    hexBytes
			ct   ContentType
		}{
			{"proposal_priv", v.ProposalPriv, ContentProposal},
			{"commit_priv", v.CommitPriv, ContentCommit},
			{"application_priv", v.ApplicationPriv, ContentApplication},
		} {
			m, err := DecodeMLSMessage(c.b)
			if err != nil {
				t.Fatalf("case %d %s: %v", i, c.name, err)
			}
			if m.WireFormat != WireFormatPrivateMessage || m.PrivateMessage.ContentType != c.ct ||
				!bytes.Equal(m.GroupID(), v.GroupID) || m.Epoch() != v.Epoch {
				t.Fatalf("case %d %s: header mismatch", i, c.name)
			}
			if !bytes.Equal(m.Marshal(), c.b) || !bytes.Equal(freshEncode(m), c.b) {
				t.Fatalf("case %d %s: re-encoding differs", i, c.name)
			}
		}
		if len(v.Application) == 0 && v.Application == nil {
			t.Fatalf("case %d: no application content", i)
		}
	}
	checkSuitesCovered(t, seen)
}
