package smpclient

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	khPadded   = "evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys="
	khUnpadded = "evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys"
)

func TestParseServerAddress(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		hosts     []string
		port      string
		auth      string
		dialAddr  string
		canonical string // String(); "" means the input
	}{
		{name: "padded with port", in: "smp://" + khPadded + "@smp.example.com:5223", hosts: []string{"smp.example.com"}, port: "5223", dialAddr: "smp.example.com:5223"},
		{name: "unpadded, default port", in: "smp://" + khUnpadded + "@smp.example.com", hosts: []string{"smp.example.com"}, dialAddr: "smp.example.com:5223",
			canonical: "smp://" + khPadded + "@smp.example.com"},
		{name: "onion alternative", in: "smp://" + khPadded + "@abcdef.onion,smp4.simplex.im:443", hosts: []string{"abcdef.onion", "smp4.simplex.im"}, port: "443", dialAddr: "smp4.simplex.im:443"},
		{name: "only onion", in: "smp://" + khPadded + "@abcdef.onion", hosts: []string{"abcdef.onion"}, dialAddr: "abcdef.onion:5223"},
		{name: "ipv4", in: "smp://" + khPadded + "@127.0.0.1:5001", hosts: []string{"127.0.0.1"}, port: "5001", dialAddr: "127.0.0.1:5001"},
		{name: "bracketed ipv6 with port", in: "smp://" + khPadded + "@[::1]:5001", hosts: []string{"[::1]"}, port: "5001", dialAddr: "[::1]:5001"},
		{name: "bare ipv6", in: "smp://" + khPadded + "@2001:db8::1", hosts: []string{"2001:db8::1"}, dialAddr: "[2001:db8::1]:5223"},
		{name: "basic auth", in: "smp://" + khPadded + ":secret@smp.example.com", hosts: []string{"smp.example.com"}, auth: "secret", dialAddr: "smp.example.com:5223"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseServerAddress(tt.in)
			if err != nil {
				t.Fatalf("ParseServerAddress(%q): %v", tt.in, err)
			}
			if a.KeyHash.String() != khPadded {
				t.Errorf("KeyHash = %s", a.KeyHash)
			}
			if diff := cmp.Diff(tt.hosts, a.Hosts); diff != "" {
				t.Errorf("Hosts (-want +got):\n%s", diff)
			}
			if a.Port != tt.port || a.BasicAuth != tt.auth || a.DialAddr() != tt.dialAddr {
				t.Errorf("Port %q BasicAuth %q DialAddr %q, want %q %q %q", a.Port, a.BasicAuth, a.DialAddr(), tt.port, tt.auth, tt.dialAddr)
			}
			want := tt.canonical
			if want == "" {
				want = tt.in
			}
			if a.String() != want {
				t.Errorf("String() = %s, want %s", a, want)
			}
		})
	}
}

func TestParseServerAddressErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"https://" + khPadded + "@host",
		"smp://" + khPadded,
		"smp://short@host",
		"smp://" + khPadded + "@",
		"smp://" + khPadded + "@host:",
		"smp://" + khPadded + "@host:99999",
		"smp://" + khPadded + "@host:port",
		"smp://" + khPadded + "@a,,b",
		"smp://" + khPadded + "@[::1",
		"smp://" + khPadded + "@ho st",
		"smp://" + khPadded + ":@host",
		"smp://" + khPadded + "@host/queue",
	} {
		if a, err := ParseServerAddress(in); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseServerAddress(%q) = %+v, %v; want ErrBadAddress", in, a, err)
		}
	}
}

func TestPad(t *testing.T) {
	p, err := Pad([]byte("ab"), 6)
	if err != nil || string(p) != "\x00\x02ab##" {
		t.Errorf("Pad = %q, %v", p, err)
	}
	if _, err := Pad(make([]byte, 5), 6); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Pad(too long) error = %v", err)
	}
	if _, err := Unpad([]byte{0, 9, 'a'}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Unpad(short) error = %v", err)
	}
}

func TestBatchLimits(t *testing.T) {
	// 255 transmissions is the cap even when they are tiny.
	ts := make([][]byte, 256)
	for i := range ts {
		ts[i] = []byte{0}
	}
	if _, err := EncodeBatch(ts[:255]...); err != nil {
		t.Errorf("EncodeBatch(255) = %v", err)
	}
	if _, err := EncodeBatch(ts...); !errors.Is(err, ErrTooLarge) {
		t.Errorf("EncodeBatch(256) = %v, want ErrTooLarge", err)
	}
	// The byte budget: 134 Ed25519 NSUBs of 120 bytes fit, 135 do not.
	nsub := make([]byte, 120)
	var w batchWriter
	w.reset()
	for w.fits(len(nsub)) {
		w.add(nsub)
	}
	if w.count != 134 {
		t.Errorf("%d NSUBs fit one block, want 134", w.count)
	}
	if _, err := ParseBatch([]byte{2, 0, 1, 'x'}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseBatch(truncated) = %v", err)
	}
	if _, err := ParseBatch([]byte{1, 0, 1, 'x', 'y'}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseBatch(trailing bytes) = %v", err)
	}
}

