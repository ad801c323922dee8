package smpclient

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testdataDir is shared/testdata/smp, relative to this package directory
// (CI clones the repository with shared/ beside it).
const testdataDir = "../../shared/testdata/smp"

// vector is one entry of vectors.json.
type vector struct {
	Name   string            `json:"name"`
	Notes  string            `json:"notes"`
	Values map[string]string `json:"values"`
}

// loadVectors reads vectors.json, failing with a clear message if the
// shared test data is missing.
func loadVectors(t testing.TB) map[string]vector {
	t.Helper()
	path := filepath.Join(testdataDir, "vectors.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("SMP test vectors not found: %v (they live in shared/testdata/smp; clone shared/ beside the repository so that %s exists)", err, path)
	}
	var list []vector
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	m := make(map[string]vector, len(list))
	for _, v := range list {
		m[v.Name] = v
	}
	return m
}

// fixtureDER reads a PEM fixture certificate as DER.
func fixtureDER(t testing.TB, name string) []byte {
	t.Helper()
	path := filepath.Join(testdataDir, "fixtures", name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("SMP fixture not found: %v (clone shared/ beside the repository)", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	return blk.Bytes
}

// fixtureLeafKey returns the Ed25519 key of fixtures/ed25519/server.key.
func fixtureLeafKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	der := fixtureDER(t, "ed25519/server.key")
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("server.key: %v", err)
	}
	return k.(ed25519.PrivateKey)
}

// seq returns the bytes start, start+1, ..., end (the notation start..end
// of the vector notes).
func seq(start, end byte) []byte {
	var b []byte
	for i := int(start); i <= int(end); i++ {
		b = append(b, byte(i))
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vector: %v", err)
	}
	return b
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func wantHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if g := hex.EncodeToString(got); g != want {
		t.Errorf("%s =\n  %s\nwant\n  %s", what, g, want)
	}
}

func wantInt(t *testing.T, what string, got int, want string) {
	t.Helper()
	if strconv.Itoa(got) != want {
		t.Errorf("%s = %d, want %s", what, got, want)
	}
}

