// Package masterkey holds the gateway's master key, the one key that
// protects secrets at rest (per-token server keys, SMP notifier keys). It
// seals and opens small values with XChaCha20-Poly1305, binding each to
// its owner through associated data, so a sealed value copied to another
// row does not open there.
//
// The key lives in a file of 64 hex digits. It depends on nothing but the
// standard library and golang.org/x/crypto.
package masterkey

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// Size is the length of a master key in bytes (256 bits).
const Size = chacha20poly1305.KeySize

// ErrMissing is returned by Load when the key file does not exist or is
// empty; errors.Is also matches os.ErrNotExist for a file that does not
// exist.
var ErrMissing = errors.New("masterkey: key file missing or empty")

// ErrOpen is returned when a sealed value does not open: it was sealed
// with another key or other associated data, or it was altered.
var ErrOpen = errors.New("masterkey: sealed value does not open")

// Key seals and opens values. It is safe for concurrent use.
type Key struct {
	key  [Size]byte
	aead cipher.AEAD // XChaCha20-Poly1305 under key, made once
}

// New returns a Key over the given 32 bytes.
func New(b []byte) (*Key, error) {
	if len(b) != Size {
		return nil, fmt.Errorf("masterkey: key must be %d bytes, got %d", Size, len(b))
	}
	return newKey([Size]byte(b)), nil
}

// Generate returns a new random Key.
func Generate() *Key {
	var b [Size]byte
	rand.Read(b[:]) // never fails: crypto/rand panics rather than return an error
	return newKey(b)
}

func newKey(b [Size]byte) *Key {
	aead, err := chacha20poly1305.NewX(b[:])
	if err != nil {
		panic(err) // only for a wrong key size, which b cannot have
	}
	return &Key{key: b, aead: aead}
}

// Load reads the key file at path: 64 hex digits, surrounding white space
// ignored. A file readable by others than its owner is refused; a missing
// or empty one is an error wrapping ErrMissing.
func Load(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", ErrMissing, err)
		}
		return nil, fmt.Errorf("masterkey: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("masterkey: %s is accessible to group or others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("masterkey: %w", err)
	}
	text := strings.TrimSpace(string(b))
	if text == "" {
		return nil, fmt.Errorf("%w: %s", ErrMissing, path)
	}
	raw, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("masterkey: %s: want %d hex digits", path, 2*Size)
	}
	return New(raw)
}

// LoadOrCreate loads the key file at path or, when it is missing or empty
// and mayCreate (if not nil) returns nil, generates a key and writes it
// there with mode 0600 (creating the directory with mode 0700). mayCreate
// is where the caller refuses to replace a key that secrets at rest
// still need. created reports whether a key was written.
//
// The key is written whole to a temporary file, synced, then linked into
// place, so a crash never leaves a partial key file, and of several
// processes starting together one writes and the others load its key.
func LoadOrCreate(path string, mayCreate func() error) (k *Key, created bool, err error) {
	k, err = Load(path)
	if err == nil || !errors.Is(err, ErrMissing) {
		return k, false, err
	}
	if mayCreate != nil {
		if err := mayCreate(); err != nil {
			return nil, false, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("masterkey: %w", err)
	}
	k = Generate()
	if err := writeNew(path, []byte(hex.EncodeToString(k.key[:])+"\n")); errors.Is(err, os.ErrExist) {
		k, err = Load(path)
		return k, false, err
	} else if err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// writeNew puts data at path unless another file got there first (an
// error wrapping os.ErrExist then). An empty file left at path by an
// older version's crash is replaced.
func writeNew(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("masterkey: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("masterkey: writing %s: %w", tmp.Name(), err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		os.Remove(path)
	}
	// A link, unlike a rename, never replaces a key another process
	// has just put in place.
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("masterkey: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("masterkey: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("masterkey: syncing %s: %w", dir, err)
	}
	return nil
}

// Overhead is how many bytes Seal adds to a plaintext.
const Overhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// Seal encrypts plaintext bound to ad (the owner's id, say) under a fresh
// random nonce. The result is nonce || ciphertext || tag.
func (k *Key) Seal(plaintext, ad []byte) []byte {
	out := make([]byte, chacha20poly1305.NonceSizeX, Overhead+len(plaintext))
	rand.Read(out)
	return k.aead.Seal(out, out, plaintext, ad)
}

// Open decrypts a value made by Seal with the same ad. It returns ErrOpen
// when the value is damaged or belongs to another key or ad.
func (k *Key) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrOpen
	}
	nonce, ct := sealed[:chacha20poly1305.NonceSizeX], sealed[chacha20poly1305.NonceSizeX:]
	pt, err := k.aead.Open(nil, nonce, ct, ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
