package tls13

import (
	"bytes"

	"golang.org/x/crypto/cryptobyte"
)

// Handshake message types (RFC 8446 §4).
const (
	typeClientHello         uint8 = 1
	typeServerHello         uint8 = 2
	typeNewSessionTicket    uint8 = 4
	typeEncryptedExtensions uint8 = 8
	typeCertificate         uint8 = 11
	typeCertificateRequest  uint8 = 13
	typeCertificateVerify   uint8 = 15
	typeFinished            uint8 = 20
	typeKeyUpdate           uint8 = 24
	typeMessageHash         uint8 = 254
)

// Extensions used by the profile.
const (
	extServerName        uint16 = 0
	extSupportedGroups   uint16 = 10
	extSignatureAlgs     uint16 = 13
	extALPN              uint16 = 16
	extSupportedVersions uint16 = 43
	extCookie            uint16 = 44
	extKeyShare          uint16 = 51
)

// Named groups and signature schemes.
const (
	groupX25519 uint16 = 0x001d
	groupX448   uint16 = 0x001e

	schemeEd25519 uint16 = 0x0807
	schemeEd448   uint16 = 0x0808
)

// Limits on decoded values, checked before anything is kept.
const (
	// MaxHandshakeMessage bounds one handshake message body; an SMP
	// chain of four certificates is a few kilobytes.
	MaxHandshakeMessage = 1 << 16
	// MaxCertificates bounds the certificates in a Certificate message.
	MaxCertificates = 10
	// maxALPN bounds an ALPN protocol name.
	maxALPN = 255
)

// helloRetryRandom marks a ServerHello as a HelloRetryRequest (§4.1.3).
var helloRetryRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// downgradePrefix starts the last 8 bytes of a TLS 1.2 or 1.1 server's
// random when it also speaks TLS 1.3 (§4.1.3).
var downgradePrefix = []byte("DOWNGRD")

// keyShare is one KeyShareEntry.
type keyShare struct {
	group uint16
	data  []byte
}

// clientHello is what the client offers. The same random and offers
// are sent again after a HelloRetryRequest.
type clientHello struct {
	random    [32]byte
	share     keyShare
	cookie    []byte
	protocols []string
}

// marshal returns the whole handshake message (type and length included).
func (m *clientHello) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(typeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303) // legacy_version
		b.AddBytes(m.random[:])
		b.AddUint8(0) // empty legacy_session_id: no middlebox compatibility mode
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range suites {
				b.AddUint16(s.id)
			}
		})
		b.AddBytes([]byte{1, 0}) // legacy_compression_methods: null
		b.AddUint16LengthPrefixed(m.addExtensions)
	})
	return b.BytesOrPanic()
}

func addExtension(b *cryptobyte.Builder, typ uint16, body func(*cryptobyte.Builder)) {
	b.AddUint16(typ)
	b.AddUint16LengthPrefixed(body)
}

func (m *clientHello) addExtensions(b *cryptobyte.Builder) {
	addExtension(b, extSupportedVersions, func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(VersionTLS13) })
	})
	addExtension(b, extSupportedGroups, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(groupX25519); b.AddUint16(groupX448) })
	})
	addExtension(b, extSignatureAlgs, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(schemeEd25519); b.AddUint16(schemeEd448) })
	})
	addExtension(b, extKeyShare, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(m.share.group)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.share.data) })
		})
	})
	if len(m.protocols) > 0 {
		addExtension(b, extALPN, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, p := range m.protocols {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
				}
			})
		})
	}
	if m.cookie != nil {
		addExtension(b, extCookie, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.cookie) })
		})
	}
}

// serverHello is a decoded ServerHello or HelloRetryRequest.
type serverHello struct {
	retry         bool // a HelloRetryRequest
	random        []byte
	sessionIDEcho []byte
	suite         uint16
	version       uint16 // from supported_versions; 0 if absent
	share         keyShare
	selectedGroup uint16 // HelloRetryRequest key_share
	cookie        []byte // HelloRetryRequest cookie
}

// extensions reads an extension block and calls fn for each, rejecting
// duplicates. fn returns false for a malformed body.
func extensions(s *cryptobyte.String, what string, fn func(typ uint16, body cryptobyte.String) error) error {
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return decodeError(what)
	}
	var seen []uint16
	for !exts.Empty() {
		var typ uint16
		var body cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&body) {
			return decodeError(what + " extensions")
		}
		for _, t := range seen {
			if t == typ {
				return fail(alertIllegalParameter, "%s repeats extension %d", what, typ)
			}
		}
		seen = append(seen, typ)
		if err := fn(typ, body); err != nil {
			return err
		}
	}
	return nil
}

// parseServerHello decodes a ServerHello body. A TLS 1.2 answer (no
// supported_versions, or a downgrade marker) yields ErrNotTLS13.
func parseServerHello(body []byte) (*serverHello, error) {
	s := cryptobyte.String(body)
	m := &serverHello{}
	var legacyVersion uint16
	var sid cryptobyte.String
	var compression uint8
	if !s.ReadUint16(&legacyVersion) || !s.ReadBytes(&m.random, 32) || !s.ReadUint8LengthPrefixed(&sid) ||
		!s.ReadUint16(&m.suite) || !s.ReadUint8(&compression) {
		return nil, decodeError("ServerHello")
	}
	m.sessionIDEcho = sid
	m.retry = bytes.Equal(m.random, helloRetryRandom)
	if s.Empty() || bytes.HasPrefix(m.random[24:], downgradePrefix) {
		return nil, failWith(alertProtocolVersion, ErrNotTLS13, "ServerHello version %#04x", legacyVersion)
	}
	if compression != 0 {
		return nil, fail(alertIllegalParameter, "ServerHello compression method %d", compression)
	}
	err := extensions(&s, "ServerHello", m.extension)
	if err != nil {
		return nil, err
	}
	if m.version != VersionTLS13 {
		return nil, failWith(alertProtocolVersion, ErrNotTLS13, "ServerHello selects version %#04x", m.version)
	}
	if legacyVersion != 0x0303 {
		return nil, fail(alertIllegalParameter, "TLS 1.3 ServerHello with legacy version %#04x", legacyVersion)
	}
	return m, nil
}

