package smpclient

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
	"golang.org/x/crypto/nacl/box"
)

// Key encodings (§5.1, RFC 8410). Public keys travel as DER
// SubjectPublicKeyInfo, private keys as DER PKCS#8 v0 without the public
// key attribute. Only these exact forms are accepted:
//
//	Ed25519 SPKI   30 2a 30 05 06 03 2b 65 70 03 21 00 || 32 bytes   (44)
//	X25519  SPKI   30 2a 30 05 06 03 2b 65 6e 03 21 00 || 32 bytes   (44)
//	Ed448   SPKI   30 43 30 05 06 03 2b 65 71 03 3a 00 || 57 bytes   (69)
//	Ed25519 PKCS#8 30 2e 02 01 00 30 05 06 03 2b 65 70 04 22 04 20 || 32-byte seed (48)
//	X25519  PKCS#8 30 2e 02 01 00 30 05 06 03 2b 65 6e 04 22 04 20 || 32 bytes     (48)
//	Ed448   PKCS#8 30 47 02 01 00 30 05 06 03 2b 65 71 04 3b 04 39 || 57-byte seed (73)
var (
	spkiPrefixEd25519  = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}
	spkiPrefixX25519   = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00}
	spkiPrefixEd448    = []byte{0x30, 0x43, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x03, 0x3a, 0x00}
	pkcs8PrefixEd25519 = []byte{0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20}
	pkcs8PrefixX25519  = []byte{0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20}
	pkcs8PrefixEd448   = []byte{0x30, 0x47, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x04, 0x3b, 0x04, 0x39}
)

// Algorithm is a key algorithm a notifier key may use.
type Algorithm uint8

// Key algorithms. Values are stable.
const (
	Ed25519 Algorithm = iota + 1 // current apps (simplexmq >= 5.6)
	Ed448                        // legacy app keys (before Feb 2024)
	X25519                       // deniable authenticator; allowed, unused by apps
)

func (a Algorithm) String() string {
	switch a {
	case Ed25519:
		return "Ed25519"
	case Ed448:
		return "Ed448"
	case X25519:
		return "X25519"
	}
	return fmt.Sprintf("Algorithm(%d)", a)
}

// ErrBadKey is wrapped by key parsing failures.
var ErrBadKey = errors.New("smp: bad key")

// PrivateKey is a notifier private key. The zero value is invalid. It is
// immutable and safe for concurrent use.
type PrivateKey struct {
	alg     Algorithm
	ed25519 ed25519.PrivateKey
	ed448   ed448.PrivateKey
	x25519  [32]byte
}

// PublicKey is a public key: a notifier key or a server X25519 key.
type PublicKey struct {
	alg Algorithm
	raw []byte // 32 or 57 bytes
}

// ParsePrivateKey decodes a PKCS#8 private key (the form the NTF SNEW
// command carries).
func ParsePrivateKey(der []byte) (*PrivateKey, error) {
	switch {
	case len(der) == 48 && bytes.HasPrefix(der, pkcs8PrefixEd25519):
		return NewEd25519Key(der[16:]), nil
	case len(der) == 48 && bytes.HasPrefix(der, pkcs8PrefixX25519):
		return NewX25519Key(der[16:]), nil
	case len(der) == 73 && bytes.HasPrefix(der, pkcs8PrefixEd448):
		return NewEd448Key(der[16:]), nil
	}
	return nil, fmt.Errorf("%w: not an Ed25519, Ed448 or X25519 PKCS#8 key (%d bytes)", ErrBadKey, len(der))
}

// NewEd25519Key returns the Ed25519 key for a 32-byte seed.
func NewEd25519Key(seed []byte) *PrivateKey {
	return &PrivateKey{alg: Ed25519, ed25519: ed25519.NewKeyFromSeed(seed)}
}

// NewEd448Key returns the Ed448 key for a 57-byte seed.
func NewEd448Key(seed []byte) *PrivateKey {
	return &PrivateKey{alg: Ed448, ed448: ed448.NewKeyFromSeed(seed)}
}

// NewX25519Key returns the X25519 key with the given 32 private bytes.
func NewX25519Key(priv []byte) *PrivateKey {
	k := &PrivateKey{alg: X25519}
	copy(k.x25519[:], priv)
	return k
}

