package ntf

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/trystgw/tryst/push"
)

// Token is one app installation's push address and its state.
type Token struct {
	ID          TokenID
	Platform    push.Platform
	App         AppID
	Environment push.Environment
	DeviceToken push.DeviceToken
	// DHKey is the app's X25519 public key: verification codes (and later
	// notifications) are encrypted to it.
	DHKey DHKey
	// ServerPublicKey is this token's server X25519 public key, given to
	// the app at registration.
	ServerPublicKey DHKey
	// ServerKeySealed is the matching private key, sealed with the master
	// key and the token id as associated data.
	ServerKeySealed []byte
	// SecretHash is the SHA-256 of the bearer secret.
	SecretHash Hash
	// CodeHash is the SHA-256 of the current verification code.
	CodeHash Hash
	// FailedAttempts counts wrong codes since the current code was sent.
	FailedAttempts int
	Status         Status
	// InvalidReason is set when Status is StatusInvalid.
	InvalidReason push.Reason
	// CheckInterval is the period of background "check messages" pushes;
	// zero means none.
	CheckInterval time.Duration
	// NextCheckAt is when the next periodic push is due. It is zero unless
	// the token is active with a CheckInterval: the scheduler only looks
	// at tokens where it is set.
	NextCheckAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Status is where a token stands in its verification.
type Status string

// The statuses.
const (
	StatusRegistered Status = "registered" // stored, verification push sent
	StatusConfirmed  Status = "confirmed"  // the provider accepted the verification push
	StatusActive     Status = "active"     // the app echoed the code: pushes flow
	StatusInvalid    Status = "invalid"    // the provider declared the device token dead
)

// ParseStatus parses a stored status.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusRegistered, StatusConfirmed, StatusActive, StatusInvalid:
		return st, nil
	}
	return "", fmt.Errorf("unknown token status %q", s)
}

// TokenID identifies a token: 16 random bytes, base64url without padding
// (22 characters).
type TokenID string

const tokenIDBytes = 16

// NewTokenID returns a fresh random id.
func NewTokenID() TokenID {
	return TokenID(base64.RawURLEncoding.EncodeToString(randomBytes(tokenIDBytes)))
}

// ParseTokenID checks that s has the form of a token id.
func ParseTokenID(s string) (TokenID, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tokenIDBytes {
		return "", errors.New("not a token id")
	}
	return TokenID(s), nil
}

// AppID is the app a token belongs to: the id its push credentials are
// configured under (an APNs bundle id, an FCM app name).
type AppID string

// maxAppIDLen matches the push configuration's limit on app ids.
const maxAppIDLen = 64

// ParseAppID checks s is 1 to 64 characters from [A-Za-z0-9._-].
func ParseAppID(s string) (AppID, error) {
	if s == "" || len(s) > maxAppIDLen {
		return "", fmt.Errorf("must be 1 to %d characters", maxAppIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return "", errors.New("may only hold A-Z a-z 0-9 . _ -")
		}
	}
	return AppID(s), nil
}

// DHKey is an X25519 public key.
type DHKey [32]byte

// ParseDHKey decodes a base64url X25519 public key (padding optional).
func ParseDHKey(s string) (DHKey, error) {
	var k DHKey
	if err := decodeFixed(k[:], s); err != nil {
		return k, err
	}
	if k == (DHKey{}) {
		return k, errors.New("must not be all zeros")
	}
	// A low-order point gives every server key the all-zero shared
	// secret, so whatever is sealed to it could be opened by anyone.
	// Multiplying by any scalar tells: X25519 refuses a zero result.
	if _, err := curve25519.X25519(lowOrderProbe[:], k[:]); err != nil {
		return k, errors.New("is a low-order point")
	}
	return k, nil
}

// lowOrderProbe is a scalar to multiply a public key by; after clamping
// it is a multiple of the cofactor, which takes every low-order point to
// zero.
var lowOrderProbe = [32]byte{1: 1}

// String returns the key in base64url without padding.
func (k DHKey) String() string { return base64.RawURLEncoding.EncodeToString(k[:]) }

// DecodeBase64URL decodes base64url with or without padding, the form
// every binary field of the API takes.
func DecodeBase64URL(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, errors.New("must be base64url")
	}
	return b, nil
}

// decodeFixed decodes base64url s (padding optional) into dst, which it
// must fill exactly.
func decodeFixed(dst []byte, s string) error {
	b, err := DecodeBase64URL(s)
	if err != nil {
		return err
	}
	if len(b) != len(dst) {
		return fmt.Errorf("must be %d bytes, got %d", len(dst), len(b))
	}
	copy(dst, b)
	return nil
}

// Hash is a SHA-256 digest of a secret or a code.
type Hash [sha256.Size]byte

// hashOf returns the SHA-256 of b. Secrets and codes are 256 random bits,
// so a plain hash is as strong as a slow one.
func hashOf(b []byte) Hash { return sha256.Sum256(b) }

// equal compares in constant time.
func (h Hash) equal(o Hash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// Secret is a token's bearer secret: 32 random bytes, base64url.
type Secret string

const secretBytes = 32

// NewSecret returns a fresh random secret.
func NewSecret() Secret {
	return Secret(base64.RawURLEncoding.EncodeToString(randomBytes(secretBytes)))
}

// Hash returns the secret's stored form.
func (s Secret) Hash() Hash { return hashOf([]byte(s)) }

// Code is a verification code: 32 random bytes.
type Code [32]byte

// ParseCode decodes a base64url code (padding optional).
func ParseCode(s string) (Code, error) {
	var c Code
	err := decodeFixed(c[:], s)
	return c, err
}

// Hash returns the code's stored form.
func (c Code) Hash() Hash { return hashOf(c[:]) }

// Check intervals: a device is woken at most every MinCheckInterval (the
// platforms throttle background pushes more often than that) and at
// least every MaxCheckInterval when checks are on.
const (
	MinCheckInterval = 20 * time.Minute
	MaxCheckInterval = 7 * 24 * time.Hour
)

// ParseCheckInterval turns a number of minutes into an interval: 0 (off)
// or MinCheckInterval to MaxCheckInterval.
func ParseCheckInterval(minutes int) (time.Duration, error) {
	// The range is checked on the minutes as given: multiplied first, a
	// huge count would wrap around into the range.
	lo, hi := int(MinCheckInterval/time.Minute), int(MaxCheckInterval/time.Minute)
	switch {
	case minutes == 0:
		return 0, nil
	case minutes < lo || minutes > hi:
		return 0, fmt.Errorf("must be 0 or %d to %d", lo, hi)
	}
	return time.Duration(minutes) * time.Minute, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return b
}