func (m *serverHello) extension(typ uint16, body cryptobyte.String) error {
	ok := true
	switch {
	case typ == extSupportedVersions:
		ok = body.ReadUint16(&m.version) && body.Empty()
	case typ == extKeyShare && m.retry:
		ok = body.ReadUint16(&m.selectedGroup) && body.Empty()
	case typ == extKeyShare:
		var data cryptobyte.String
		ok = body.ReadUint16(&m.share.group) && body.ReadUint16LengthPrefixed(&data) && len(data) > 0 && body.Empty()
		m.share.data = data
	case typ == extCookie && m.retry:
		var cookie cryptobyte.String
		ok = body.ReadUint16LengthPrefixed(&cookie) && len(cookie) > 0 && body.Empty()
		m.cookie = cookie
	default:
		return fail(alertUnsupportedExtension, "ServerHello has extension %d, which was not offered", typ)
	}
	if !ok {
		return decodeError("ServerHello extension")
	}
	return nil
}

// parseEncryptedExtensions returns the selected ALPN protocol ("" if
// none). Extensions the client did not offer are refused.
func parseEncryptedExtensions(body []byte) (string, error) {
	s := cryptobyte.String(body)
	var proto string
	err := extensions(&s, "EncryptedExtensions", func(typ uint16, body cryptobyte.String) error {
		switch typ {
		case extALPN:
			var list, name cryptobyte.String
			if !body.ReadUint16LengthPrefixed(&list) || !list.ReadUint8LengthPrefixed(&name) ||
				len(name) == 0 || !list.Empty() || !body.Empty() {
				return decodeError("ALPN extension")
			}
			proto = string(name)
		case extSupportedGroups:
			// The server's preferences, for later connections: ignored.
		default:
			return fail(alertUnsupportedExtension, "EncryptedExtensions has extension %d, which was not offered", typ)
		}
		return nil
	})
	return proto, err
}

// parseCertificate returns the raw DER chain, leaf first. Per-certificate
// extensions (OCSP, SCT) are skipped; they were not requested.
func parseCertificate(body []byte) ([][]byte, error) {
	s := cryptobyte.String(body)
	var ctx, list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&ctx) || !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return nil, decodeError("Certificate")
	}
	if len(ctx) != 0 {
		return nil, fail(alertIllegalParameter, "server Certificate has a request context")
	}
	var chain [][]byte
	for !list.Empty() {
		var cert, exts cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&cert) || len(cert) == 0 || !list.ReadUint16LengthPrefixed(&exts) {
			return nil, decodeError("Certificate entry")
		}
		if len(chain) == MaxCertificates {
			return nil, fail(alertBadCertificate, "server sent more than %d certificates", MaxCertificates)
		}
		chain = append(chain, cert)
	}
	if len(chain) == 0 {
		return nil, fail(alertDecodeError, "server sent no certificate")
	}
	return chain, nil
}

// parseCertificateRequest returns the request context to echo.
func parseCertificateRequest(body []byte) ([]byte, error) {
	s := cryptobyte.String(body)
	var ctx cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&ctx) {
		return nil, decodeError("CertificateRequest")
	}
	sawSigAlgs := false
	err := extensions(&s, "CertificateRequest", func(typ uint16, _ cryptobyte.String) error {
		sawSigAlgs = sawSigAlgs || typ == extSignatureAlgs
		return nil // every extension of a CertificateRequest is advisory for a client without a certificate
	})
	if err == nil && !sawSigAlgs {
		err = fail(alertMissingExtension, "CertificateRequest without signature_algorithms")
	}
	return ctx, err
}

// parseCertificateVerify returns the signature scheme and signature.
func parseCertificateVerify(body []byte) (uint16, []byte, error) {
	s := cryptobyte.String(body)
	var scheme uint16
	var sig cryptobyte.String
	if !s.ReadUint16(&scheme) || !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() {
		return 0, nil, decodeError("CertificateVerify")
	}
	return scheme, sig, nil
}

// parseKeyUpdate reports whether the peer requests an update in return.
func parseKeyUpdate(body []byte) (bool, error) {
	if len(body) != 1 || body[0] > 1 {
		return false, decodeError("KeyUpdate")
	}
	return body[0] == 1, nil
}

// checkNewSessionTicket validates a NewSessionTicket, which is then
// dropped: this client never resumes.
func checkNewSessionTicket(body []byte) error {
	s := cryptobyte.String(body)
	var lifetime, ageAdd uint32
	var nonce, ticket, exts cryptobyte.String
	if !s.ReadUint32(&lifetime) || !s.ReadUint32(&ageAdd) || !s.ReadUint8LengthPrefixed(&nonce) ||
		!s.ReadUint16LengthPrefixed(&ticket) || len(ticket) == 0 || !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return decodeError("NewSessionTicket")
	}
	return nil
}

// handshakeHeader prefixes a handshake message body with type and length.
func handshakeHeader(typ uint8, n int) []byte {
	return []byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}
}
