package rendezvous

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// ID identifies a session. Its only constructors are ParseID and NewID.
type ID string

// idRandomBytes is the entropy of a new ID: 144 bits, comfortably above the
// 128 the contract requires, and a multiple of 3 so that base64url needs no
// padding (24 characters).
const idRandomBytes = 18

// maxIDLength bounds IDs accepted from clients.
const maxIDLength = 255

// ErrInvalidID is returned by ParseID for an ID that is empty, too long or
// contains characters outside [A-Za-z0-9_-].
var ErrInvalidID = errors.New("rendezvous: invalid id")

// NewID returns a fresh random ID.
func NewID() ID {
	var b [idRandomBytes]byte
	rand.Read(b[:]) // never returns an error (crypto/rand)
	return ID(base64.RawURLEncoding.EncodeToString(b[:]))
}

// ParseID checks that s is a well-formed ID. It does not say whether a
// session with that ID exists.
func ParseID(s string) (ID, error) {
	if s == "" || len(s) > maxIDLength || !urlSafe(s) {
		return "", ErrInvalidID
	}
	return ID(s), nil
}

func (id ID) String() string { return string(id) }

// urlSafe reports whether s consists only of [A-Za-z0-9_-].
func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
