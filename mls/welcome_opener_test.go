package mls

// TEST-ONLY Welcome opener. A Delivery Service never opens Welcome messages:
// it has neither init private keys nor the key schedule. The passive-client
// vectors carry the group's tree inside the encrypted GroupInfo, so the tests
// open the Welcome here to seed the DS's public state (HPKE-decrypt the
// GroupSecrets with init_priv, joiner_secret + PSKs -> member secret ->
// welcome_secret -> AEAD-open the GroupInfo).

import (
	"bytes"
	"crypto/cipher"
	"fmt"

	circlhpke "github.com/cloudflare/circl/hpke"
)

type openedWelcome struct {
	groupInfo          *GroupInfo
	groupSecrets       *GroupSecrets
	epochAuthenticator []byte
}

func testAEAD(cs CipherSuite, key []byte) (cipher.AEAD, error) {
	return circlhpke.AEAD(cs.mustParams().aead).New(key)
}

// testPSKSecret computes psk_secret (RFC 9420 8.4) for external PSKs.
func testPSKSecret(cs CipherSuite, ids []PreSharedKeyID, external map[string][]byte) ([]byte, error) {
	nh := cs.HashSize()
	secret := make([]byte, nh)
	for i := range ids {
		if ids[i].Type != PSKExternal {
			return nil, fmt.Errorf("resumption PSK in Welcome not supported by the test opener")
		}
		psk, ok := external[string(ids[i].PSKID)]
		if !ok {
			return nil, fmt.Errorf("unknown external PSK %x", ids[i].PSKID)
		}
		extracted := cs.Extract(make([]byte, nh), psk)
		var w writer
		ids[i].encode(&w)
		w.u16(uint16(i))
		w.u16(uint16(len(ids)))
		input, err := cs.ExpandWithLabel(extracted, "derived psk", w.buf, nh)
		if err != nil {
			return nil, err
		}
		secret = cs.Extract(input, secret)
	}
	return secret, nil
}

func testOpenWelcome(w *Welcome, kp *KeyPackage, initPriv []byte, externalPSKs map[string][]byte) (*openedWelcome, error) {
	cs := w.CipherSuite
	ref, err := kp.Ref()
	if err != nil {
		return nil, err
	}
	egs := w.Find(ref)
	if egs == nil {
		return nil, fmt.Errorf("welcome has no secrets for this key package")
	}
	pt, err := testDecryptWithLabel(cs, initPriv, "Welcome", w.EncryptedGroupInfo, egs.EncryptedGroupSecrets.KEMOutput, egs.EncryptedGroupSecrets.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("decrypt group secrets: %w", err)
	}
	gs, err := DecodeGroupSecrets(pt)
	if err != nil {
		return nil, err
	}
	pskSecret, err := testPSKSecret(cs, gs.PSKs, externalPSKs)
	if err != nil {
		return nil, err
	}
	member := cs.Extract(gs.JoinerSecret, pskSecret)
	welcomeSecret, err := cs.DeriveSecret(member, "welcome")
	if err != nil {
		return nil, err
	}
	key, _ := cs.ExpandWithLabel(welcomeSecret, "key", nil, cs.AEADKeySize())
	nonce, _ := cs.ExpandWithLabel(welcomeSecret, "nonce", nil, cs.AEADNonceSize())
	aead, err := testAEAD(cs, key)
	if err != nil {
		return nil, err
	}
	giBytes, err := aead.Open(nil, nonce, w.EncryptedGroupInfo, nil)
	if err != nil {
		return nil, fmt.Errorf("open GroupInfo: %w", err)
	}
	gi, err := DecodeGroupInfo(giBytes)
	if err != nil {
		return nil, err
	}
	epochSecret, err := cs.ExpandWithLabel(member, "epoch", gi.GroupContext.Marshal(), cs.HashSize())
	if err != nil {
		return nil, err
	}
	auth, err := cs.DeriveSecret(epochSecret, "authentication")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(gi.Marshal(), giBytes) {
		return nil, fmt.Errorf("GroupInfo re-encoding differs")
	}
	return &openedWelcome{groupInfo: gi, groupSecrets: gs, epochAuthenticator: auth}, nil
}
