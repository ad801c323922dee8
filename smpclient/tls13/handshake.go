package tls13

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/cloudflare/circl/dh/x448"
	"github.com/cloudflare/circl/sign/ed448"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/curve25519"
)

// clientHandshake is the state of one client handshake (RFC 8446 §2).
type clientHandshake struct {
	c         *Conn
	hello     clientHello
	helloRaw  []byte // the first ClientHello, until the suite is known
	x25519Key []byte
	x448Key   x448.Key
	retried   bool
	retrySuit uint16

	suite      *suite
	ks         keySchedule
	transcript hash.Hash

	handshakeSecret  []byte
	clientHS         []byte // client handshake traffic secret
	serverHS         []byte
	certRequested    bool
	certRequestCtx   []byte
	leafKey          any // ed25519.PublicKey or ed448.PublicKey
	serverFinishHash []byte
	clientAP         []byte
}

// clientHandshake runs the whole handshake. inMu and outMu are held.
func (c *Conn) clientHandshake() error {
	hs := &clientHandshake{c: c}
	if err := hs.sendHello(); err != nil {
		return err
	}
	sh, raw, err := hs.readServerHello()
	if err != nil {
		return err
	}
	if sh.retry {
		if err := hs.retry(sh, raw); err != nil {
			return err
		}
		if sh, raw, err = hs.readServerHello(); err != nil {
			return err
		}
		if sh.retry {
			return fail(alertUnexpectedMessage, "second HelloRetryRequest")
		}
	}
	if err := hs.processServerHello(sh, raw); err != nil {
		return err
	}
	if err := hs.readServerFlight(); err != nil {
		return err
	}
	return hs.sendFinished()
}

// sendHello sends the first ClientHello with an X25519 key share.
func (hs *clientHandshake) sendHello() error {
	c := hs.c
	hs.x25519Key = make([]byte, curve25519.ScalarSize)
	if _, err := io.ReadFull(c.cfg.Rand, hs.hello.random[:]); err != nil {
		return fmt.Errorf("tls13: random: %w", err)
	}
	if _, err := io.ReadFull(c.cfg.Rand, hs.x25519Key); err != nil {
		return fmt.Errorf("tls13: random: %w", err)
	}
	pub, err := curve25519.X25519(hs.x25519Key, curve25519.Basepoint)
	if err != nil {
		return fmt.Errorf("tls13: X25519 key: %w", err)
	}
	for _, p := range c.cfg.NextProtos {
		if len(p) == 0 || len(p) > maxALPN {
			return fmt.Errorf("tls13: bad ALPN protocol %q", p)
		}
	}
	hs.hello.share = keyShare{groupX25519, pub}
	hs.hello.protocols = c.cfg.NextProtos
	hs.helloRaw = hs.hello.marshal()
	return hs.writeHandshake(hs.helloRaw)
}

// writeHandshake sends one handshake message in one record.
func (hs *clientHandshake) writeHandshake(msg []byte) error {
	c := hs.c
	c.wbuf = c.wbuf[:0]
	if err := c.appendRecordLocked(recordHandshake, msg); err != nil {
		return err
	}
	return c.flushLocked()
}

// readServerHello reads a ServerHello or HelloRetryRequest.
func (hs *clientHandshake) readServerHello() (*serverHello, []byte, error) {
	typ, body, raw, err := hs.c.readHandshakeMessage()
	if err != nil {
		return nil, nil, err
	}
	if typ != typeServerHello {
		return nil, nil, fail(alertUnexpectedMessage, "got handshake message %d, want ServerHello", typ)
	}
	sh, err := parseServerHello(body)
	if err != nil {
		return nil, nil, err
	}
	if len(sh.sessionIDEcho) != 0 {
		return nil, nil, fail(alertIllegalParameter, "ServerHello echoes a session id that was not sent")
	}
	if suiteByID(sh.suite) == nil {
		return nil, nil, fail(alertIllegalParameter, "server chose cipher suite %#04x, which was not offered", sh.suite)
	}
	return sh, raw, nil
}

