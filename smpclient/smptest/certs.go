package smptest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/cloudflare/circl/sign/ed448"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// certValidity mirrors smp-server init, which makes certificates valid
// for 999999 days; a century is plenty for tests.
const certValidity = 100 * 365 * 24 * time.Hour

// GenerateCertificate returns a fresh chain [leaf, CA] in the shape
// smp-server init makes: an offline Ed25519 CA (the identity whose hash is
// the key hash) and an Ed25519 online certificate signed by it.
func GenerateCertificate() (tls.Certificate, error) {
	caPub, caKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now().Add(-time.Hour)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "SMP server CA", Organization: []string{"SimpleX"}},
		NotBefore:             now,
		NotAfter:              now.Add(certValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caPub, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafPub, leafKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now,
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, leafPub, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}, nil
}

// LoadCertificate reads a PEM leaf certificate, a PEM CA (identity)
// certificate and the leaf's PEM PKCS#8 key, e.g. the simplexmq test
// fixtures in shared/testdata/smp/fixtures/ed25519.
func LoadCertificate(leafFile, caFile, keyFile string) (tls.Certificate, error) {
	var chain []byte
	for _, f := range []string{leafFile, caFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			return tls.Certificate{}, err
		}
		chain = append(chain, b...)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(chain, key)
}

// ParsePEMCertificate returns the DER of the first certificate in a PEM file.
func ParsePEMCertificate(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("smptest: %s holds no PEM certificate", file)
	}
	return blk.Bytes, nil
}

var (
	oidEd448      = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidBasicCons  = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// generateEd448Chain builds [Ed448 leaf, Ed448 CA] by hand: crypto/x509
// can neither sign with nor encode Ed448 keys. This is the pre-2024
// smp-server init default that Go's TLS cannot talk to.
func generateEd448Chain() ([][]byte, error) {
	caPub, caKey, err := ed448.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	leafPub, _, err := ed448.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	caDER, err := ed448Cert(1, "SMP server CA", "SMP server CA", caPub, caKey, true)
	if err != nil {
		return nil, err
	}
	leafDER, err := ed448Cert(2, "SMP server CA", "localhost", leafPub, caKey, false)
	if err != nil {
		return nil, err
	}
	return [][]byte{leafDER, caDER}, nil
}

func ed448Cert(serial int64, issuer, subject string, pub ed448.PublicKey, signer ed448.PrivateKey, isCA bool) ([]byte, error) {
	name := func(b *cryptobyte.Builder, cn string) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidCommonName)
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(cn)) })
				})
			})
		})
	}
	algID := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidEd448) })
	}
	now := time.Now().UTC().Add(-time.Hour)
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(2) })
		b.AddASN1Int64(serial)
		algID(b)
		name(b, issuer)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1GeneralizedTime(now)
			b.AddASN1GeneralizedTime(now.Add(certValidity))
		})
		name(b, subject)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			algID(b)
			b.AddASN1BitString(pub)
		})
		if isCA {
			b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidBasicCons)
						b.AddASN1Boolean(true)
						b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Boolean(true) })
						})
					})
				})
			})
		}
	})
	tbsDER, err := tbs.Bytes()
	if err != nil {
		return nil, err
	}
	sig := ed448.Sign(signer, tbsDER, "")
	var cert cryptobyte.Builder
	cert.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		algID(b)
		b.AddASN1BitString(sig)
	})
	return cert.Bytes()
}

// serveEd448 emulates a reference server with an Ed448 leaf on one TCP
// connection: a TLS 1.3 hello (Go's, which cannot offer Ed448) gets a
// fatal handshake_failure alert, as the server has no certificate it can
// use; a TLS 1.2 hello offering Ed448 gets ServerHello and Certificate in
// the clear, then the connection is closed.
func serveEd448(nc net.Conn, chain [][]byte) {
	nc.SetDeadline(time.Now().Add(helloTimeout))
	hello, err := readClientHello(nc)
	if err != nil {
		return
	}
	if !offersEd448(hello) {
		nc.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}) // fatal handshake_failure
		return
	}
	var random [32]byte
	rand.Read(random[:])
	sh := append([]byte{0x03, 0x03}, random[:]...)
	sh = append(sh, 0x00, 0xcc, 0xa9, 0x00, 0x00, 0x00) // no session id, ECDHE_ECDSA_CHACHA20, null compression, no extensions
	var certs []byte
	for _, c := range chain {
		certs = append(certs, u24(len(c))...)
		certs = append(certs, c...)
	}
	certMsg := append(u24(len(certs)), certs...)
	var hs []byte
	hs = append(hs, handshakeMsg(2, sh)...)
	hs = append(hs, handshakeMsg(11, certMsg)...)
	rec := append([]byte{0x16, 0x03, 0x03, byte(len(hs) >> 8), byte(len(hs))}, hs...)
	nc.Write(rec)
}

func u24(n int) []byte { return []byte{byte(n >> 16), byte(n >> 8), byte(n)} }

func handshakeMsg(typ byte, body []byte) []byte {
	return append(append([]byte{typ}, u24(len(body))...), body...)
}

// readClientHello reads the first handshake record's ClientHello body.
func readClientHello(r io.Reader) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	if hdr[0] != 0x16 {
		return nil, errors.New("not a handshake record")
	}
	frag := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(r, frag); err != nil {
		return nil, err
	}
	if len(frag) < 4 || frag[0] != 1 {
		return nil, errors.New("not a ClientHello")
	}
	return frag[4:], nil
}

// offersEd448 reports whether a ClientHello body lists the ed448
// signature scheme (0x0808).
func offersEd448(body []byte) bool {
	s := cryptobyte.String(body)
	var random, sid, suites, comp, exts cryptobyte.String
	var version uint16
	if !s.ReadUint16(&version) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || !s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&comp) || !s.ReadUint16LengthPrefixed(&exts) {
		return false
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return false
		}
		if typ != 0x000d {
			continue
		}
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) {
			return false
		}
		for !list.Empty() {
			var sch uint16
			if !list.ReadUint16(&sch) {
				return false
			}
			if sch == 0x0808 {
				return true
			}
		}
	}
	return false
}
