package smpclient

//lint:file-ignore SA1019 SimpleX's box derives its key with bare HSalsa20, which only the salsa package exposes.

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/salsa20/salsa"
)

// sxBox (§5.3) is the one box construction of SMP:
//
//	sxBox(key32, nonce24, msg) = XSalsa20-Poly1305(HSalsa20(key32, 0^16), nonce24, msg)
//
// serialized as tag(16) || ciphertext. With an X25519 output as key32 it
// is exactly NaCl crypto_box; with a symmetric key the HSalsa20 step must
// be run explicitly (plain secretbox gives different bytes).
const (
	// BoxOverhead is what sxBox adds to a message (the Poly1305 tag).
	BoxOverhead = secretbox.Overhead

	// nmsgMetaPadSize is the padded size of the NMSG metadata plaintext.
	nmsgMetaPadSize = 128
)

// ErrDecrypt means a box did not open: wrong key, nonce or corrupted data.
var ErrDecrypt = errors.New("smp: decryption failed")

// sxKey derives the secretbox key from a 32-byte sxBox key.
func sxKey(key *[32]byte) [32]byte {
	var k [32]byte
	salsa.HSalsa20(&k, &[16]byte{}, key, &salsa.Sigma)
	return k
}

// SxBoxSeal appends sxBox(key, nonce, msg) to dst.
func SxBoxSeal(dst, msg []byte, nonce *[NonceSize]byte, key *[32]byte) []byte {
	k := sxKey(key)
	return secretbox.Seal(dst, msg, nonce, &k)
}

// SxBoxOpen opens sxBox(key, nonce, msg) and appends msg to dst.
func SxBoxOpen(dst, boxed []byte, nonce *[NonceSize]byte, key *[32]byte) ([]byte, error) {
	k := sxKey(key)
	out, ok := secretbox.Open(dst, boxed, nonce, &k)
	if !ok {
		return dst, ErrDecrypt
	}
	return out, nil
}

