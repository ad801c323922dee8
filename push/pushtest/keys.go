package pushtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"time"
)

// APNsToken returns a valid 64-hex-digit APNs device token derived from
// seed (the same seed gives the same token).
func APNsToken(seed string) string {
	h := sha256.Sum256([]byte("apns:" + seed))
	return hex.EncodeToString(h[:])
}

// FCMToken returns a plausible FCM registration token derived from seed.
func FCMToken(seed string) string {
	h1 := sha256.Sum256([]byte("fcm1:" + seed))
	h2 := sha256.Sum256([]byte("fcm2:" + seed))
	h3 := sha256.Sum256([]byte("fcm3:" + seed))
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h1[:16]) + ":APA91b" + enc.EncodeToString(h2[:]) + enc.EncodeToString(h3[:]) + enc.EncodeToString(h1[16:])
}

// NewAPNsKey returns a new P-256 signing key like Apple's .p8 keys.
func NewAPNsKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// KeyPEM encodes a private key as PKCS#8 PEM (the .p8 format).
func KeyPEM(k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// NewClientCertificate returns a self-signed client certificate shaped
// like an APNs provider certificate for topic, valid from notBefore to
// notAfter (zero values: one hour ago to a year from now).
func NewClientCertificate(topic string, notBefore, notAfter time.Time) tls.Certificate {
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	key := NewAPNsKey() // ECDSA: quick to make; APNs cares about the certificate, not the key type
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Apple Push Services: " + topic, OrganizationalUnit: []string{"TEAM123456"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// CertificatePEM encodes a certificate and its private key as one PEM
// file (the form LoadCertificate accepts besides .p12).
func CertificatePEM(c tls.Certificate) []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	return append(out, KeyPEM(c.PrivateKey)...)
}