// GenerateKey returns a new random key of algorithm alg.
func GenerateKey(alg Algorithm) (*PrivateKey, error) {
	switch alg {
	case Ed25519:
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		return NewEd25519Key(seed), nil
	case Ed448:
		seed := make([]byte, ed448.SeedSize)
		rand.Read(seed)
		return NewEd448Key(seed), nil
	case X25519:
		var b [32]byte
		rand.Read(b[:])
		return NewX25519Key(b[:]), nil
	}
	return nil, fmt.Errorf("%w: unknown algorithm %v", ErrBadKey, alg)
}

// Algorithm returns the key's algorithm.
func (k *PrivateKey) Algorithm() Algorithm { return k.alg }

// MarshalPKCS8 returns the PKCS#8 DER form.
func (k *PrivateKey) MarshalPKCS8() []byte {
	switch k.alg {
	case Ed25519:
		return append(bytes.Clone(pkcs8PrefixEd25519), k.ed25519.Seed()...)
	case Ed448:
		return append(bytes.Clone(pkcs8PrefixEd448), k.ed448.Seed()...)
	default:
		return append(bytes.Clone(pkcs8PrefixX25519), k.x25519[:]...)
	}
}

// Key pairs at rest (RFC 5958 OneAsymmetricKey v2 with the public key,
// RFC 8410 section 7): the PKCS#8 prefix with version 1, then the
// publicKey [1] BIT STRING.
//
//	Ed25519 30 51 02 01 01 30 05 06 03 2b 65 70 04 22 04 20 || seed || 81 21 00 || public   (83)
//	Ed448   30 81 83 02 01 01 30 05 06 03 2b 65 71 04 3b 04 39 || seed || 81 3a 00 || public   (134)
var (
	pairPrefixEd25519 = []byte{0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20}
	pairPrefixEd448   = []byte{0x30, 0x81, 0x83, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x04, 0x3b, 0x04, 0x39}
	pairPublicEd25519 = []byte{0x81, 0x21, 0x00}
	pairPublicEd448   = []byte{0x81, 0x3a, 0x00}
)

// MarshalKeyPair returns the key with its public half, so ParseKeyPair
// restores it without the scalar multiplication that derives the public
// key from the seed (which dominates loading many stored keys). X25519
// keys, whose public half signing never needs, keep the plain PKCS#8 form.
func (k *PrivateKey) MarshalKeyPair() []byte {
	switch k.alg {
	case Ed25519:
		out := append(bytes.Clone(pairPrefixEd25519), k.ed25519.Seed()...)
		return append(append(out, pairPublicEd25519...), k.ed25519[ed25519.SeedSize:]...)
	case Ed448:
		out := append(bytes.Clone(pairPrefixEd448), k.ed448.Seed()...)
		return append(append(out, pairPublicEd448...), k.ed448[ed448.SeedSize:]...)
	}
	return k.MarshalPKCS8()
}

// ParseKeyPair decodes a key made by MarshalKeyPair, or a plain PKCS#8
// key. The public half is taken as it is, not checked against the seed:
// it is for keys this program stored under authenticated encryption,
// never for keys from the network (ParsePrivateKey).
func ParseKeyPair(der []byte) (*PrivateKey, error) {
	switch {
	case len(der) == 83 && bytes.HasPrefix(der, pairPrefixEd25519) && bytes.Equal(der[48:51], pairPublicEd25519):
		priv := make(ed25519.PrivateKey, 0, ed25519.PrivateKeySize)
		return &PrivateKey{alg: Ed25519, ed25519: append(append(priv, der[16:48]...), der[51:]...)}, nil
	case len(der) == 134 && bytes.HasPrefix(der, pairPrefixEd448) && bytes.Equal(der[74:77], pairPublicEd448):
		priv := make(ed448.PrivateKey, 0, ed448.PrivateKeySize)
		return &PrivateKey{alg: Ed448, ed448: append(append(priv, der[17:74]...), der[77:]...)}, nil
	}
	return ParsePrivateKey(der)
}

// Public returns the public half.
func (k *PrivateKey) Public() PublicKey {
	switch k.alg {
	case Ed25519:
		return PublicKey{alg: Ed25519, raw: bytes.Clone(k.ed25519[32:])}
	case Ed448:
		return PublicKey{alg: Ed448, raw: bytes.Clone(k.ed448[ed448.SeedSize:])}
	default:
		priv, _ := ecdh.X25519().NewPrivateKey(k.x25519[:])
		return PublicKey{alg: X25519, raw: priv.PublicKey().Bytes()}
	}
}

