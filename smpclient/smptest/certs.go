package smptest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
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

// GenerateEd448Certificate returns a fresh chain [leaf, CA] of Ed448
// keys, the pre-2024 smp-server init default that Go's crypto/tls cannot
// talk to; PrivateKey is the leaf's ed448.PrivateKey. The certificates
// are built by hand: crypto/x509 can neither sign with nor encode Ed448
// keys.
func GenerateEd448Certificate() (tls.Certificate, error) {
	caPub, caKey, err := ed448.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	leafPub, leafKey, err := ed448.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	caDER, err := ed448Cert(1, "SMP server CA", "SMP server CA", caPub, caKey, true)
	if err != nil {
		return tls.Certificate{}, err
	}
	leafDER, err := ed448Cert(2, "SMP server CA", "localhost", leafPub, caKey, false)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}, nil
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
