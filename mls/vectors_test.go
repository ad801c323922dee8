package mls

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// testVectorDir is where the official MLS interoperability vectors live:
// outside the repository, in shared/ beside the main/ checkout.
const testVectorDir = "../../shared/testdata/mls"

// loadTestVector reads file from the vector directory into v. It fails (never
// skips) when the directory is missing.
func loadTestVector(t testing.TB, file string, v any) {
	t.Helper()
	p := filepath.Join(testVectorDir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		abs, _ := filepath.Abs(testVectorDir)
		t.Fatalf("MLS test vectors not found (%v). They must be at %s (shared/testdata/mls beside the repository checkout); they are not copied into the repo.", err, abs)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
}

// hexBytes is a hex string in the vectors.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil {
		*h = nil
		return nil
	}
	d, err := hex.DecodeString(*s)
	if err != nil {
		return err
	}
	if d == nil {
		d = []byte{}
	}
	*h = d
	return nil
}

func mustSuite(t testing.TB, cs uint16) CipherSuite {
	t.Helper()
	s := CipherSuite(cs)
	if !s.Supported() {
		t.Fatalf("cipher suite %d not supported", cs)
	}
	return s
}

// checkSuitesCovered reports each of the cipher suites 1-7 that a vector file
// did not exercise.
func checkSuitesCovered(t testing.TB, seen map[CipherSuite]bool) {
	t.Helper()
	for cs := CipherSuite(1); cs <= 7; cs++ {
		if !seen[cs] {
			t.Errorf("suite %d not covered", cs)
		}
	}
}
