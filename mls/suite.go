package mls

// Cipher suites 1-7 of RFC 9420 section 17.1 and the labelled crypto helpers
// of section 5: RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret,
// SignWithLabel/VerifyWithLabel, EncryptWithLabel.

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	_ "crypto/sha256" // registers crypto.SHA256
	_ "crypto/sha512" // registers crypto.SHA384, crypto.SHA512
	"hash"
	"math/big"

	circlhpke "github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/sign/ed448"
)

// CipherSuite is an MLS cipher suite identifier.
type CipherSuite uint16

// The cipher suites of RFC 9420 section 17.1.
const (
	MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519        CipherSuite = 1
	MLS_128_DHKEMP256_AES128GCM_SHA256_P256             CipherSuite = 2
	MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519 CipherSuite = 3
	MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448            CipherSuite = 4
	MLS_256_DHKEMP521_AES256GCM_SHA512_P521             CipherSuite = 5
	MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448     CipherSuite = 6
	MLS_256_DHKEMP384_AES256GCM_SHA384_P384             CipherSuite = 7
)

type sigScheme uint8

const (
	sigEd25519 sigScheme = iota + 1
	sigEd448
	sigP256
	sigP384
	sigP521
)

// HPKE identifiers (RFC 9180).
const (
	kemP256   = 0x0010
	kemP384   = 0x0011
	kemP521   = 0x0012
	kemX25519 = 0x0020
	kemX448   = 0x0021

	kdfSHA256 = 0x0001
	kdfSHA384 = 0x0002
	kdfSHA512 = 0x0003

	aeadAES128GCM = 0x0001
	aeadAES256GCM = 0x0002
	aeadChaCha20  = 0x0003
)

type suiteParams struct {
	hash   crypto.Hash // the suite's hash, also used by ECDSA
	sig    sigScheme
	kem    uint16
	kdf    uint16
	aead   uint16
	nk, nn int
}

var suites = map[CipherSuite]*suiteParams{
	1: {crypto.SHA256, sigEd25519, kemX25519, kdfSHA256, aeadAES128GCM, 16, 12},
	2: {crypto.SHA256, sigP256, kemP256, kdfSHA256, aeadAES128GCM, 16, 12},
	3: {crypto.SHA256, sigEd25519, kemX25519, kdfSHA256, aeadChaCha20, 32, 12},
	4: {crypto.SHA512, sigEd448, kemX448, kdfSHA512, aeadAES256GCM, 32, 12},
	5: {crypto.SHA512, sigP521, kemP521, kdfSHA512, aeadAES256GCM, 32, 12},
	6: {crypto.SHA512, sigEd448, kemX448, kdfSHA512, aeadChaCha20, 32, 12},
	7: {crypto.SHA384, sigP384, kemP384, kdfSHA384, aeadAES256GCM, 32, 12},
}

// Supported reports whether the suite is one of 1-7.
func (cs CipherSuite) Supported() bool { return suites[cs] != nil }

func (cs CipherSuite) params() (*suiteParams, error) {
	p := suites[cs]
	if p == nil {
		return nil, errorf(ErrUnsupported, "cipher suite", "%d", uint16(cs))
	}
	return p, nil
}

// mustParams is for internal callers that have already checked the suite.
func (cs CipherSuite) mustParams() *suiteParams {
	p := suites[cs]
	if p == nil {
		panic("mls: unsupported cipher suite used internally")
	}
	return p
}

// NewHash returns a new hash of the suite.
func (cs CipherSuite) NewHash() hash.Hash { return cs.mustParams().hash.New() }

// HashSize is KDF.Nh, the output size of the suite's hash.
func (cs CipherSuite) HashSize() int { return cs.mustParams().hash.Size() }

// AEADKeySize and AEADNonceSize are AEAD.Nk and AEAD.Nn.
func (cs CipherSuite) AEADKeySize() int   { return cs.mustParams().nk }
func (cs CipherSuite) AEADNonceSize() int { return cs.mustParams().nn }

// Hash returns Hash(data).
func (cs CipherSuite) Hash(data []byte) []byte {
	h := cs.NewHash()
	h.Write(data)
	return h.Sum(nil)
}