// startTranscript fixes the suite and hashes the messages so far.
func (hs *clientHandshake) startTranscript(id uint16) {
	hs.suite = suiteByID(id)
	hs.ks = hs.suite.schedule()
	hs.transcript = hs.suite.newHash()
}

// retry answers a HelloRetryRequest (§4.1.4): the only change it can ask
// for is an X448 share (X25519 was sent already) and a cookie.
func (hs *clientHandshake) retry(hrr *serverHello, raw []byte) error {
	switch {
	case hrr.selectedGroup == groupX25519:
		return fail(alertIllegalParameter, "HelloRetryRequest asks for the X25519 share that was sent")
	case hrr.selectedGroup != 0 && hrr.selectedGroup != groupX448:
		return fail(alertIllegalParameter, "HelloRetryRequest selects group %#04x, which was not offered", hrr.selectedGroup)
	case hrr.selectedGroup == 0 && hrr.cookie == nil:
		return fail(alertIllegalParameter, "HelloRetryRequest changes nothing")
	}
	hs.retried, hs.retrySuit = true, hrr.suite
	hs.startTranscript(hrr.suite)
	// The first ClientHello enters the transcript as message_hash.
	chHash := hs.suite.newHash()
	chHash.Write(hs.helloRaw)
	hs.transcript.Write(append(handshakeHeader(typeMessageHash, hs.ks.size), chHash.Sum(nil)...))
	hs.transcript.Write(raw)
	if hrr.selectedGroup == groupX448 {
		var secret, pub x448.Key
		if _, err := io.ReadFull(hs.c.cfg.Rand, secret[:]); err != nil {
			return fmt.Errorf("tls13: random: %w", err)
		}
		x448.KeyGen(&pub, &secret)
		hs.x448Key = secret
		hs.hello.share = keyShare{groupX448, pub[:]}
	}
	hs.hello.cookie = hrr.cookie
	hello := hs.hello.marshal()
	hs.transcript.Write(hello)
	hs.c.state.HelloRetried = true
	return hs.writeHandshake(hello)
}

// sharedSecret computes the (EC)DHE secret with the server's share.
func (hs *clientHandshake) sharedSecret(share keyShare) ([]byte, error) {
	if share.group != hs.hello.share.group {
		return nil, fail(alertIllegalParameter, "server key share is for group %#04x, the client's for %#04x", share.group, hs.hello.share.group)
	}
	if share.group == groupX448 {
		var peer, shared x448.Key
		if len(share.data) != x448.Size {
			return nil, fail(alertIllegalParameter, "X448 key share of %d bytes", len(share.data))
		}
		copy(peer[:], share.data)
		if !x448.Shared(&shared, &hs.x448Key, &peer) {
			return nil, fail(alertIllegalParameter, "X448 key share is a low-order point")
		}
		return shared[:], nil
	}
	if len(share.data) != curve25519.PointSize {
		return nil, fail(alertIllegalParameter, "X25519 key share of %d bytes", len(share.data))
	}
	shared, err := curve25519.X25519(hs.x25519Key, share.data)
	if err != nil {
		return nil, fail(alertIllegalParameter, "X25519 key share: %v", err)
	}
	return shared, nil
}

// processServerHello derives the handshake traffic keys.
func (hs *clientHandshake) processServerHello(sh *serverHello, raw []byte) error {
	c := hs.c
	if hs.retried && sh.suite != hs.retrySuit {
		return fail(alertIllegalParameter, "ServerHello suite %#04x differs from the HelloRetryRequest's %#04x", sh.suite, hs.retrySuit)
	}
	shared, err := hs.sharedSecret(sh.share)
	if err != nil {
		return err
	}
	if !hs.retried {
		hs.startTranscript(sh.suite)
		hs.transcript.Write(hs.helloRaw)
	}
	hs.transcript.Write(raw)
	if len(c.hsBuf) != 0 {
		return fail(alertUnexpectedMessage, "ServerHello not at the end of its record")
	}
	hs.handshakeSecret = hs.ks.handshakeSecret(shared)
	th := hs.transcript.Sum(nil)
	hs.clientHS = hs.ks.deriveSecret(hs.handshakeSecret, "c hs traffic", th)
	hs.serverHS = hs.ks.deriveSecret(hs.handshakeSecret, "s hs traffic", th)
	c.suite = hs.suite
	c.state.Version, c.state.CipherSuite = VersionTLS13, sh.suite
	if err := c.in.setKey(hs.suite, hs.serverHS); err != nil {
		return err
	}
	return c.out.setKey(hs.suite, hs.clientHS)
}