// authSize is the length of the authorization this key produces.
func (k *PrivateKey) authSize() int {
	switch k.alg {
	case Ed25519:
		return authSizeEd25519
	case Ed448:
		return authSizeEd448
	default:
		return authSizeX25519
	}
}

// errNoServerKey: an X25519 authenticator needs the server hello's key.
var errNoServerKey = errors.New("smp: X25519 authenticator needs the server's session key")

// appendAuth appends the authorization of authorized (§3.3): a pure EdDSA
// signature, or for X25519 the authenticator
// crypto_box(SHA-512(authorized), nonce = corrID, serverKey, key).
func (k *PrivateKey) appendAuth(dst, authorized, corrID []byte, serverKey *[32]byte) ([]byte, error) {
	switch k.alg {
	case Ed25519:
		return append(dst, ed25519.Sign(k.ed25519, authorized)...), nil
	case Ed448:
		return append(dst, ed448.Sign(k.ed448, authorized, "")...), nil
	case X25519:
		if serverKey == nil {
			return dst, errNoServerKey
		}
		if len(corrID) != NonceSize {
			return dst, fmt.Errorf("%w: authenticator nonce (corrId) is %d bytes", ErrMalformed, len(corrID))
		}
		digest := sha512.Sum512(authorized)
		var nonce [NonceSize]byte
		copy(nonce[:], corrID)
		return box.Seal(dst, digest[:], &nonce, serverKey, &k.x25519), nil
	}
	return dst, fmt.Errorf("%w: invalid key", ErrBadKey)
}

// ParsePublicKey decodes a DER SubjectPublicKeyInfo (Ed25519, Ed448 or X25519).
func ParsePublicKey(spki []byte) (PublicKey, error) {
	switch {
	case len(spki) == 44 && bytes.HasPrefix(spki, spkiPrefixEd25519):
		return PublicKey{alg: Ed25519, raw: bytes.Clone(spki[12:])}, nil
	case len(spki) == 44 && bytes.HasPrefix(spki, spkiPrefixX25519):
		return PublicKey{alg: X25519, raw: bytes.Clone(spki[12:])}, nil
	case len(spki) == 69 && bytes.HasPrefix(spki, spkiPrefixEd448):
		return PublicKey{alg: Ed448, raw: bytes.Clone(spki[12:])}, nil
	}
	return PublicKey{}, fmt.Errorf("%w: not an Ed25519, Ed448 or X25519 public key (%d bytes)", ErrBadKey, len(spki))
}

// Algorithm returns the key's algorithm (0 for the zero PublicKey).
func (p PublicKey) Algorithm() Algorithm { return p.alg }

// Bytes returns the raw public key (32 or 57 bytes).
func (p PublicKey) Bytes() []byte { return bytes.Clone(p.raw) }

// MarshalSPKI returns the DER SubjectPublicKeyInfo.
func (p PublicKey) MarshalSPKI() []byte {
	var prefix []byte
	switch p.alg {
	case Ed25519:
		prefix = spkiPrefixEd25519
	case Ed448:
		prefix = spkiPrefixEd448
	case X25519:
		prefix = spkiPrefixX25519
	default:
		return nil
	}
	return append(bytes.Clone(prefix), p.raw...)
}

// Verify checks a signature by an Ed25519 or Ed448 key. It returns false
// for X25519 keys (see VerifyAuthenticator).
func (p PublicKey) Verify(msg, sig []byte) bool {
	switch p.alg {
	case Ed25519:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(p.raw, msg, sig)
	case Ed448:
		return len(sig) == ed448.SignatureSize && ed448.Verify(p.raw, msg, sig, "")
	}
	return false
}

// VerifyAuthorization checks the authorization of a transmission the way a
// server does: a signature for Ed25519/Ed448 keys, or for X25519 keys an
// authenticator opened with the server's session private key.
func (p PublicKey) VerifyAuthorization(authorized, auth, corrID []byte, serverPriv *[32]byte) bool {
	if p.alg != X25519 {
		return p.Verify(authorized, auth)
	}
	if serverPriv == nil || len(auth) != authSizeX25519 || len(corrID) != NonceSize {
		return false
	}
	var nonce [NonceSize]byte
	var peer [32]byte
	copy(nonce[:], corrID)
	copy(peer[:], p.raw)
	digest, ok := box.Open(nil, auth, &nonce, &peer, serverPriv)
	want := sha512.Sum512(authorized)
	return ok && bytes.Equal(digest, want[:])
}
