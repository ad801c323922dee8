package mls

// TEST-ONLY: HPKE decryption (DecryptWithLabel). A Delivery Service never
// holds HPKE private keys; this exists to check EncryptWithLabel against the
// vectors and to open Welcome messages in the passive-client tests.

import (
	"crypto/hpke"

	circlhpke "github.com/cloudflare/circl/hpke"
)

func testDecryptWithLabel(cs CipherSuite, priv []byte, label string, context, kemOutput, ciphertext []byte) ([]byte, error) {
	p := cs.mustParams()
	info := encryptContext(label, context)
	if p.kem == kemX448 {
		s := circlhpke.NewSuite(circlhpke.KEM(p.kem), circlhpke.KDF(p.kdf), circlhpke.AEAD(p.aead))
		sk, err := circlhpke.KEM(p.kem).Scheme().UnmarshalBinaryPrivateKey(priv)
		if err != nil {
			return nil, err
		}
		rcv, err := s.NewReceiver(sk, info)
		if err != nil {
			return nil, err
		}
		opener, err := rcv.Setup(kemOutput)
		if err != nil {
			return nil, err
		}
		return opener.Open(ciphertext, nil)
	}
	kem, kdf, aead, err := p.stdHPKE()
	if err != nil {
		return nil, err
	}
	// ECDH scalars in the vectors may have their leading zero bytes
	// stripped; Go wants the fixed-size encoding.
	if n := map[uint16]int{kemP256: 32, kemP384: 48, kemP521: 66}[p.kem]; n > len(priv) {
		priv = append(make([]byte, n-len(priv)), priv...)
	}
	sk, err := kem.NewPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	rcv, err := hpke.NewRecipient(kemOutput, sk, kdf, aead, info)
	if err != nil {
		return nil, err
	}
	return rcv.Open(nil, ciphertext)
}
