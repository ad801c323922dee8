package qs

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/trystgw/tryst/ntf"
)

// ID names a queue: 16 random bytes, base64url without padding.
type ID string

const idBytes = 16

// NewID returns a fresh random queue id.
func NewID() ID { return ID(base64.RawURLEncoding.EncodeToString(random(idBytes))) }

// ParseID checks that s has the form of a queue id.
func ParseID(s string) (ID, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != idBytes {
		return "", errors.New("not a queue id")
	}
	return ID(s), nil
}

// Secret is a queue's bearer secret: 32 random bytes, base64url.
type Secret string

const secretBytes = 32

// NewSecret returns a fresh random secret.
func NewSecret() Secret { return Secret(base64.RawURLEncoding.EncodeToString(random(secretBytes))) }

// Hash is the stored form of a secret: its SHA-256.
type Hash [sha256.Size]byte

// Hash returns the secret's stored form.
func (s Secret) Hash() Hash { return sha256.Sum256([]byte(s)) }

// Equal compares in constant time.
func (h Hash) Equal(o Hash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return b
}

// Queue is a stored queue.
type Queue struct {
	ID         ID
	SecretHash Hash
	// Token is the linked push token, or "" for none.
	Token ntf.TokenID
	// PushPending is set while a wake-up push was sent and the client has
	// not fetched since.
	PushPending bool
	CreatedAt   time.Time
}

// Message is one queued message.
type Message struct {
	Seq        uint64
	Data       []byte
	ReceivedAt time.Time
}