// readMessage reads the next handshake message, requires its type and
// adds it to the transcript.
func (hs *clientHandshake) readMessage(want ...uint8) (uint8, []byte, error) {
	typ, body, raw, err := hs.c.readHandshakeMessage()
	if err != nil {
		return 0, nil, err
	}
	if !slices.Contains(want, typ) {
		return 0, nil, fail(alertUnexpectedMessage, "got handshake message %d, want one of %v", typ, want)
	}
	hs.transcript.Write(raw)
	return typ, body, nil
}

// readServerFlight reads EncryptedExtensions, an optional
// CertificateRequest, Certificate, CertificateVerify and Finished.
func (hs *clientHandshake) readServerFlight() error {
	_, body, err := hs.readMessage(typeEncryptedExtensions)
	if err != nil {
		return err
	}
	if err := hs.processEncryptedExtensions(body); err != nil {
		return err
	}
	typ, body, err := hs.readMessage(typeCertificateRequest, typeCertificate)
	if err != nil {
		return err
	}
	if typ == typeCertificateRequest {
		if hs.certRequestCtx, err = parseCertificateRequest(body); err != nil {
			return err
		}
		hs.certRequested = true
		if _, body, err = hs.readMessage(typeCertificate); err != nil {
			return err
		}
	}
	if err := hs.processCertificate(body); err != nil {
		return err
	}
	if err := hs.verifyCertificateVerify(); err != nil {
		return err
	}
	return hs.verifyServerFinished()
}

func (hs *clientHandshake) processEncryptedExtensions(body []byte) error {
	proto, err := parseEncryptedExtensions(body)
	if err != nil {
		return err
	}
	if proto != "" && !slices.Contains(hs.c.cfg.NextProtos, proto) {
		return fail(alertIllegalParameter, "server selected ALPN protocol %q, which was not offered", proto)
	}
	hs.c.state.NegotiatedProtocol = proto
	return nil
}

// processCertificate hands the chain to the caller's check and extracts
// the leaf key.
func (hs *clientHandshake) processCertificate(body []byte) error {
	chain, err := parseCertificate(body)
	if err != nil {
		return err
	}
	chain = cloneChain(chain)
	if err := hs.c.cfg.VerifyPeerCertificate(chain); err != nil {
		return &localError{alert: alertBadCertificate, err: fmt.Errorf("tls13: server certificate rejected: %w", err)}
	}
	if hs.leafKey, err = leafPublicKey(chain[0]); err != nil {
		return err
	}
	hs.c.state.PeerCertificates = chain
	return nil
}

func cloneChain(chain [][]byte) [][]byte {
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = bytes.Clone(c)
	}
	return out
}

var oidEd448 = asn1.ObjectIdentifier{1, 3, 101, 113}

// leafPublicKey returns the Ed25519 or Ed448 key of a DER certificate.
// crypto/x509 parses Ed25519; for Ed448 it leaves the key unparsed, so
// the SubjectPublicKeyInfo is read here.
func leafPublicKey(der []byte) (any, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fail(alertBadCertificate, "leaf certificate does not parse: %v", err)
	}
	if k, ok := cert.PublicKey.(ed25519.PublicKey); ok {
		return k, nil
	}
	spki := cryptobyte.String(cert.RawSubjectPublicKeyInfo)
	var seq, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	var key asn1.BitString
	if spki.ReadASN1(&seq, cbasn1.SEQUENCE) && seq.ReadASN1(&alg, cbasn1.SEQUENCE) &&
		alg.ReadASN1ObjectIdentifier(&oid) && alg.Empty() && seq.ReadASN1BitString(&key) && seq.Empty() &&
		oid.Equal(oidEd448) && len(key.Bytes) == ed448.PublicKeySize && key.BitLength == 8*ed448.PublicKeySize {
		return ed448.PublicKey(bytes.Clone(key.Bytes)), nil
	}
	return nil, failWith(alertUnsupportedCert, ErrUnsupportedKey, "key algorithm %v", cert.PublicKeyAlgorithm)
}

