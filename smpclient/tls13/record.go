package tls13

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"io"
)

// Record layer (RFC 8446 §5).
const (
	recordHeaderLen = 5
	// maxPlaintext is the largest record content (2^14).
	maxPlaintext = 1 << 14
	// maxCiphertext is the largest protected record fragment (2^14+256).
	maxCiphertext = maxPlaintext + 256
	nonceSize     = 12

	recordChangeCipherSpec uint8 = 20
	recordAlert            uint8 = 21
	recordHandshake        uint8 = 22
	recordApplicationData  uint8 = 23
)

// halfConn is the protection state of one direction.
type halfConn struct {
	aead   cipher.AEAD // nil while records are plaintext
	iv     [nonceSize]byte
	seq    uint64
	secret []byte // traffic secret, for KeyUpdate
	nonce  [nonceSize]byte
}

// setKey installs the keys of a traffic secret and resets the sequence.
func (h *halfConn) setKey(s *suite, secret []byte) error {
	key, iv := s.schedule().trafficKey(secret, s.keyLen)
	aead, err := s.aead(key)
	if err != nil {
		return fail(alertInternalError, "record key: %v", err)
	}
	h.setAEAD(aead, iv)
	h.secret = secret
	return nil
}

// setAEAD installs an AEAD and its IV directly.
func (h *halfConn) setAEAD(aead cipher.AEAD, iv []byte) {
	h.aead = aead
	copy(h.iv[:], iv)
	h.seq = 0
}

// nextNonce returns the per-record nonce (IV XOR padded sequence
// number) and advances the sequence.
func (h *halfConn) nextNonce() ([]byte, error) {
	if h.seq == ^uint64(0) {
		return nil, fail(alertInternalError, "record sequence number exhausted")
	}
	h.nonce = h.iv
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], h.seq)
	for i, b := range seq {
		h.nonce[nonceSize-8+i] ^= b
	}
	h.seq++
	return h.nonce[:], nil
}

// seal appends one protected record carrying content of type typ to
// dst. len(content) must be at most maxPlaintext.
func (h *halfConn) seal(dst []byte, typ uint8, content []byte) ([]byte, error) {
	n := len(content) + 1 + h.aead.Overhead()
	start := len(dst)
	need := start + recordHeaderLen + n
	if cap(dst) < need {
		grown := make([]byte, start, need)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, recordApplicationData, 0x03, 0x03, byte(n>>8), byte(n))
	dst = append(dst, content...)
	dst = append(dst, typ)
	nonce, err := h.nextNonce()
	if err != nil {
		return nil, err
	}
	header := dst[start : start+recordHeaderLen]
	inner := dst[start+recordHeaderLen:]
	h.aead.Seal(inner[:0], nonce, inner, header)
	return dst[:need], nil
}

// open decrypts a protected record in place and returns its real content
// type and content. record is header and fragment.
func (h *halfConn) open(record []byte) (uint8, []byte, error) {
	header, frag := record[:recordHeaderLen], record[recordHeaderLen:]
	if record[0] != recordApplicationData {
		return 0, nil, fail(alertUnexpectedMessage, "plaintext record of type %d after keys were set", record[0])
	}
	if len(frag) < h.aead.Overhead()+1 {
		return 0, nil, failWith(alertBadRecordMAC, ErrBadRecordMAC, "record of %d bytes is shorter than its tag", len(frag))
	}
	nonce, err := h.nextNonce()
	if err != nil {
		return 0, nil, err
	}
	plain, err := h.aead.Open(frag[:0], nonce, frag, header)
	if err != nil {
		return 0, nil, failWith(alertBadRecordMAC, ErrBadRecordMAC, "record %d", h.seq-1)
	}
	if len(plain) > maxPlaintext+1 {
		return 0, nil, failWith(alertRecordOverflow, ErrRecordOverflow, "%d bytes of plaintext", len(plain))
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, fail(alertUnexpectedMessage, "record without content type")
	}
	return plain[i], plain[:i], nil
}

// recordReader reads whole records into one buffer sized for the largest
// allowed record, so no length from the network decides an allocation.
type recordReader struct {
	r   io.Reader
	buf [recordHeaderLen + maxCiphertext]byte
}

// next reads one record (header and fragment). limit is the largest
// fragment allowed in the current state. A clean end of stream between
// records is io.EOF; one inside a record is ErrTruncated.
func (rr *recordReader) next(limit int) ([]byte, error) {
	if _, err := io.ReadFull(rr.r, rr.buf[:recordHeaderLen]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	hdr := rr.buf[:recordHeaderLen]
	n := int(binary.BigEndian.Uint16(hdr[3:]))
	if n > limit {
		return nil, failWith(alertRecordOverflow, ErrRecordOverflow, "record of type %d has %d bytes, limit %d", hdr[0], n, limit)
	}
	if hdr[1] != 0x03 {
		return nil, fail(alertProtocolVersion, "record version %#02x%02x", hdr[1], hdr[2])
	}
	if _, err := io.ReadFull(rr.r, rr.buf[recordHeaderLen:recordHeaderLen+n]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	return rr.buf[:recordHeaderLen+n], nil
}