func padTo(t testing.TB, b []byte, n int) []byte {
	t.Helper()
	p, err := Pad(b, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// vectorClient is a Client with just the state appendNSUB needs.
func vectorClient(v uint16, serverKey []byte) *Client {
	c := &Client{version: v, sessionID: seq(0x00, 0x1f)}
	copy(c.serverKey[:], serverKey)
	return c
}

func x25519Pub(t testing.TB, priv []byte) PublicKey {
	t.Helper()
	return NewX25519Key(priv).Public()
}

// TestVectorsCovered fails if vectors.json gains a vector no test checks.
func TestVectorsCovered(t *testing.T) {
	checked := map[string]bool{
		"keyhash": true, "client_hello_v18_nokey": true, "client_hello_v18_withkey": true,
		"client_hello_v15_nokey": true, "server_hello_ed25519_fixture": true, "nsub_ed25519_v18": true,
		"nsub_ed25519_v15": true, "nsub_x25519_authenticator_v18": true, "ping_v18": true,
		"server_responses": true, "nmsg": true, "sx_secretbox_symmetric": true, "block_encryption": true,
		"nsub_ed448_v18": true, "smp_server_binary": true, "ntf_tnew_v3": true, "apns_pnmessage": true,
		"apns_verification": true, "ntf_handshake_v3": true,
	}
	for name := range loadVectors(t) {
		if !checked[name] {
			t.Errorf("vector %q is not checked by any test", name)
		}
	}
}

func TestVectorKeyHash(t *testing.T) {
	v := loadVectors(t)["keyhash"].Values
	for file, key := range map[string]string{"ca.crt": "fixtures/ca.crt (Ed448)", "ed25519/ca.crt": "fixtures/ed25519/ca.crt"} {
		got := KeyHashOf(fixtureDER(t, file)).String()
		if got != v[key] {
			t.Errorf("KeyHashOf(%s) = %s, want %s", file, got, v[key])
		}
		kh, err := ParseKeyHash(strings.TrimRight(v[key], "="))
		if err != nil || kh.String() != v[key] {
			t.Errorf("ParseKeyHash(unpadded %s) = %v, %v", v[key], kh, err)
		}
	}
}

func fixtureKeyHash(t testing.TB) KeyHash { return KeyHashOf(fixtureDER(t, "ed25519/ca.crt")) }

func TestVectorClientHello(t *testing.T) {
	vs := loadVectors(t)
	kh := fixtureKeyHash(t)
	tests := []struct {
		name    string
		version uint16
		keyPriv []byte
	}{
		{"client_hello_v18_nokey", 18, nil},
		{"client_hello_v18_withkey", 18, seq(0x90, 0xaf)},
		{"client_hello_v15_nokey", 15, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vs[tt.name].Values
			h := ClientHello{Version: tt.version, KeyHash: kh}
			if tt.keyPriv != nil {
				pub := x25519Pub(t, tt.keyPriv)
				wantHex(t, "client X25519 public key", pub.Bytes(), v["client_x25519_pub_hex"])
				h.ClientKey = &pub
			}
			content := h.AppendBinary(nil)
			wantHex(t, "content", content, v["content_hex"])
			block := padTo(t, content, BlockSize)
			if w := v["block_first_48_hex"]; w != "" {
				wantHex(t, "block[:48]", block[:48], w)
			}
			if w := v["block_sha256"]; w != "" && sha256hex(block) != w {
				t.Errorf("block sha256 = %s, want %s", sha256hex(block), w)
			}
			got, err := ParseClientHello(content)
			if err != nil {
				t.Fatalf("ParseClientHello: %v", err)
			}
			if got.Version != tt.version || got.KeyHash != kh || (got.ClientKey != nil) != (tt.keyPriv != nil) || got.Proxy {
				t.Errorf("ParseClientHello = %+v", got)
			}
		})
	}
}

func TestVectorServerHello(t *testing.T) {
	v := loadVectors(t)["server_hello_ed25519_fixture"].Values
	leaf, ca := fixtureDER(t, "ed25519/server.crt"), fixtureDER(t, "ed25519/ca.crt")
	dhPub := x25519Pub(t, seq(0x60, 0x7f))
	wantHex(t, "server X25519 public key", dhPub.Bytes(), v["server_x25519_pub_hex"])
	signed := MarshalSignedKey(dhPub, fixtureLeafKey(t))
	wantHex(t, "signed key DER", signed, v["signed_key_der_hex"])

	h := ServerHello{MinVersion: 6, MaxVersion: 18, SessionID: seq(0, 0x1f), CertChain: [][]byte{leaf, ca}, SignedKey: signed}
	content, err := h.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "content", content, v["content_hex"])
	wantInt(t, "len(content)", len(content), v["content_len"])
	if got := sha256hex(padTo(t, content, BlockSize)); got != v["block_sha256"] {
		t.Errorf("block sha256 = %s, want %s", got, v["block_sha256"])
	}

	// The client side: parse, check the chain and the key signature.
	got, err := ParseServerHello(append(content, "future extension"...))
	if err != nil {
		t.Fatalf("ParseServerHello: %v", err)
	}
	if got.MinVersion != 6 || got.MaxVersion != 18 || !bytes.Equal(got.SessionID, seq(0, 0x1f)) || len(got.CertChain) != 2 {
		t.Errorf("ParseServerHello = %+v", got)
	}
	sk, err := ParseSignedKey(got.SignedKey)
	if err != nil {
		t.Fatalf("ParseSignedKey: %v", err)
	}
	leafCert, _ := x509.ParseCertificate(leaf)
	if !sk.Verify(leafCert.PublicKey) || !bytes.Equal(sk.Key.Bytes(), dhPub.Bytes()) {
		t.Errorf("signed key does not verify with the fixture leaf key")
	}
	ch, err := verifyChain(got.CertChain, fixtureKeyHash(t), time.Now(), false)
	if err != nil || !ch.PathValidated || ch.Certs[0].KeyType != "Ed25519" || ch.Certs[1].Role != "identity" {
		t.Errorf("verifyChain(fixture chain) = %+v, %v", ch, err)
	}
}