// serverSignatureContext is the prefix of the signed content (§4.4.3).
var serverSignatureContext = append(bytes.Repeat([]byte{0x20}, 64), "TLS 1.3, server CertificateVerify\x00"...)

// verifyCertificateVerify checks the server's signature over the
// transcript through Certificate.
func (hs *clientHandshake) verifyCertificateVerify() error {
	signed := append(slices.Clone(serverSignatureContext), hs.transcript.Sum(nil)...)
	_, body, err := hs.readMessage(typeCertificateVerify)
	if err != nil {
		return err
	}
	scheme, sig, err := parseCertificateVerify(body)
	if err != nil {
		return err
	}
	ok := false
	switch k := hs.leafKey.(type) {
	case ed25519.PublicKey:
		if scheme != schemeEd25519 {
			return fail(alertIllegalParameter, "CertificateVerify scheme %#04x for an Ed25519 key", scheme)
		}
		ok = len(sig) == ed25519.SignatureSize && ed25519.Verify(k, signed, sig)
	case ed448.PublicKey:
		if scheme != schemeEd448 {
			return fail(alertIllegalParameter, "CertificateVerify scheme %#04x for an Ed448 key", scheme)
		}
		ok = len(sig) == ed448.SignatureSize && ed448.Verify(k, signed, sig, "")
	}
	if !ok {
		return failWith(alertDecryptError, ErrBadCertificateVerify, "scheme %#04x", scheme)
	}
	return nil
}

// verifyServerFinished checks the server Finished and switches reading
// to the application traffic keys.
func (hs *clientHandshake) verifyServerFinished() error {
	want := hs.ks.finishedMAC(hs.serverHS, hs.transcript.Sum(nil))
	_, body, err := hs.readMessage(typeFinished)
	if err != nil {
		return err
	}
	if !hmac.Equal(body, want) {
		return failWith(alertDecryptError, ErrBadFinished, "%d-byte verify_data", len(body))
	}
	if len(hs.c.hsBuf) != 0 {
		return fail(alertUnexpectedMessage, "server Finished not at the end of its record")
	}
	hs.serverFinishHash = hs.transcript.Sum(nil)
	master := hs.ks.masterSecret(hs.handshakeSecret)
	serverAP := hs.ks.deriveSecret(master, "s ap traffic", hs.serverFinishHash)
	hs.clientAP = hs.ks.deriveSecret(master, "c ap traffic", hs.serverFinishHash)
	return hs.c.in.setKey(hs.suite, serverAP)
}

// sendFinished sends an empty Certificate if one was requested, then
// the client Finished, and switches writing to the application keys.
func (hs *clientHandshake) sendFinished() error {
	c := hs.c
	c.wbuf = c.wbuf[:0]
	if hs.certRequested {
		var b cryptobyte.Builder
		b.AddUint8(typeCertificate)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(hs.certRequestCtx) })
			b.AddUint24(0) // no certificate
		})
		msg := b.BytesOrPanic()
		hs.transcript.Write(msg)
		if err := c.appendRecordLocked(recordHandshake, msg); err != nil {
			return err
		}
	}
	verify := hs.ks.finishedMAC(hs.clientHS, hs.transcript.Sum(nil))
	if err := c.appendRecordLocked(recordHandshake, append(handshakeHeader(typeFinished, len(verify)), verify...)); err != nil {
		return err
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	c.state.ClientFinished = verify
	return c.out.setKey(hs.suite, hs.clientAP)
}
