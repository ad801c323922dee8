package rendezvous

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"time"
)

// Session is one mailbox: the payload last written and its metadata.
type Session struct {
	ID          ID
	Payload     []byte
	ContentType string
	// Salt is random per session and Counter counts its writes (1 after
	// creation); together they form the version token.
	Salt     string
	Counter  uint64
	Created  time.Time
	Modified time.Time
	Expires  time.Time
}

// saltBytes gives 64 random bits per session: version tokens of different
// sessions never collide in practice, and a token reveals nothing.
const saltBytes = 8

// newSalt returns a random URL-safe salt.
func newSalt() string {
	var b [saltBytes]byte
	rand.Read(b[:]) // never returns an error (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Size is what the session stores beyond its fixed fields: payload and
// content type, together at most Config.MaxBytes plus MaxContentType.
func (s Session) Size() int { return len(s.Payload) + len(s.ContentType) }

// Version returns the session's current version token. It is URL-safe and
// changes on every write.
func (s Session) Version() string { return FormatVersion(s.Salt, s.Counter) }

// PreviousVersion returns the version the last write replaced, or "" when
// the session has not been written since its creation.
func (s Session) PreviousVersion() string {
	if s.Counter <= 1 {
		return ""
	}
	return FormatVersion(s.Salt, s.Counter-1)
}

// FormatVersion builds a version token from a salt and a write counter.
// Stores that compute versions themselves (in a script, say) must produce
// exactly this form.
func FormatVersion(salt string, counter uint64) string {
	return salt + "-" + strconv.FormatUint(counter, 10)
}

// ExpiresIn returns how long the session has left at now, never negative.
func (s Session) ExpiresIn(now time.Time) time.Duration {
	return max(s.Expires.Sub(now), 0)
}

// Write is a compare-and-swap update of a session's payload.
type Write struct {
	ID          ID
	Payload     []byte
	ContentType string
	// IfMatch is the version the writer believes current; "" writes
	// unconditionally.
	IfMatch string
	// Now is the time of the write, recorded as the session's Modified time.
	Now time.Time
	// Expires, when not zero, replaces the session's expiry (sliding TTL).
	Expires time.Time
}

// isRetryOf reports whether w repeats the write that produced s: it names
// the version that write replaced and carries the same bytes. A client whose
// response was lost retries that way, and must not be told it conflicted.
func (w Write) isRetryOf(s Session) bool {
	return w.IfMatch != "" && w.IfMatch == s.PreviousVersion() &&
		w.ContentType == s.ContentType && string(w.Payload) == string(s.Payload)
}

// Apply decides the outcome of w against the current session s, for stores
// that hold sessions in memory: the updated session and nil, s unchanged and
// nil for a retried write, or s and ErrConflict. Stores that decide inside
// the database (a script) must implement the same rules.
func (w Write) Apply(s Session) (Session, error) {
	switch {
	case w.IfMatch == "" || w.IfMatch == s.Version():
		s.Payload = w.Payload
		s.ContentType = w.ContentType
		s.Counter++
		s.Modified = w.Now
		if !w.Expires.IsZero() {
			s.Expires = w.Expires
		}
		return s, nil
	case w.isRetryOf(s):
		return s, nil
	}
	return s, ErrConflict
}
