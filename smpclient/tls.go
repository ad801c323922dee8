package smpclient

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/cloudflare/circl/sign/ed448"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TLS profile (§1.3). The reference server accepts TLS 1.3 with
// TLS_CHACHA20_POLY1305_SHA256 (Go cannot restrict 1.3 suites, the server
// picks ChaCha20 anyway) and TLS 1.2 with ECDHE_ECDSA_CHACHA20_POLY1305;
// groups X448 and X25519; signature schemes Ed448 and Ed25519 only.
// The client offers ALPN "smp/1" and sends no SNI: with SNI a server that
// shares its port with HTTPS answers as a web server.
const (
	// ALPN is the protocol the client offers. Without it the server only
	// offers SMP v6.
	ALPN = "smp/1"
)

// certRole names a certificate's place in an SMP chain (§1.2).
func certRole(i, n int) string {
	switch {
	case i == 0:
		return "leaf"
	case i == 1:
		return "identity"
	case i == n-1:
		return "anchor"
	}
	return "intermediate"
}

// CertInfo describes one certificate of the server's chain.
type CertInfo struct {
	Role      string // "leaf", "identity", "intermediate" or "anchor" (a 2-chain's identity is its anchor)
	KeyType   string // "Ed25519", "Ed448", "ECDSA P-256", "RSA 2048", ...
	Subject   string
	NotAfter  time.Time
	SHA256    KeyHash // fingerprint of the DER; for the identity cert this is the key hash
	IsCA      bool
	RawDER    []byte
	parsedKey any // ed25519.PublicKey / ed448.PublicKey / crypto key; nil if unknown
}

// Algorithm OIDs of SubjectPublicKeyInfo.
var (
	oidX25519 = asn1.ObjectIdentifier{1, 3, 101, 110}
	oidX448   = asn1.ObjectIdentifier{1, 3, 101, 111}
)

// spkiAlgorithm returns the algorithm OID of a DER SubjectPublicKeyInfo.
func spkiAlgorithm(spki []byte) (asn1.ObjectIdentifier, []byte, bool) {
	in := cryptobyte.String(spki)
	var seq, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	var key asn1.BitString
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&oid) || !seq.ReadASN1BitString(&key) {
		return nil, nil, false
	}
	return oid, key.Bytes, true
}

// describeCert parses one DER certificate for reporting and validation.
func describeCert(der []byte, role string) (*x509.Certificate, CertInfo, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, CertInfo{}, fmt.Errorf("smp: server sent a certificate that does not parse: %w", err)
	}
	info := CertInfo{
		Role: role, Subject: c.Subject.String(), NotAfter: c.NotAfter,
		SHA256: KeyHashOf(der), IsCA: c.BasicConstraintsValid && c.IsCA, RawDER: der,
	}
	switch k := c.PublicKey.(type) {
	case ed25519.PublicKey:
		info.KeyType, info.parsedKey = "Ed25519", k
	case *ecdsa.PublicKey:
		info.KeyType, info.parsedKey = "ECDSA "+k.Curve.Params().Name, k
	case *rsa.PublicKey:
		info.KeyType, info.parsedKey = fmt.Sprintf("RSA %d", k.N.BitLen()), k
	default:
		oid, raw, ok := spkiAlgorithm(c.RawSubjectPublicKeyInfo)
		switch {
		case ok && oid.Equal(oidEd448) && len(raw) == ed448.PublicKeySize:
			info.KeyType, info.parsedKey = "Ed448", ed448.PublicKey(bytes.Clone(raw))
		case ok && oid.Equal(oidX25519):
			info.KeyType = "X25519"
		case ok && oid.Equal(oidX448):
			info.KeyType = "X448"
		case ok:
			info.KeyType = "unknown " + oid.String()
		default:
			info.KeyType = "unknown"
		}
	}
	return c, info, nil
}

// Chain is the server's certificate chain as checked by verifyChain.
type Chain struct {
	Certs         []CertInfo
	KeyHashMatch  bool
	PathValidated bool // false when Config.SkipChainValidation is set
}

// verifyChain applies §1.2 to the raw chain, leaf first:
//  1. 2..4 certificates and SHA-256(raw[1]) == want, else *KeyHashError;
//  2. unless skipPath: each certificate is signed by the next, issuers are
//     CAs, all are valid at now, and the last one is the trust anchor.
//     No host name is checked.
func verifyChain(raw [][]byte, want KeyHash, now time.Time, skipPath bool) (Chain, error) {
	var ch Chain
	if len(raw) < MinCertChain || len(raw) > MaxCertChain {
		return ch, fmt.Errorf("smp: server sent %d certificates, want %d..%d (leaf, identity, optional intermediates)", len(raw), MinCertChain, MaxCertChain)
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, der := range raw {
		c, info, err := describeCert(der, certRole(i, len(raw)))
		if err != nil {
			return ch, err
		}
		certs[i] = c
		ch.Certs = append(ch.Certs, info)
	}
	got := ch.Certs[1].SHA256
	if got != want {
		return ch, &KeyHashError{Want: want, Got: got}
	}
	ch.KeyHashMatch = true
	if skipPath {
		return ch, nil
	}
	for i, c := range certs {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return ch, fmt.Errorf("smp: certificate %d (%s) is not valid at %s (valid %s..%s)",
				i, ch.Certs[i].Subject, now.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
		if i == len(certs)-1 {
			break // the trust anchor is trusted as is
		}
		if err := checkSignedBy(c, certs[i+1], ch.Certs[i+1]); err != nil {
			return ch, fmt.Errorf("smp: certificate %d (%s) is not validly signed by certificate %d: %w", i, ch.Certs[i].Subject, i+1, err)
		}
	}
	ch.PathValidated = true
	return ch, nil
}

var errNotCA = errors.New("issuer is not a CA")

// checkSignedBy checks that parent issued child, including Ed448
// signatures, which crypto/x509 does not implement.
func checkSignedBy(child, parent *x509.Certificate, parentInfo CertInfo) error {
	if !parentInfo.IsCA {
		return errNotCA
	}
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return errors.New("issuer name does not match")
	}
	if pk, ok := parentInfo.parsedKey.(ed448.PublicKey); ok || child.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		alg, sig, ok2 := certSignature(child.Raw)
		if !ok || !ok2 || !alg.Equal(oidEd448) {
			return errors.New("unsupported signature algorithm")
		}
		if !ed448.Verify(pk, child.RawTBSCertificate, sig, "") {
			return errors.New("bad Ed448 signature")
		}
		return nil
	}
	return child.CheckSignatureFrom(parent)
}

// certSignature returns the outer signature algorithm and signature of a
// DER certificate.
func certSignature(der []byte) (asn1.ObjectIdentifier, []byte, bool) {
	in := cryptobyte.String(der)
	var cert, tbs, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	var sig asn1.BitString
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!cert.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) ||
		!cert.ReadASN1BitString(&sig) {
		return nil, nil, false
	}
	return oid, sig.Bytes, true
}

// clientTLSConfig returns the TLS profile for one connection. verify runs
// inside the TLS handshake with the raw chain.
func clientTLSConfig(now func() time.Time, verify func(raw [][]byte) error) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		MaxVersion: tls.VersionTLS13,
		// TLS 1.2 only; TLS 1.3 suites are not configurable in Go.
		CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		CurvePreferences: []tls.CurveID{tls.X25519},
		NextProtos:       []string{ALPN},
		// No ServerName: no SNI. Identity is checked by key hash below.
		InsecureSkipVerify:     true,
		SessionTicketsDisabled: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verify(raw)
		},
		Time: now,
	}
}
