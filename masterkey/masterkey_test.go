package masterkey

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k := Generate()
	sealed := k.Seal([]byte("server key"), []byte("token-1"))
	if len(sealed) != Overhead+len("server key") {
		t.Errorf("len(Seal) = %d, want %d", len(sealed), Overhead+len("server key"))
	}
	got, err := k.Open(sealed, []byte("token-1"))
	if err != nil || !bytes.Equal(got, []byte("server key")) {
		t.Errorf("Open = %q, %v; want the plaintext", got, err)
	}
	if _, err := k.Open(sealed, []byte("token-2")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with other ad: error = %v, want ErrOpen", err)
	}
	if _, err := Generate().Open(sealed, []byte("token-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with other key: error = %v, want ErrOpen", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed, []byte("token-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open altered: error = %v, want ErrOpen", err)
	}
	if _, err := k.Open(sealed[:5], nil); !errors.Is(err, ErrOpen) {
		t.Errorf("Open short: error = %v, want ErrOpen", err)
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	k1, created, err := LoadOrCreate(path, nil)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate(new) = created %v, %v; want created", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	k2, created, err := LoadOrCreate(path, nil)
	if err != nil || created {
		t.Fatalf("LoadOrCreate(existing) = created %v, %v; want loaded", created, err)
	}
	if _, err := k2.Open(k1.Seal([]byte("x"), nil), nil); err != nil {
		t.Errorf("reloaded key does not open what the first sealed: %v", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	os.WriteFile(open, bytes.Repeat([]byte("ab"), Size), 0o644)
	if _, err := Load(open); err == nil {
		t.Error("Load(world-readable file) succeeded, want an error")
	}
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("abcd\n"), 0o600)
	if _, err := Load(short); err == nil {
		t.Error("Load(short key) succeeded, want an error")
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want ErrNotExist", err)
	}
}

// TestLoadOrCreateEmptyOrRefused covers the key file a crash could leave
// empty, and the caller's refusal to replace a missing key.
func TestLoadOrCreateEmptyOrRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	os.WriteFile(path, nil, 0o600)
	if _, err := Load(path); !errors.Is(err, ErrMissing) {
		t.Errorf("Load(empty) = %v, want ErrMissing", err)
	}
	refusal := errors.New("secrets need the old key")
	if _, _, err := LoadOrCreate(path, func() error { return refusal }); !errors.Is(err, refusal) {
		t.Errorf("LoadOrCreate refused by the caller = %v, want the refusal", err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Error("a refused LoadOrCreate wrote a key")
	}
	k, created, err := LoadOrCreate(path, func() error { return nil })
	if err != nil || !created {
		t.Fatalf("LoadOrCreate(empty file) = created %v, %v; want a new key", created, err)
	}
	if again, err := Load(path); err != nil || again.key != k.key {
		t.Errorf("Load after replacing the empty file = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the key file alone (no temporary file left)", len(entries))
	}
}

// TestLoadOrCreateConcurrently starts several creators at once: all end
// with the one key written.
func TestLoadOrCreateConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	keys := make([]*Key, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, _, err := LoadOrCreate(path, nil)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k == nil || k.key != keys[0].key {
			t.Fatal("concurrent creators ended with different keys")
		}
	}
}