func TestVectorNSUB(t *testing.T) {
	vs := loadVectors(t)
	corrID, nid := seq(0x40, 0x57), seq(0x80, 0x97)
	tests := []struct {
		name    string
		version uint16
		key     *PrivateKey
	}{
		{"nsub_ed25519_v18", 18, NewEd25519Key(seq(0, 0x1f))},
		{"nsub_ed25519_v15", 15, NewEd25519Key(seq(0, 0x1f))},
		{"nsub_ed448_v18", 18, NewEd448Key(seq(0, 0x38))},
		{"nsub_x25519_authenticator_v18", 18, NewX25519Key(seq(0x20, 0x3f))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vs[tt.name].Values
			wantHex(t, "notifier SPKI", tt.key.Public().MarshalSPKI(), v["notifier_pub_spki_hex"])
			if w := v["notifier_priv_pkcs8_hex"]; w != "" {
				wantHex(t, "notifier PKCS#8", tt.key.MarshalPKCS8(), w)
				k, err := ParsePrivateKey(unhex(t, w))
				if err != nil || !bytes.Equal(k.Public().MarshalSPKI(), tt.key.Public().MarshalSPKI()) {
					t.Errorf("ParsePrivateKey(vector) = %v, %v", k, err)
				}
			}
			signed := AppendAuthorized(nil, seq(0, 0x1f), corrID, nid, []byte("NSUB"))
			if w := v["signed_bytes_hex"]; w != "" {
				wantHex(t, "signed bytes", signed, w)
			}
			srvDH := x25519Pub(t, seq(0x60, 0x7f))
			c := vectorClient(tt.version, srvDH.Bytes())
			tr, _, err := c.appendNSUB(nil, nil, corrID, Queue{NotifierID: nid, Key: tt.key})
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "transmission", tr, v["transmission_hex"])
			if w := v["transmission_len"]; w != "" {
				wantInt(t, "len(transmission)", len(tr), w)
			}
			parsed, err := ParseTransmission(tr, tt.version)
			if err != nil {
				t.Fatalf("ParseTransmission: %v", err)
			}
			if w := v["signature_hex"]; w != "" {
				wantHex(t, "signature", parsed.Auth, w)
			}
			if w := v["authenticator_hex"]; w != "" {
				wantHex(t, "authenticator", parsed.Auth, w)
				secret, err := DH(tt.key, srvDH)
				if err != nil {
					t.Fatal(err)
				}
				wantHex(t, "dh secret", secret[:], v["dh_secret_hex"])
				digest := sha512.Sum512(signed)
				wantHex(t, "sha512(signed)", digest[:], v["sha512_of_signed_bytes_hex"])
			}
			// Server side: the authorization verifies against the notifier key.
			var srvPriv [32]byte
			copy(srvPriv[:], seq(0x60, 0x7f))
			if !tt.key.Public().VerifyAuthorization(parsed.AuthorizedBytes(seq(0, 0x1f)), parsed.Auth, parsed.CorrID, &srvPriv) {
				t.Errorf("authorization does not verify")
			}
			if w := v["block_content_hex"]; w != "" {
				content, err := EncodeBatch(tr)
				if err != nil {
					t.Fatal(err)
				}
				wantHex(t, "block content", content, w)
				if got := sha256hex(padTo(t, content, BlockSize)); got != v["block_sha256"] {
					t.Errorf("block sha256 = %s, want %s", got, v["block_sha256"])
				}
			}
		})
	}
}

func TestVectorPing(t *testing.T) {
	v := loadVectors(t)["ping_v18"].Values
	tr, err := AppendTransmission(nil, Transmission{CorrID: seq(0x40, 0x57), Command: []byte("PING")}, 18)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "transmission", tr, v["transmission_hex"])
	content, _ := EncodeBatch(tr)
	wantHex(t, "block content", content, v["block_content_hex"])
}

