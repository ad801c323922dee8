package ds

// The DS as an external sender (RFC 9420 section 12.1.8.1): when a
// member's queue is rejected, the DS proposes the member's removal itself
// (remove.go). Groups opt in by listing the DS's entry, published per
// cipher suite, in their external_senders extension.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/trystgw/tryst/mls"
)

// SenderIdentity is the basic credential identity of the DS's
// external_senders entries.
const SenderIdentity = "tryst-ds"

// SenderSecretSize is the size of the deployment's signing secret.
const SenderSecretSize = 32

// senderSecretAD binds the sealed secret to its use.
var senderSecretAD = []byte("ds external sender secret")

// SenderKeys are the DS's signature keys, one per cipher suite, derived
// from one deployment-wide secret (mls.CipherSuite.DeriveSigningKey), so
// every instance sharing the secret signs with the same keys. Safe for
// concurrent use.
type SenderKeys struct {
	secret []byte

	mu   sync.Mutex
	keys map[mls.CipherSuite]*mls.SigningKey // guarded by mu
}

// NewSenderKeys returns the keys derived from secret.
func NewSenderKeys(secret []byte) (*SenderKeys, error) {
	if len(secret) != SenderSecretSize {
		return nil, fmt.Errorf("ds: sender secret of %d bytes, want %d", len(secret), SenderSecretSize)
	}
	return &SenderKeys{secret: bytes.Clone(secret), keys: map[mls.CipherSuite]*mls.SigningKey{}}, nil
}

// Key returns the DS's signature key for groups of suite cs.
func (k *SenderKeys) Key(cs mls.CipherSuite) (*mls.SigningKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key := k.keys[cs]; key != nil {
		return key, nil
	}
	key, err := cs.DeriveSigningKey(k.secret)
	if err != nil {
		return nil, err
	}
	k.keys[cs] = key
	return key, nil
}

// ExternalSender returns the entry a group of suite cs lists in its
// external_senders extension so that the DS may propose removals.
func (k *SenderKeys) ExternalSender(cs mls.CipherSuite) (mls.ExternalSender, error) {
	key, err := k.Key(cs)
	if err != nil {
		return mls.ExternalSender{}, err
	}
	return mls.ExternalSender{SignatureKey: key.PublicKey(),
		Credential: mls.Credential{Type: mls.CredentialBasic, Identity: []byte(SenderIdentity)}}, nil
}

// senderIndex returns the DS's index in the group's external_senders
// extension, or false if the group does not list it.
func (k *SenderKeys) senderIndex(gc *mls.GroupContext) (uint32, bool) {
	key, err := k.Key(gc.CipherSuite)
	if err != nil {
		return 0, false
	}
	for _, e := range gc.Extensions {
		if e.Type != mls.ExtensionExternalSenders {
			continue
		}
		senders, err := mls.ParseExternalSenders(e.Data)
		if err != nil {
			return 0, false
		}
		for i, s := range senders {
			if bytes.Equal(s.SignatureKey, key.PublicKey()) {
				return uint32(i), true
			}
		}
	}
	return 0, false
}

// SecretStore keeps the deployment's sealed signing secret.
type SecretStore interface {
	// SenderSecret stores sealed unless a secret is stored already and
	// returns the stored one: of instances racing to create the secret,
	// all get the same.
	SenderSecret(ctx context.Context, sealed []byte) ([]byte, error)
}

// Sealer encrypts secrets at rest; *masterkey.Key is one.
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// LoadSenderKeys returns the deployment's keys, creating its secret at
// random on first use, sealed in store.
func LoadSenderKeys(ctx context.Context, store SecretStore, sealer Sealer) (*SenderKeys, error) {
	secret := make([]byte, SenderSecretSize)
	rand.Read(secret)
	sealed, err := store.SenderSecret(ctx, sealer.Seal(secret, senderSecretAD))
	if err != nil {
		return nil, fmt.Errorf("ds: loading the sender secret: %w", err)
	}
	if secret, err = sealer.Open(sealed, senderSecretAD); err != nil {
		return nil, fmt.Errorf("ds: opening the sender secret (another master key?): %w", err)
	}
	return NewSenderKeys(secret)
}
