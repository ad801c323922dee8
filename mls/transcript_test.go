package mls

import (
	"bytes"
	"testing"
)

func TestTranscriptHashesVectors(t *testing.T) {
	var vs []struct {
		CipherSuite                  uint16   `json:"cipher_suite"`
		ConfirmationKey              hexBytes `json:"confirmation_key"`
		AuthenticatedContent         hexBytes `json:"authenticated_content"`
		InterimTranscriptHashBefore  hexBytes `json:"interim_transcript_hash_before"`
		ConfirmedTranscriptHashAfter hexBytes `json:"confirmed_transcript_hash_after"`
		InterimTranscriptHashAfter   hexBytes `json:"interim_transcript_hash_after"`
	}
	loadTestVector(t, "transcript-hashes.json", &vs)
	seen := map[CipherSuite]bool{}
	for i, v := range vs {
		cs := mustSuite(t, v.CipherSuite)
		seen[cs] = true
		ac, err := DecodeAuthenticatedContent(v.AuthenticatedContent)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if ac.Content.ContentType != ContentCommit {
			t.Fatalf("case %d: not a commit", i)
		}
		if !bytes.Equal(freshEncode(ac), v.AuthenticatedContent) {
			t.Fatalf("case %d: re-encoding differs", i)
		}
		confirmed := ConfirmedTranscriptHash(cs, v.InterimTranscriptHashBefore, ac)
		if !bytes.Equal(confirmed, v.ConfirmedTranscriptHashAfter) {
			t.Fatalf("case %d: confirmed %x, want %x", i, confirmed, v.ConfirmedTranscriptHashAfter)
		}
		interim := InterimTranscriptHash(cs, confirmed, ac.Auth.ConfirmationTag)
		if !bytes.Equal(interim, v.InterimTranscriptHashAfter) {
			t.Fatalf("case %d: interim %x, want %x", i, interim, v.InterimTranscriptHashAfter)
		}
		// Test-only: a DS has no confirmation key, but the vector lets us
		// check the confirmation tag MAC too.
		if tag := cs.MAC(v.ConfirmationKey, confirmed); !bytes.Equal(tag, ac.Auth.ConfirmationTag) {
			t.Fatalf("case %d: confirmation tag mismatch", i)
		}
	}
	checkSuitesCovered(t, seen)
}