func TestVectorServerResponses(t *testing.T) {
	v := loadVectors(t)["server_responses"].Values
	corrID, nid := seq(0x40, 0x57), seq(0x80, 0x97)
	tests := []struct {
		key      string
		version  uint16
		corrID   []byte
		entityID []byte
		want     Message
	}{
		{"SOK_0_v18_hex", 18, corrID, nid, SOK{}},
		{"OK_v15_hex", 15, corrID, nid, OK{}},
		{"ERR_AUTH_hex", 18, corrID, nid, ERR{Err: &ServerError{Code: CodeAuth}}},
		{"END_event_hex", 18, nil, nid, END{}},
		{"DELD_event_hex", 18, nil, nid, DELD{}},
		{"PONG_hex", 18, corrID, nil, Pong{}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			wire := unhex(t, v[tt.key])
			tr, err := ParseTransmission(wire, tt.version)
			if err != nil {
				t.Fatalf("ParseTransmission: %v", err)
			}
			if len(tr.Auth) != 0 || !bytes.Equal(tr.CorrID, tt.corrID) || !bytes.Equal(tr.EntityID, tt.entityID) {
				t.Errorf("ParseTransmission = %+v", tr)
			}
			msg, err := ParseMessage(tr.Command)
			if err != nil {
				t.Fatalf("ParseMessage(%q): %v", tr.Command, err)
			}
			if got, want := msg.AppendWire(nil), tt.want.AppendWire(nil); !bytes.Equal(got, want) {
				t.Errorf("ParseMessage = %#v, want %#v", msg, tt.want)
			}
			if e, ok := msg.(ERR); ok && !errorsIs(e.Err, ErrAuth) {
				t.Errorf("ERR AUTH does not match ErrAuth")
			}
			back, _ := AppendTransmission(nil, Transmission{CorrID: tt.corrID, EntityID: tt.entityID, Command: tt.want.AppendWire(nil)}, tt.version)
			if !bytes.Equal(back, wire) {
				t.Errorf("re-encoded = %x, want %x", back, wire)
			}
		})
	}
}

func TestVectorNMSG(t *testing.T) {
	v := loadVectors(t)["nmsg"].Values
	rcv, srv := NewX25519Key(seq(0xa0, 0xbf)), NewX25519Key(seq(0xc0, 0xdf))
	wantHex(t, "recipient ntf pub", rcv.Public().Bytes(), v["recipient_ntf_pub_hex"])
	wantHex(t, "server ntf pub", srv.Public().Bytes(), v["server_ntf_pub_hex"])
	secret, err := DH(srv, rcv.Public())
	if err != nil {
		t.Fatal(err)
	}
	secret2, _ := DH(rcv, srv.Public())
	if secret != secret2 {
		t.Errorf("DH is not symmetric")
	}
	wantHex(t, "rcv ntf dh secret", secret[:], v["rcv_ntf_dh_secret_hex"])

	var nonce [NonceSize]byte
	copy(nonce[:], seq(0xe0, 0xf7))
	ts := time.Unix(1700000000, 0)
	enc, err := EncryptNMsgMeta(&secret, &nonce, seq(0x10, 0x27), ts)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "encMeta", enc, v["enc_nmsg_meta_hex"])
	wantInt(t, "len(encMeta)", len(enc), v["enc_nmsg_meta_len"])
	meta, err := DecryptNMsgMeta(&secret, &nonce, enc)
	if err != nil {
		t.Fatalf("DecryptNMsgMeta: %v", err)
	}
	if !bytes.Equal(meta.MsgID, seq(0x10, 0x27)) || !meta.Timestamp.Equal(ts) || len(meta.Extension) != 0 {
		t.Errorf("DecryptNMsgMeta = %+v", meta)
	}
	plain := append(appendShort(nil, meta.MsgID), unhex(t, "000000006553f100")...)
	wantHex(t, "meta plaintext", plain, v["nmsg_meta_plain_hex"])
	if _, err := DecryptNMsgMeta(&secret, &[NonceSize]byte{}, enc); err == nil {
		t.Errorf("DecryptNMsgMeta with a wrong nonce succeeded")
	}

	wire := unhex(t, v["nmsg_transmission_hex"])
	tr, err := ParseTransmission(wire, 18)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := ParseMessage(tr.Command)
	if err != nil {
		t.Fatal(err)
	}
	n, ok := msg.(NMSG)
	if !ok || n.Nonce != nonce || !bytes.Equal(n.EncMeta, enc) || !bytes.Equal(tr.EntityID, seq(0x80, 0x97)) || len(tr.CorrID) != 0 {
		t.Errorf("parsed NMSG event = %#v (entity %x)", msg, tr.EntityID)
	}
	back, _ := AppendTransmission(nil, Transmission{EntityID: seq(0x80, 0x97), Command: NMSG{Nonce: nonce, EncMeta: enc}.AppendWire(nil)}, 18)
	if !bytes.Equal(back, wire) {
		t.Errorf("re-encoded NMSG = %x", back)
	}
}

