package ntf

import (
	"bytes"
	"testing"

	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/smpclient"
)

// TestStoredKeyForms: keys sealed as key pairs (now) and as plain PKCS#8
// (before) both open to the key and both match it on an idempotent retry;
// another key matches neither.
func TestStoredKeyForms(t *testing.T) {
	mk := masterkey.Generate()
	ref := QueueRef{Server: "smp://k@h", NotifierID: []byte("n1")}
	key, _ := smpclient.GenerateKey(smpclient.Ed25519)
	other, _ := smpclient.GenerateKey(smpclient.Ed25519)
	for name, sealed := range map[string][]byte{
		"key pair":    SealNotifierKey(mk, ref, key),
		"plain PKCS8": mk.Seal(key.MarshalPKCS8(), ref.sealAD()),
	} {
		got, err := openKey(mk, ref, sealed)
		if err != nil || !bytes.Equal(got.MarshalKeyPair(), key.MarshalKeyPair()) {
			t.Errorf("%s: openKey = %v; want the key", name, err)
		}
		if !sameKey(mk, ref, sealed, key) || sameKey(mk, ref, sealed, other) {
			t.Errorf("%s: sameKey does not tell the key from another", name)
		}
	}
}
