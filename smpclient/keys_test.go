package smpclient

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"testing"
)

// TestKeyPairRoundTrip: a stored key pair restores a key that signs and
// publishes as the original; the form is RFC 5958's (crypto/x509 reads it) and
// plain PKCS#8 keys still parse; the network parser refuses it.
func TestKeyPairRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{Ed25519, Ed448, X25519} {
		k, err := GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		for _, der := range [][]byte{k.MarshalKeyPair(), k.MarshalPKCS8()} {
			got, err := ParseKeyPair(der)
			if err != nil {
				t.Fatalf("%v: ParseKeyPair(%x) = %v", alg, der, err)
			}
			if !bytes.Equal(got.MarshalPKCS8(), k.MarshalPKCS8()) || !bytes.Equal(got.Public().MarshalSPKI(), k.Public().MarshalSPKI()) {
				t.Errorf("%v: the restored key differs", alg)
			}
			if alg != X25519 {
				a, _ := k.appendAuth(nil, []byte("msg"), nil, nil)
				b, _ := got.appendAuth(nil, []byte("msg"), nil, nil)
				if !bytes.Equal(a, b) {
					t.Errorf("%v: the restored key signs differently", alg)
				}
			}
		}
		if alg != X25519 {
			if _, err := ParsePrivateKey(k.MarshalKeyPair()); err == nil {
				t.Errorf("%v: ParsePrivateKey accepted a stored key pair", alg)
			}
			checkStandardReader(t, k.MarshalKeyPair(), k)
		}
	}
	if _, err := ParseKeyPair(make([]byte, 83)); err == nil {
		t.Error("ParseKeyPair accepted 83 zero bytes")
	}
}

// checkStandardReader has crypto/x509, an independent RFC 5958 reader,
// parse an Ed25519 key pair (it knows no Ed448) and compares the public
// key it holds.
func checkStandardReader(t *testing.T, der []byte, k *PrivateKey) {
	t.Helper()
	if k.Algorithm() != Ed25519 {
		return
	}
	got, err := x509.ParsePKCS8PrivateKey(der)
	priv, ok := got.(ed25519.PrivateKey)
	if err != nil || !ok || !bytes.Equal(priv, k.ed25519) {
		t.Errorf("crypto/x509 read the key pair as %T %v", got, err)
	}
}
