package smpclient

import (
	"bytes"
	"crypto/ed25519"
	"encoding/asn1"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Handshake (§2.2, §2.3). Both hellos are single plain blocks.
//
// Server hello (first block, server -> client):
//
//	minVersion   Word16
//	maxVersion   Word16
//	sessionId    shortString          tls-unique (32 bytes under TLS 1.3)
//	certChain    count(1 byte) *Large(cert DER)   only if maxVersion >= 7; leaf first
//	signedKey    Large(DER SEQUENCE{ spki X25519, algId Ed25519|Ed448, BIT STRING sig })
//	ignored      *OCTET               future extensions
//
// Client hello (second block, client -> server):
//
//	version      Word16               chosen version
//	keyHash      shortString(32)      from the server address
//	clientKey    shortString(X25519 SPKI)   v >= 7 and block encryption wanted; no Maybe tag
//	proxyServer  Bool ("T"/"F")       iff v >= 14; notifiers send "F"
//	clientService Maybe ...           iff v >= 16; a plain notifier sends "0"
//	ignored      *OCTET
const (
	// MaxCertChain bounds the certificates accepted in a hello.
	MaxCertChain = 4
	// MinCertChain is the shortest chain accepted (leaf + identity).
	MinCertChain = 2

	boolTrue  = 'T'
	boolFalse = 'F'
)

// Signature algorithm OIDs (RFC 8410) used in signedKey.
var (
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidEd448   = asn1.ObjectIdentifier{1, 3, 101, 113}
)

// ServerHello is the first block the server sends.
type ServerHello struct {
	MinVersion, MaxVersion uint16
	SessionID              []byte
	// CertChain and SignedKey are present when MaxVersion >= 7.
	CertChain [][]byte
	SignedKey []byte // DER, see SignedKey
}

// ParseServerHello decodes the unpadded content of the server hello block.
// Trailing bytes are ignored, as the spec requires. Slices alias content.
func ParseServerHello(content []byte) (ServerHello, error) {
	var h ServerHello
	r := reader{b: content}
	h.MinVersion = r.word16("server hello min version")
	h.MaxVersion = r.word16("server hello max version")
	h.SessionID = r.short("server hello session id")
	if r.err == nil && h.MinVersion > h.MaxVersion {
		return ServerHello{}, malformed(fmt.Sprintf("server hello: version range %d..%d", h.MinVersion, h.MaxVersion))
	}
	if r.err == nil && h.MaxVersion >= minSupportedVersion {
		n := int(r.byte("server hello chain length"))
		if r.err == nil && (n < 1 || n > MaxCertChain) {
			return ServerHello{}, malformed(fmt.Sprintf("server hello: %d certificates", n))
		}
		for i := 0; i < n && r.err == nil; i++ {
			h.CertChain = append(h.CertChain, r.large("server hello certificate"))
		}
		h.SignedKey = r.large("server hello signed key")
	}
	if r.err != nil {
		return ServerHello{}, r.err
	}
	return h, nil
}

// AppendBinary appends the hello content (before padding).
func (h ServerHello) AppendBinary(dst []byte) ([]byte, error) {
	if err := checkShort(h.SessionID, "session id"); err != nil {
		return dst, err
	}
	dst = appendWord16(dst, h.MinVersion)
	dst = appendWord16(dst, h.MaxVersion)
	dst = appendShort(dst, h.SessionID)
	if h.MaxVersion >= minSupportedVersion {
		if len(h.CertChain) < 1 || len(h.CertChain) > MaxCertChain {
			return dst, fmt.Errorf("%w: %d certificates", ErrTooLarge, len(h.CertChain))
		}
		dst = append(dst, byte(len(h.CertChain)))
		for _, c := range h.CertChain {
			dst = appendLarge(dst, c)
		}
		dst = appendLarge(dst, h.SignedKey)
	}
	return dst, nil
}

func appendWord16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

// ClientHello is the second block, sent by the client.
type ClientHello struct {
	Version uint16
	KeyHash KeyHash
	// ClientKey is the client's X25519 public key; non-nil enables block
	// encryption (v >= 11).
	ClientKey *PublicKey
	// Proxy is the proxyServer flag (v >= 14); notifiers send false.
	Proxy bool
	// Service is true if a service credential follows (v >= 16). This
	// package never sends one and ParseClientHello reports ErrUnsupported.
	Service bool
}

// AppendBinary appends the hello content (before padding).
func (h ClientHello) AppendBinary(dst []byte) []byte {
	dst = appendWord16(dst, h.Version)
	dst = appendShort(dst, h.KeyHash[:])
	if h.ClientKey != nil && h.Version >= minSupportedVersion {
		dst = appendShort(dst, h.ClientKey.MarshalSPKI())
	}
	if h.Version >= versionProxyFlag {
		dst = append(dst, boolByte(h.Proxy))
	}
	if h.Version >= versionServiceCerts {
		dst = append(dst, maybeNothing)
	}
	return dst
}

func boolByte(b bool) byte {
	if b {
		return boolTrue
	}
	return boolFalse
}

// ParseClientHello decodes a client hello as a server does. The client key
// has no tag: the parser tries to read an X25519 SPKI and backtracks if
// that fails (a "F"/"T" byte is never a plausible key length here).
func ParseClientHello(content []byte) (ClientHello, error) {
	var h ClientHello
	r := reader{b: content}
	h.Version = r.word16("client hello version")
	kh := r.short("client hello key hash")
	if r.err == nil && len(kh) != KeyHashSize {
		return h, malformed(fmt.Sprintf("client hello: key hash is %d bytes", len(kh)))
	}
	copy(h.KeyHash[:], kh)
	if r.err == nil && h.Version >= minSupportedVersion {
		try := reader{b: r.b}
		if spki := try.short("client key"); try.err == nil {
			if pk, err := ParsePublicKey(spki); err == nil && pk.alg == X25519 {
				h.ClientKey = &pk
				r = try
			}
		}
	}
	if r.err == nil && h.Version >= versionProxyFlag {
		switch r.byte("client hello proxy flag") {
		case boolTrue:
			h.Proxy = true
		case boolFalse:
		default:
			r.fail("client hello proxy flag")
		}
	}
	if r.err == nil && h.Version >= versionServiceCerts {
		switch r.byte("client hello service") {
		case maybeNothing:
		case maybeJust:
			h.Service = true
			return h, fmt.Errorf("%w: client service credentials", ErrUnsupported)
		default:
			r.fail("client hello service tag")
		}
	}
	if r.err != nil {
		return ClientHello{}, r.err
	}
	return h, nil
}

// SignedKey is the server's per-connection X25519 key signed by the TLS
// leaf key: DER SEQUENCE { spki, algorithmIdentifier, BIT STRING sig },
// where sig covers the exact DER bytes of spki.
type SignedKey struct {
	Key       PublicKey
	SPKI      []byte // DER of the signed SubjectPublicKeyInfo
	Algorithm Algorithm
	Signature []byte
}

// ParseSignedKey decodes the DER of a signed key. It does not verify the
// signature (see Verify).
func ParseSignedKey(der []byte) (SignedKey, error) {
	var sk SignedKey
	in := cryptobyte.String(der)
	var seq, spki, algSeq cryptobyte.String
	var oid asn1.ObjectIdentifier
	var sig asn1.BitString
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Element(&spki, cbasn1.SEQUENCE) ||
		!seq.ReadASN1(&algSeq, cbasn1.SEQUENCE) ||
		!algSeq.ReadASN1ObjectIdentifier(&oid) || !algSeq.Empty() ||
		!seq.ReadASN1BitString(&sig) || !seq.Empty() || sig.BitLength%8 != 0 {
		return sk, malformed("signed key: bad DER")
	}
	switch {
	case oid.Equal(oidEd25519):
		sk.Algorithm = Ed25519
	case oid.Equal(oidEd448):
		sk.Algorithm = Ed448
	default:
		return sk, malformed(fmt.Sprintf("signed key: signature algorithm %v", oid))
	}
	pk, err := ParsePublicKey(spki)
	if err != nil || pk.alg != X25519 {
		return sk, malformed("signed key: not an X25519 key")
	}
	sk.Key, sk.SPKI, sk.Signature = pk, bytes.Clone(spki), bytes.Clone(sig.Bytes)
	return sk, nil
}

// Verify checks the signature with the raw public key of the TLS leaf
// (ed25519.PublicKey, or a 57-byte Ed448 key).
func (sk SignedKey) Verify(leafKey any) bool {
	switch k := leafKey.(type) {
	case ed25519.PublicKey:
		return sk.Algorithm == Ed25519 && len(sk.Signature) == ed25519.SignatureSize && ed25519.Verify(k, sk.SPKI, sk.Signature)
	case ed448.PublicKey:
		return sk.Algorithm == Ed448 && len(sk.Signature) == ed448.SignatureSize && ed448.Verify(k, sk.SPKI, sk.Signature, "")
	}
	return false
}

// MarshalSignedKey signs key's SPKI with an Ed25519 leaf key and returns
// the DER (servers and tests).
func MarshalSignedKey(key PublicKey, leaf ed25519.PrivateKey) []byte {
	spki := key.MarshalSPKI()
	return marshalSignedKey(spki, oidEd25519, ed25519.Sign(leaf, spki))
}

// MarshalSignedKeyEd448 is MarshalSignedKey for an Ed448 leaf key.
func MarshalSignedKeyEd448(key PublicKey, leaf ed448.PrivateKey) []byte {
	spki := key.MarshalSPKI()
	return marshalSignedKey(spki, oidEd448, ed448.Sign(leaf, spki, ""))
}

func marshalSignedKey(spki []byte, alg asn1.ObjectIdentifier, sig []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(spki)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(alg) })
		b.AddASN1BitString(sig)
	})
	return b.BytesOrPanic()
}