func TestVectorSxSecretbox(t *testing.T) {
	v := loadVectors(t)["sx_secretbox_symmetric"].Values
	var key [32]byte
	var nonce [NonceSize]byte
	copy(key[:], seq(1, 0x20))
	copy(nonce[:], seq(1, 0x18))
	out := SxBoxSeal(nil, padTo(t, []byte("hello NaCl secretbox"), 256), &nonce, &key)
	wantHex(t, "sxBox", out, v["output_hex"])
	wantInt(t, "len", len(out), v["output_len"])
	plain, err := SxBoxOpen(nil, out, &nonce, &key)
	if err != nil {
		t.Fatal(err)
	}
	if msg, _ := Unpad(plain); string(msg) != "hello NaCl secretbox" {
		t.Errorf("SxBoxOpen = %q", msg)
	}
}

func TestVectorBlockEncryption(t *testing.T) {
	vs := loadVectors(t)
	v := vs["block_encryption"].Values
	dh, err := DH(NewX25519Key(seq(0x90, 0xaf)), x25519Pub(t, seq(0x60, 0x7f)))
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "dh secret", dh[:], v["dh_secret_hex"])
	ck1, ck2 := ChainKeys(&dh, seq(0, 0x1f))
	wantHex(t, "ck1", ck1[:], v["ck1_server_send_client_recv_hex"])
	wantHex(t, "ck2", ck2[:], v["ck2_client_send_server_recv_hex"])

	cc := blockChain{ck: ck2}
	key, nonce := cc.next()
	wantHex(t, "client first block key", key[:], v["client_first_block_key_hex"])
	wantHex(t, "client first block nonce", nonce[:], v["client_first_block_nonce_hex"])
	wantHex(t, "client next chain key", cc.ck[:], v["client_next_chain_key_hex"])
	sc := blockChain{ck: ck1}
	key, nonce = sc.next()
	wantHex(t, "server first block key", key[:], v["server_first_block_key_hex"])
	wantHex(t, "server first block nonce", nonce[:], v["server_first_block_nonce_hex"])

	// The first encrypted block carries the ping_v18 content.
	ping := unhex(t, vs["ping_v18"].Values["block_content_hex"])
	send, _ := newBlockCodecs(&dh, seq(0, 0x1f), true)
	var block [BlockSize]byte
	if err := send.seal(&block, ping); err != nil {
		t.Fatal(err)
	}
	wantInt(t, "encrypted block size", len(block), v["encrypted_ping_block_len"])
	wantHex(t, "encrypted block[:32]", block[:32], v["encrypted_ping_block_first_32_hex"])
	if got := sha256hex(block[:]); got != v["encrypted_ping_block_sha256"] {
		t.Errorf("encrypted block sha256 = %s, want %s", got, v["encrypted_ping_block_sha256"])
	}
	_, srvRecv := newBlockCodecs(&dh, seq(0, 0x1f), false)
	got, err := srvRecv.open(&block)
	if err != nil || !bytes.Equal(got, ping) {
		t.Errorf("server open = %x, %v", got, err)
	}
}

func TestVectorServerBinary(t *testing.T) {
	v := loadVectors(t)["smp_server_binary"].Values
	a, err := ParseServerAddress(v["uri"])
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "binary server", b, v["hex"])
	if a.String() != v["uri"] {
		t.Errorf("String() = %s, want %s", a, v["uri"])
	}
}

// The NTF vectors are the app <-> notification server protocol, which this
// package does not speak; they are checked here with this package's
// primitives (transmission layout without serviceSig, signatures, padding
// to 512-byte NTF blocks) so that the notification service can rely on them.
func TestVectorNTFTNEW(t *testing.T) {
	v := loadVectors(t)["ntf_tnew_v3"].Values
	tokenKey := NewEd25519Key(seq(0, 0x1f))
	dh := NewX25519Key(seq(0xa0, 0xbf))
	cmd := []byte("TNEW T")
	cmd = append(cmd, "AP"...)
	cmd = appendShort(cmd, []byte(strings.Repeat("ab", 32)))
	cmd = appendShort(cmd, tokenKey.Public().MarshalSPKI())
	cmd = appendShort(cmd, dh.Public().MarshalSPKI())
	signed := AppendAuthorized(nil, seq(0, 0x1f), seq(0x40, 0x57), nil, cmd)
	auth, err := tokenKey.appendAuth(nil, signed, seq(0x40, 0x57), nil)
	if err != nil {
		t.Fatal(err)
	}
	// NTF has no serviceSig: the v < 16 layout.
	tr, err := AppendTransmission(nil, Transmission{Auth: auth, CorrID: seq(0x40, 0x57), Command: cmd}, 15)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "transmission", tr, v["transmission_hex"])
	content, _ := EncodeBatch(tr)
	wantInt(t, "len(block content)", len(content), v["block_content_len"])
	if got := sha256hex(padTo(t, content, 512)); got != v["block_sha256_512"] {
		t.Errorf("512-byte block sha256 = %s, want %s", got, v["block_sha256_512"])
	}
}