// DH returns the raw X25519 shared secret (no hashing, no all-zero check,
// as in the reference).
func DH(priv *PrivateKey, peer PublicKey) ([32]byte, error) {
	var out [32]byte
	if priv.alg != X25519 || peer.alg != X25519 {
		return out, fmt.Errorf("%w: DH needs X25519 keys", ErrBadKey)
	}
	k, err := ecdh.X25519().NewPrivateKey(priv.x25519[:])
	if err != nil {
		return out, err
	}
	p, err := ecdh.X25519().NewPublicKey(peer.raw)
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	s, err := k.ECDH(p)
	if err != nil {
		// Go rejects an all-zero output (low-order peer key); the
		// reference would use it, but such a key is never honest.
		return out, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	copy(out[:], s)
	return out, nil
}

// NMsgMeta is the decrypted NMSG metadata: which message arrived and when.
type NMsgMeta struct {
	MsgID     []byte
	Timestamp time.Time
	// Extension holds bytes after the timestamp (future fields).
	Extension []byte
}

// DecryptNMsgMeta opens the encMeta of an NMSG with the recipient's
// notification DH secret X25519(serverNtfKey, recipientNtfKey) (§4.3).
// Only the recipient side (the app) holds that secret; the notification
// service forwards encMeta without opening it. Plaintext layout:
//
//	pad(shortString(msgId) || Int64(seconds since epoch) || extension, 128)
func DecryptNMsgMeta(secret *[32]byte, nonce *[NonceSize]byte, encMeta []byte) (NMsgMeta, error) {
	var m NMsgMeta
	if len(encMeta) != nmsgMetaPadSize+BoxOverhead {
		return m, fmt.Errorf("%w: NMSG metadata is %d bytes, want %d", ErrMalformed, len(encMeta), nmsgMetaPadSize+BoxOverhead)
	}
	plain, err := SxBoxOpen(nil, encMeta, nonce, secret)
	if err != nil {
		return m, err
	}
	body, err := Unpad(plain)
	if err != nil {
		return m, err
	}
	r := reader{b: body}
	m.MsgID = r.short("NMSG msgId")
	ts := r.int64("NMSG timestamp")
	m.Extension = r.rest()
	if r.err != nil {
		return NMsgMeta{}, r.err
	}
	m.Timestamp = time.Unix(ts, 0).UTC()
	return m, nil
}

// EncryptNMsgMeta is the server side of DecryptNMsgMeta (for fakes and tests).
func EncryptNMsgMeta(secret *[32]byte, nonce *[NonceSize]byte, msgID []byte, ts time.Time) ([]byte, error) {
	if err := checkShort(msgID, "msgId"); err != nil {
		return nil, err
	}
	body := appendShort(nil, msgID)
	body = binary.BigEndian.AppendUint64(body, uint64(ts.Unix()))
	padded, err := Pad(body, nmsgMetaPadSize)
	if err != nil {
		return nil, err
	}
	return SxBoxSeal(nil, padded, nonce, secret), nil
}

// Block encryption chains (§2.6).
//
//	dh          = X25519(client private, server hello key)
//	ck1 || ck2  = HKDF-SHA512(salt = sessionId, ikm = dh, info = "SimpleXSbChainInit", L = 64)
//	client sends with ck2 and receives with ck1; the server mirrors that.
//	per block:  ck' || key || nonce = HKDF-SHA512(salt = "", ikm = ck, info = "SimpleXSbChain", L = 88)
//	wire block  = sxBox(key, nonce, pad(content, BlockSize - 16))
const (
	chainInitInfo = "SimpleXSbChainInit"
	chainInfo     = "SimpleXSbChain"
)

// ChainKeys derives the two initial chain keys from the handshake DH
// secret and the session id: ck1 (server→client) and ck2 (client→server).
func ChainKeys(dh *[32]byte, sessionID []byte) (ck1, ck2 [32]byte) {
	okm, err := hkdf.Key(sha512.New, dh[:], sessionID, chainInitInfo, 64)
	if err != nil {
		panic("smp: hkdf: " + err.Error()) // only for impossible lengths
	}
	copy(ck1[:], okm[:32])
	copy(ck2[:], okm[32:])
	return ck1, ck2
}

// blockChain is one direction of block encryption. Its owner is the
// reader (receive chain) or the holder of the write lock (send chain).
type blockChain struct {
	ck [32]byte
}

// next advances the chain one block and returns that block's key and nonce.
func (c *blockChain) next() (key [32]byte, nonce [NonceSize]byte) {
	out, err := hkdf.Key(sha512.New, c.ck[:], nil, chainInfo, 88)
	if err != nil {
		panic("smp: hkdf: " + err.Error())
	}
	copy(c.ck[:], out[:32])
	copy(key[:], out[32:64])
	copy(nonce[:], out[64:88])
	return key, nonce
}

// blockCodec turns content into wire blocks and back. A nil chain means
// plain padding.
type blockCodec struct {
	chain   *blockChain
	scratch [BlockSize - blockTagSize]byte
}

// seal writes the wire form of content into block.
func (bc *blockCodec) seal(block *[BlockSize]byte, content []byte) error {
	if bc.chain == nil {
		return padInto(block[:], content)
	}
	if err := padInto(bc.scratch[:], content); err != nil {
		return err
	}
	key, nonce := bc.chain.next()
	SxBoxSeal(block[:0], bc.scratch[:], &nonce, &key)
	return nil
}

// open returns the content of a wire block. The result aliases block or
// the codec's scratch buffer and is valid until the next call.
func (bc *blockCodec) open(block *[BlockSize]byte) ([]byte, error) {
	if bc.chain == nil {
		return Unpad(block[:])
	}
	key, nonce := bc.chain.next() // advances even if the block fails to open
	plain, err := SxBoxOpen(bc.scratch[:0], block[:], &nonce, &key)
	if err != nil {
		return nil, fmt.Errorf("%w: encrypted block did not open", ErrMalformed)
	}
	return Unpad(plain)
}

// newBlockCodecs returns the (send, receive) codecs for one side of a
// connection with block encryption; client selects the direction.
func newBlockCodecs(dh *[32]byte, sessionID []byte, client bool) (send, recv *blockCodec) {
	ck1, ck2 := ChainKeys(dh, sessionID)
	if client {
		return &blockCodec{chain: &blockChain{ck: ck2}}, &blockCodec{chain: &blockChain{ck: ck1}}
	}
	return &blockCodec{chain: &blockChain{ck: ck1}}, &blockCodec{chain: &blockChain{ck: ck2}}
}

// BlockCodec is the exported form of a block codec for servers and tests
// that speak the wire format (see smptest). It is not safe for concurrent
// use; each direction of a connection has its own.
type BlockCodec struct{ c blockCodec }

// NewPlainBlockCodec returns a codec for unencrypted blocks.
func NewPlainBlockCodec() *BlockCodec { return &BlockCodec{} }

// NewBlockCodecs returns the send and receive codecs for block encryption.
// client is true for the client side of the connection.
func NewBlockCodecs(dh *[32]byte, sessionID []byte, client bool) (send, recv *BlockCodec) {
	s, r := newBlockCodecs(dh, sessionID, client)
	return &BlockCodec{c: *s}, &BlockCodec{c: *r}
}

// Seal writes the wire block for content.
func (b *BlockCodec) Seal(block *[BlockSize]byte, content []byte) error {
	return b.c.seal(block, content)
}

// Open returns the content of a wire block, valid until the next call.
func (b *BlockCodec) Open(block *[BlockSize]byte) ([]byte, error) { return b.c.open(block) }