func TestServerErrorCodes(t *testing.T) {
	tests := []struct {
		wire   string
		target error
	}{
		{"BLOCK", ErrBlock}, {"SESSION", ErrSession}, {"CMD SYNTAX", ErrCmdSyntax}, {"CMD NO_QUEUE", ErrCmdNoEntity},
		{"CMD UNKNOWN", ErrCmdUnknown}, {"CMD PROHIBITED", ErrCmdProhibited}, {"CMD NO_AUTH", ErrCmdNoAuth},
		{"CMD HAS_AUTH", ErrCmdHasAuth}, {"PROXY BROKER TIMEOUT", ErrProxy}, {"AUTH", ErrAuth},
		{"BLOCKED reason=spam,notice={\"x\":1}", ErrBlocked}, {"SERVICE", ErrService}, {"CRYPTO", ErrCrypto},
		{"QUOTA", ErrQuota}, {"STORE io error", ErrStore}, {"NO_MSG", ErrNoMsg}, {"LARGE_MSG", ErrLargeMsg},
		{"EXPIRED", ErrExpired}, {"INTERNAL", ErrInternal}, {"DUPLICATE_", ErrDuplicate},
	}
	for _, tt := range tests {
		e, err := ParseServerError([]byte(tt.wire))
		if err != nil {
			t.Errorf("ParseServerError(%q): %v", tt.wire, err)
			continue
		}
		if !errors.Is(e, tt.target) || IsTemporary(e) {
			t.Errorf("ParseServerError(%q) = %v, does not match %v or is temporary", tt.wire, e, tt.target)
		}
	}
	e, _ := ParseServerError([]byte("BLOCKED reason=spam,notice={\"x\":1}"))
	if e.Blocked == nil || e.Blocked.Reason != "spam" || e.Blocked.Notice != `{"x":1}` {
		t.Errorf("BLOCKED info = %+v", e.Blocked)
	}
	if errors.Is(&ServerError{Code: CodeCmd, Cmd: CmdSyntax}, ErrCmdUnknown) {
		t.Errorf("CMD SYNTAX matches ErrCmdUnknown")
	}
	if e, err := ParseServerError([]byte("FUTURE_CODE x")); err != nil || e.Code != "FUTURE_CODE" || e.Detail != "x" {
		t.Errorf("unknown code = %+v, %v; want it kept", e, err)
	}
}

func TestChainRules(t *testing.T) {
	ed448CA := fixtureDER(t, "ca.crt")
	leaf, ca := fixtureDER(t, "ed25519/server.crt"), fixtureDER(t, "ed25519/ca.crt")
	now := mustTime(t, "2030-01-01T00:00:00Z")
	if _, err := verifyChain([][]byte{ca}, KeyHashOf(ca), now, false); err == nil {
		t.Errorf("a single self-signed certificate was accepted")
	}
	if _, err := verifyChain([][]byte{leaf, ca, ca, ca, ca}, KeyHashOf(ca), now, false); err == nil {
		t.Errorf("a chain of 5 was accepted")
	}
	// 4-chain [leaf, identity, intermediate, anchor]: identity is chain[1].
	if ch, err := verifyChain([][]byte{leaf, ca, ca, ca}, KeyHashOf(ca), now, false); err != nil || ch.Certs[3].Role != "anchor" {
		t.Errorf("4-chain: %v", err)
	}
	var khe *KeyHashError
	if _, err := verifyChain([][]byte{leaf, ca}, KeyHashOf(leaf), now, false); !errors.As(err, &khe) {
		t.Errorf("key hash of the leaf accepted: %v", err)
	}
	// An Ed448 identity (CA) is fine for hashing and its self-signature verifies with circl.
	// So is an Ed448 leaf: smpclient/tls13 verifies its handshake signature.
	ch, err := verifyChain([][]byte{ed448CA, ed448CA}, KeyHashOf(ed448CA), now, false)
	if err != nil || ch.Certs[0].KeyType != "Ed448" || ch.Certs[1].KeyType != "Ed448" || !ch.PathValidated {
		t.Errorf("Ed448 chain: %v (chain %+v)", err, ch)
	}
	c448, info448, _ := describeCert(ed448CA, "identity")
	if err := checkSignedBy(c448, c448, info448); err != nil {
		t.Errorf("Ed448 self-signature: %v", err)
	}
	// Validity: the fixtures were issued in 2026.
	if _, err := verifyChain([][]byte{leaf, ca}, KeyHashOf(ca), mustTime(t, "2020-01-01T00:00:00Z"), false); err == nil {
		t.Errorf("a not-yet-valid chain was accepted")
	}
	// Signature: a leaf not issued by the identity.
	if _, err := verifyChain([][]byte{leaf, ed448CA}, KeyHashOf(ed448CA), now, false); err == nil {
		t.Errorf("a leaf not signed by the identity was accepted")
	}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
