package mls

import (
	"bytes"
	"testing"
)

// freshEncode encodes v from its fields, ignoring remembered bytes.
func freshEncode(v encoder) []byte {
	w := writer{fresh: true}
	v.encode(&w)
	return w.buf
}

func TestMessagesVectors(t *testing.T) {
	var vs []map[string]hexBytes
	loadTestVector(t, "messages.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	wantWF := map[string]WireFormat{
		"mls_welcome":                WireFormatWelcome,
		"mls_group_info":             WireFormatGroupInfo,
		"mls_key_package":            WireFormatKeyPackage,
		"public_message_application": WireFormatPublicMessage,
		"public_message_proposal":    WireFormatPublicMessage,
		"public_message_commit":      WireFormatPublicMessage,
		"private_message":            WireFormatPrivateMessage,
	}
	wantCT := map[string]ContentType{
		"public_message_application": ContentApplication,
		"public_message_proposal":    ContentProposal,
		"public_message_commit":      ContentCommit,
	}
	bodies := map[string]ProposalType{
		"add_proposal":                      ProposalAdd,
		"update_proposal":                   ProposalUpdate,
		"remove_proposal":                   ProposalRemove,
		"pre_shared_key_proposal":           ProposalPSK,
		"re_init_proposal":                  ProposalReInit,
		"external_init_proposal":            ProposalExternalInit,
		"group_context_extensions_proposal": ProposalGroupContextExtensions,
	}
	for i, v := range vs {
		for field, b := range v {
			var enc encoder
			var err error
			switch {
			case wantWF[field] != 0:
				var m *MLSMessage
				m, err = DecodeMLSMessage(b)
				if err == nil {
					if m.WireFormat != wantWF[field] {
						t.Fatalf("case %d %s: wire format %d", i, field, m.WireFormat)
					}
					if ct, ok := wantCT[field]; ok && m.PublicMessage.Content.ContentType != ct {
						t.Fatalf("case %d %s: content type %d", i, field, m.PublicMessage.Content.ContentType)
					}
					if !bytes.Equal(m.Marshal(), b) {
						t.Fatalf("case %d %s: Marshal differs from received bytes", i, field)
					}
				}
				enc = m
			case field == "ratchet_tree":
				var tr *RatchetTree
				// Suite only matters for hashing; the syntax is suite-independent.
				tr, err = DecodeRatchetTree(1, b)
				if err == nil && !bytes.Equal(tr.Marshal(), b) {
					t.Fatalf("case %d: ratchet tree re-encoding differs", i)
				}
				if err == nil {
					w := writer{fresh: true}
					tr.encode(&w)
					if !bytes.Equal(w.buf, b) {
						t.Fatalf("case %d: ratchet tree fresh re-encoding differs", i)
					}
				}
				continue
			case field == "group_secrets":
				enc, err = DecodeGroupSecrets(b)
			case field == "commit":
				enc, err = DecodeCommit(b)
			case bodies[field] != 0:
				var p *Proposal
				p, err = DecodeProposalBody(bodies[field], b)
				if err == nil && !bytes.Equal(p.MarshalBody(), b) {
					t.Fatalf("case %d %s: body re-encoding differs", i, field)
				}
				if err == nil {
					w := writer{fresh: true}
					p.encodeBody(&w)
					if !bytes.Equal(w.buf, b) {
						t.Fatalf("case %d %s: fresh body re-encoding differs", i, field)
					}
				}
				continue
			default:
				t.Fatalf("unknown field %q in messages.json", field)
			}
			if err != nil {
				t.Fatalf("case %d %s: decode: %v", i, field, err)
			}
			if got := freshEncode(enc); !bytes.Equal(got, b) {
				t.Fatalf("case %d %s: fresh re-encoding differs\n got %x\nwant %x", i, field, got, b)
			}
		}
	}
}