func TestVectorNTFHandshake(t *testing.T) {
	vs := loadVectors(t)
	v := vs["ntf_handshake_v3"].Values
	signed := unhex(t, vs["server_hello_ed25519_fixture"].Values["signed_key_der_hex"])
	// NTF server hello: Word16 min, Word16 max, shortString sessionId, Large(signedKey), no chain.
	sh := appendWord16(appendWord16(nil, 1), 3)
	sh = appendShort(sh, seq(0, 0x0b))
	sh = appendLarge(sh, signed)
	wantHex(t, "server hello", sh, v["server_hello_content_hex"])
	if got := sha256hex(padTo(t, sh, 512)); got != v["server_hello_block_sha256_512"] {
		t.Errorf("server hello block sha256 = %s", got)
	}
	ch := ClientHello{Version: 3, KeyHash: fixtureKeyHash(t)}.AppendBinary(nil)
	wantHex(t, "client hello", ch, v["client_hello_content_hex"])
}

// The APNs vectors: the sxBox encryption and the text encodings are
// checked; assembling the APNs JSON body belongs to the push package.
func TestVectorAPNS(t *testing.T) {
	vs := loadVectors(t)
	secret, err := DH(NewX25519Key(seq(0xa0, 0xbf)), x25519Pub(t, seq(0xc0, 0xdf)))
	if err != nil {
		t.Fatal(err)
	}
	var nonce [NonceSize]byte
	copy(nonce[:], seq(0x30, 0x47))

	t.Run("apns_pnmessage", func(t *testing.T) {
		v := vs["apns_pnmessage"].Values
		addr, err := ParseServerAddress(vs["smp_server_binary"].Values["uri"])
		if err != nil {
			t.Fatal(err)
		}
		enc := unhex(t, vs["nmsg"].Values["enc_nmsg_meta_hex"])
		text := strings.Join([]string{addr.QueueAddress(seq(0x80, 0x97)), "1700000001", EncodeB64URL(seq(0xe0, 0xf7)), EncodeB64URL(enc)}, " ")
		if text != v["pn_message_plaintext"] {
			t.Errorf("PNMessageData text =\n  %s\nwant\n  %s", text, v["pn_message_plaintext"])
		}
		ct := SxBoxSeal(nil, padTo(t, []byte(text), 3072), &nonce, &secret)
		wantInt(t, "len(ciphertext)", len(ct), v["ciphertext_len"])
		if got := sha256hex(ct); got != v["ciphertext_sha256"] {
			t.Errorf("ciphertext sha256 = %s, want %s", got, v["ciphertext_sha256"])
		}
		_, msgPrefix, _ := strings.Cut(v["payload_prefix"], `"message":"`)
		if !strings.HasPrefix(EncodeB64URL(ct), msgPrefix) {
			t.Errorf("base64url(ciphertext) does not start with the payload's message %q", msgPrefix)
		}
	})
	t.Run("apns_verification", func(t *testing.T) {
		v := vs["apns_verification"].Values
		ct := SxBoxSeal(nil, padTo(t, seq(0, 0x1f), 3072), &nonce, &secret)
		wantInt(t, "len(ciphertext)", len(ct), v["ciphertext_len"])
		wantHex(t, "ciphertext[:32]", ct[:32], v["ciphertext_first_32_hex"])
		if got := sha256hex(ct); got != v["ciphertext_sha256"] {
			t.Errorf("ciphertext sha256 = %s, want %s", got, v["ciphertext_sha256"])
		}
		if p := v["payload_prefix"]; !strings.Contains(p, `"nonce":"`+EncodeB64URL(nonce[:])+`"`) {
			t.Errorf("payload prefix lacks the base64url nonce")
		}
		_, verPrefix, _ := strings.Cut(v["payload_prefix"], `"verification":"`)
		if !strings.HasPrefix(EncodeB64URL(ct), verPrefix) {
			t.Errorf("base64url(ciphertext) does not start with the payload's verification %q", verPrefix)
		}
	})
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
