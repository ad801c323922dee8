package mls

// Transcript hashes (RFC 9420 section 8.2).

// ConfirmedTranscriptHash returns Hash(interim || ConfirmedTranscriptHashInput)
// where the input is (wire_format, content, signature) of a commit.
func ConfirmedTranscriptHash(cs CipherSuite, interim []byte, ac *AuthenticatedContent) []byte {
	h := cs.NewHash()
	h.Write(interim)
	var w writer
	w.u16(uint16(ac.WireFormat))
	ac.Content.encode(&w)
	w.opaque(ac.Auth.Signature)
	h.Write(w.buf)
	return h.Sum(nil)
}

// InterimTranscriptHash returns Hash(confirmed || InterimTranscriptHashInput)
// where the input is the confirmation tag as opaque<V>.
func InterimTranscriptHash(cs CipherSuite, confirmed, confirmationTag []byte) []byte {
	h := cs.NewHash()
	h.Write(confirmed)
	var w writer
	w.opaque(confirmationTag)
	h.Write(w.buf)
	return h.Sum(nil)
}
