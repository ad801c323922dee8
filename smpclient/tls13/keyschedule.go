package tls13

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/hkdf"
)

// Cipher suites of the profile (RFC 8446 §B.4).
const (
	TLS_AES_256_GCM_SHA384       uint16 = 0x1302
	TLS_CHACHA20_POLY1305_SHA256 uint16 = 0x1303
)

// VersionTLS13 is the only protocol version this package speaks.
const VersionTLS13 uint16 = 0x0304

// suite is one TLS 1.3 cipher suite: an AEAD and the hash of its key
// schedule.
type suite struct {
	id     uint16
	hash   crypto.Hash
	keyLen int
	aead   func(key []byte) (cipher.AEAD, error)
}

// suites lists the offered suites in order of preference. The reference
// server only speaks ChaCha20; AES-256-GCM serves servers that share
// their port with HTTPS and a wider profile.
var suites = []suite{
	{TLS_CHACHA20_POLY1305_SHA256, crypto.SHA256, chacha20poly1305.KeySize, chacha20poly1305.New},
	{TLS_AES_256_GCM_SHA384, crypto.SHA384, 32, newGCM},
}

// tlsAES128GCMSHA256 is never offered; FinishedCapture needs it to read
// handshakes crypto/tls negotiated.
var tlsAES128GCMSHA256 = suite{0x1301, crypto.SHA256, 16, newGCM}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func suiteByID(id uint16) *suite {
	for i := range suites {
		if suites[i].id == id {
			return &suites[i]
		}
	}
	return nil
}

// CipherSuiteName returns the IANA name of a suite of this package.
func CipherSuiteName(id uint16) string {
	switch id {
	case TLS_AES_256_GCM_SHA384:
		return "TLS_AES_256_GCM_SHA384"
	case TLS_CHACHA20_POLY1305_SHA256:
		return "TLS_CHACHA20_POLY1305_SHA256"
	}
	return "unknown"
}

// newHash returns a constructor for the suite's hash. crypto.Hash.New
// panics for unlinked hashes, so the two used are named directly.
func (s *suite) newHash() hash.Hash {
	if s.hash == crypto.SHA384 {
		return sha512.New384()
	}
	return sha256.New()
}

// keySchedule holds the hash of a suite and the HKDF functions of
// RFC 8446 §7.1 built on it.
type keySchedule struct {
	newHash func() hash.Hash
	size    int
}

func (s *suite) schedule() keySchedule { return keySchedule{s.newHash, s.hash.Size()} }

// extract is HKDF-Extract(salt, ikm).
func (k keySchedule) extract(salt, ikm []byte) []byte {
	if ikm == nil {
		ikm = make([]byte, k.size)
	}
	return hkdf.Extract(k.newHash, ikm, salt)
}

// expandLabel is HKDF-Expand-Label(secret, label, context, n).
func (k keySchedule) expandLabel(secret []byte, label string, context []byte, n int) []byte {
	var b cryptobyte.Builder
	b.AddUint16(uint16(n))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes([]byte("tls13 "))
		b.AddBytes([]byte(label))
	})
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(context) })
	out := make([]byte, n)
	if _, err := hkdf.Expand(k.newHash, secret, b.BytesOrPanic()).Read(out); err != nil {
		panic("tls13: HKDF-Expand of a valid length failed: " + err.Error())
	}
	return out
}

// deriveSecret is Derive-Secret(secret, label, messages), given the hash
// of the messages.
func (k keySchedule) deriveSecret(secret []byte, label string, transcriptHash []byte) []byte {
	return k.expandLabel(secret, label, transcriptHash, k.size)
}

// emptyHash is Transcript-Hash("").
func (k keySchedule) emptyHash() []byte { return k.newHash().Sum(nil) }

// earlyToHandshake returns the handshake secret for the (EC)DHE shared
// secret; without a PSK the early secret is HKDF-Extract(0, 0).
func (k keySchedule) handshakeSecret(shared []byte) []byte {
	early := k.extract(nil, nil)
	return k.extract(k.deriveSecret(early, "derived", k.emptyHash()), shared)
}

// masterSecret follows the handshake secret.
func (k keySchedule) masterSecret(handshake []byte) []byte {
	return k.extract(k.deriveSecret(handshake, "derived", k.emptyHash()), nil)
}

// trafficKey derives the record key and IV of a traffic secret.
func (k keySchedule) trafficKey(secret []byte, keyLen int) (key, iv []byte) {
	return k.expandLabel(secret, "key", nil, keyLen), k.expandLabel(secret, "iv", nil, nonceSize)
}

// finishedMAC is the verify_data of a Finished message: HMAC with the
// "finished" key of baseKey over the transcript hash.
func (k keySchedule) finishedMAC(baseKey, transcriptHash []byte) []byte {
	h := hmac.New(k.newHash, k.expandLabel(baseKey, "finished", nil, k.size))
	h.Write(transcriptHash)
	return h.Sum(nil)
}

// nextTrafficSecret is the KeyUpdate step (RFC 8446 §7.2).
func (k keySchedule) nextTrafficSecret(secret []byte) []byte {
	return k.expandLabel(secret, "traffic upd", nil, k.size)
}