// MAC is HMAC with the suite's hash (used for confirmation and membership
// tags; a DS has no key for them, it is here for completeness and tests).
func (cs CipherSuite) MAC(key, data []byte) []byte {
	m := hmac.New(cs.mustParams().hash.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// Extract is KDF.Extract(salt, ikm).
func (cs CipherSuite) Extract(salt, ikm []byte) []byte {
	prk, err := hkdf.Extract(cs.mustParams().hash.New, ikm, salt)
	if err != nil {
		panic(err) // cannot fail for HMAC-based hashes
	}
	return prk
}

// Expand is KDF.Expand(prk, info, length).
func (cs CipherSuite) Expand(prk, info []byte, length int) ([]byte, error) {
	out, err := hkdf.Expand(cs.mustParams().hash.New, prk, string(info), length)
	if err != nil {
		return nil, &Error{Kind: ErrUnsupported, Op: "KDF.Expand", Err: err}
	}
	return out, nil
}

const labelPrefix = "MLS 1.0 "

func mlsLabel(label string) []byte { return []byte(labelPrefix + label) }

// ExpandWithLabel(Secret, Label, Context, Length) of RFC 9420 section 8.
func (cs CipherSuite) ExpandWithLabel(secret []byte, label string, context []byte, length int) ([]byte, error) {
	var w writer
	w.u16(uint16(length))
	w.opaque(mlsLabel(label))
	w.opaque(context)
	return cs.Expand(secret, w.buf, length)
}

// DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh).
func (cs CipherSuite) DeriveSecret(secret []byte, label string) ([]byte, error) {
	return cs.ExpandWithLabel(secret, label, nil, cs.HashSize())
}

// DeriveTreeSecret(Secret, Label, Generation, Length) of RFC 9420 section 9.
func (cs CipherSuite) DeriveTreeSecret(secret []byte, label string, generation uint32, length int) ([]byte, error) {
	var w writer
	w.u32(generation)
	return cs.ExpandWithLabel(secret, label, w.buf, length)
}

// RefHash(label, value) = Hash(RefHashInput) of RFC 9420 section 5.2.
func (cs CipherSuite) RefHash(label string, value []byte) []byte {
	var w writer
	w.opaque([]byte(label))
	w.opaque(value)
	return cs.Hash(w.buf)
}

// Reference labels.
const (
	labelKeyPackageRef = "MLS 1.0 KeyPackage Reference"
	labelProposalRef   = "MLS 1.0 Proposal Reference"
)

func signContent(label string, content []byte) []byte {
	var w writer
	w.buf = make([]byte, 0, len(labelPrefix)+len(label)+len(content)+8)
	w.opaque(mlsLabel(label))
	w.opaque(content)
	return w.buf
}

// VerifyWithLabel checks signature over SignContent{"MLS 1.0 "+label,
// content} with the raw signature public key pub (Ed25519/Ed448 raw keys,
// uncompressed SEC1 points for ECDSA; ECDSA signatures are DER).
func (cs CipherSuite) VerifyWithLabel(pub []byte, label string, content, signature []byte) error {
	p, err := cs.params()
	if err != nil {
		return err
	}
	msg := signContent(label, content)
	ok := false
	switch p.sig {
	case sigEd25519:
		ok = len(pub) == ed25519.PublicKeySize && ed25519.Verify(ed25519.PublicKey(pub), msg, signature)
	case sigEd448:
		ok = len(pub) == ed448.PublicKeySize && ed448.Verify(ed448.PublicKey(pub), msg, signature, "")
	default:
		pk, perr := ecdsa.ParseUncompressedPublicKey(p.curve(), pub)
		if perr != nil {
			return &Error{Kind: ErrInvalidSignature, Op: label, Msg: "bad signature public key", Err: perr}
		}
		h := p.hash.New()
		h.Write(msg)
		ok = ecdsa.VerifyASN1(pk, h.Sum(nil), signature)
	}
	if !ok {
		return errorf(ErrInvalidSignature, label, "signature does not verify")
	}
	return nil
}

func (p *suiteParams) curve() elliptic.Curve {
	switch p.sig {
	case sigP256:
		return elliptic.P256()
	case sigP384:
		return elliptic.P384()
	case sigP521:
		return elliptic.P521()
	}
	return nil
}

// SigningKey is a signature private key of a cipher suite: a DS signs
// with one only as an external sender (proposals it issues itself); tests,
// benchmarks and tools build messages with them.
type SigningKey struct {
	suite CipherSuite
	ed    ed25519.PrivateKey
	ed448 ed448.PrivateKey
	ec    *ecdsa.PrivateKey
	pub   []byte
}

// NewSigningKey imports a raw signature private key (the Ed25519/Ed448 seed,
// or the big-endian ECDSA scalar), as used in the test vectors.
func (cs CipherSuite) NewSigningKey(priv []byte) (*SigningKey, error) {
	p, err := cs.params()
	if err != nil {
		return nil, err
	}
	k := &SigningKey{suite: cs}
	switch p.sig {
	case sigEd25519:
		if len(priv) != ed25519.SeedSize {
			return nil, errorf(ErrMalformed, "signature private key", "bad Ed25519 seed length %d", len(priv))
		}
		k.ed = ed25519.NewKeyFromSeed(priv)
		k.pub = []byte(k.ed.Public().(ed25519.PublicKey))
	case sigEd448:
		if len(priv) != ed448.SeedSize {
			return nil, errorf(ErrMalformed, "signature private key", "bad Ed448 seed length %d", len(priv))
		}
		k.ed448 = ed448.NewKeyFromSeed(priv)
		k.pub = []byte(k.ed448.Public().(ed448.PublicKey))
	default:
		// Accept scalars whose leading zero bytes were stripped.
		if n := (p.curve().Params().BitSize + 7) / 8; len(priv) < n {
			priv = append(make([]byte, n-len(priv)), priv...)
		}
		ec, err := ecdsa.ParseRawPrivateKey(p.curve(), priv)
		if err != nil {
			return nil, &Error{Kind: ErrMalformed, Op: "signature private key", Err: err}
		}
		k.ec = ec
		k.pub, _ = ec.PublicKey.Bytes()
	}
	return k, nil
}

// DeriveSigningKey derives a signature key of the suite from secret (at
// least 32 random bytes): the same secret gives the same key, so servers
// sharing a secret sign alike. The raw private key is ExpandWithLabel of
// the extracted secret with label "derived signing key"; an ECDSA scalar
// is that value, 16 bytes longer than the order, reduced to [1, N-1].
func (cs CipherSuite) DeriveSigningKey(secret []byte) (*SigningKey, error) {
	p, err := cs.params()
	if err != nil {
		return nil, err
	}
	if len(secret) < 32 {
		return nil, errorf(ErrMalformed, "derive signing key", "secret of %d bytes, want at least 32", len(secret))
	}
	prk := cs.Extract(nil, secret)
	switch p.sig {
	case sigEd25519, sigEd448:
		n := ed25519.SeedSize
		if p.sig == sigEd448 {
			n = ed448.SeedSize
		}
		seed, err := cs.ExpandWithLabel(prk, "derived signing key", nil, n)
		if err != nil {
			return nil, err
		}
		return cs.NewSigningKey(seed)
	}
	params := p.curve().Params()
	size := (params.BitSize + 7) / 8
	wide, err := cs.ExpandWithLabel(prk, "derived signing key", nil, size+16)
	if err != nil {
		return nil, err
	}
	nMinus1 := new(big.Int).Sub(params.N, big.NewInt(1))
	d := new(big.Int).Mod(new(big.Int).SetBytes(wide), nMinus1)
	return cs.NewSigningKey(d.Add(d, big.NewInt(1)).FillBytes(make([]byte, size)))
}

// GenerateSigningKey returns a fresh random signature key.
func (cs CipherSuite) GenerateSigningKey() (*SigningKey, error) {
	p, err := cs.params()
	if err != nil {
		return nil, err
	}
	switch p.sig {
	case sigEd25519:
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		return cs.NewSigningKey(seed)
	case sigEd448:
		seed := make([]byte, ed448.SeedSize)
		rand.Read(seed)
		return cs.NewSigningKey(seed)
	default:
		ec, err := ecdsa.GenerateKey(p.curve(), rand.Reader)
		if err != nil {
			return nil, err
		}
		pub, _ := ec.PublicKey.Bytes()
		return &SigningKey{suite: cs, ec: ec, pub: pub}, nil
	}
}

// PublicKey returns the raw signature public key.
func (k *SigningKey) PublicKey() []byte { return k.pub }

// SignWithLabel signs SignContent{"MLS 1.0 "+label, content}.
func (k *SigningKey) SignWithLabel(label string, content []byte) ([]byte, error) {
	msg := signContent(label, content)
	switch {
	case k.ed != nil:
		return ed25519.Sign(k.ed, msg), nil
	case k.ed448 != nil:
		return ed448.Sign(k.ed448, msg, ""), nil
	default:
		h := k.suite.mustParams().hash.New()
		h.Write(msg)
		return ecdsa.SignASN1(rand.Reader, k.ec, h.Sum(nil))
	}
}

// encryptContext builds the HPKE info of EncryptWithLabel.
func encryptContext(label string, context []byte) []byte {
	var w writer
	w.opaque(mlsLabel(label))
	w.opaque(context)
	return w.buf
}

// EncryptWithLabel(PublicKey, Label, Context, Plaintext) of RFC 9420 section
// 5.1.3: HPKE base-mode SealBase with info = EncryptContext and empty aad.
func (cs CipherSuite) EncryptWithLabel(pub []byte, label string, context, plaintext []byte) (kemOutput, ciphertext []byte, err error) {
	p, err := cs.params()
	if err != nil {
		return nil, nil, err
	}
	info := encryptContext(label, context)
	if p.kem == kemX448 {
		s := circlhpke.NewSuite(circlhpke.KEM(p.kem), circlhpke.KDF(p.kdf), circlhpke.AEAD(p.aead))
		pk, err := circlhpke.KEM(p.kem).Scheme().UnmarshalBinaryPublicKey(pub)
		if err != nil {
			return nil, nil, &Error{Kind: ErrMalformed, Op: "HPKE public key", Err: err}
		}
		snd, err := s.NewSender(pk, info)
		if err != nil {
			return nil, nil, &Error{Kind: ErrUnsupported, Op: "HPKE", Err: err}
		}
		enc, sealer, err := snd.Setup(rand.Reader)
		if err != nil {
			return nil, nil, &Error{Kind: ErrUnsupported, Op: "HPKE", Err: err}
		}
		ct, err := sealer.Seal(plaintext, nil)
		if err != nil {
			return nil, nil, &Error{Kind: ErrUnsupported, Op: "HPKE", Err: err}
		}
		return enc, ct, nil
	}
	kem, kdf, aead, err := p.stdHPKE()
	if err != nil {
		return nil, nil, err
	}
	pk, err := kem.NewPublicKey(pub)
	if err != nil {
		return nil, nil, &Error{Kind: ErrMalformed, Op: "HPKE public key", Err: err}
	}
	enc, snd, err := hpke.NewSender(pk, kdf, aead, info)
	if err != nil {
		return nil, nil, &Error{Kind: ErrUnsupported, Op: "HPKE", Err: err}
	}
	ct, err := snd.Seal(nil, plaintext)
	if err != nil {
		return nil, nil, &Error{Kind: ErrUnsupported, Op: "HPKE", Err: err}
	}
	return enc, ct, nil
}

func (p *suiteParams) stdHPKE() (hpke.KEM, hpke.KDF, hpke.AEAD, error) {
	kem, err := hpke.NewKEM(p.kem)
	if err != nil {
		return nil, nil, nil, &Error{Kind: ErrUnsupported, Op: "HPKE KEM", Err: err}
	}
	kdf, err := hpke.NewKDF(p.kdf)
	if err != nil {
		return nil, nil, nil, &Error{Kind: ErrUnsupported, Op: "HPKE KDF", Err: err}
	}
	aead, err := hpke.NewAEAD(p.aead)
	if err != nil {
		return nil, nil, nil, &Error{Kind: ErrUnsupported, Op: "HPKE AEAD", Err: err}
	}
	return kem, kdf, aead, nil
}

// GenerateHPKEKey returns a fresh HPKE key pair of the suite's KEM as raw
// (private, public) bytes. For tests and benchmarks.
func (cs CipherSuite) GenerateHPKEKey() (priv, pub []byte, err error) {
	p, err := cs.params()
	if err != nil {
		return nil, nil, err
	}
	var curve ecdh.Curve
	switch p.kem {
	case kemX25519:
		curve = ecdh.X25519()
	case kemP256:
		curve = ecdh.P256()
	case kemP384:
		curve = ecdh.P384()
	case kemP521:
		curve = ecdh.P521()
	case kemX448:
		pk, sk, err := circlhpke.KEM(p.kem).Scheme().GenerateKeyPair()
		if err != nil {
			return nil, nil, err
		}
		pub, _ = pk.MarshalBinary()
		priv, _ = sk.MarshalBinary()
		return priv, pub, nil
	}
	sk, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return sk.Bytes(), sk.PublicKey().Bytes(), nil
}
