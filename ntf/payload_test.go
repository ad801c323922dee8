package ntf_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/trystgw/tryst/ntf"
)

// smpVectors reads shared/testdata/smp/vectors.json by name.
func smpVectors(t *testing.T) map[string]map[string]string {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "testdata", "smp", "vectors.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("SMP test vectors not found: %v (clone shared/ beside the repository)", err)
	}
	var list []struct {
		Name   string            `json:"name"`
		Values map[string]string `json:"values"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	m := map[string]map[string]string{}
	for _, v := range list {
		m[v.Name] = v.Values
	}
	return m
}

func seq(from byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = from + byte(i)
	}
	return b
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectorNotification is the NMSG of the "nmsg" vector as received by the
// gateway of the "apns_pnmessage" vector.
func vectorNotification(t *testing.T, v map[string]map[string]string) ntf.Notification {
	n := ntf.Notification{
		Server:     "smp://evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys=@smp.example.com:5223",
		NotifierID: seq(0x80, 24), ReceivedAt: time.Unix(1700000001, 0),
		EncMeta: mustHex(t, v["nmsg"]["enc_nmsg_meta_hex"]),
	}
	copy(n.Nonce[:], seq(0xe0, 24))
	return n
}

// TestMessageVector builds the message push of the apns_pnmessage vector
// (the reference server's padded size 3072) byte for byte.
func TestMessageVector(t *testing.T) {
	v := smpVectors(t)
	want := v["apns_pnmessage"]
	text, carried, err := ntf.MessageText([]ntf.Notification{vectorNotification(t, v)}, 3072)
	if err != nil || len(carried) != 1 {
		t.Fatalf("MessageText = %d carried, %v", len(carried), err)
	}
	if string(text) != want["pn_message_plaintext"] {
		t.Fatalf("plaintext\n got %s\nwant %s", text, want["pn_message_plaintext"])
	}
	appPriv, serverPriv := [32]byte(seq(0xa0, 32)), [32]byte(seq(0xc0, 32))
	appPub, _ := curve25519.X25519(appPriv[:], curve25519.Basepoint)
	nonce := [24]byte(seq(0x30, 24))
	sealed, err := ntf.SealMessage(text, 3072, &nonce, &serverPriv, ntf.DHKey(appPub))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sealed)
	if len(sealed) != 3088 || hex.EncodeToString(sum[:]) != want["ciphertext_sha256"] {
		t.Errorf("sealed message: %d bytes, sha256 %x; want 3088, %s", len(sealed), sum, want["ciphertext_sha256"])
	}
}

// TestMessageRoundTrip seals at the default size and opens as an app.
func TestMessageRoundTrip(t *testing.T) {
	v := smpVectors(t)
	n := vectorNotification(t, v)
	text, _, err := ntf.MessageText([]ntf.Notification{n}, ntf.DefaultMessageSize)
	if err != nil {
		t.Fatal(err)
	}
	appPriv, serverPriv := [32]byte(seq(1, 32)), [32]byte(seq(2, 32))
	nonce := [24]byte(seq(3, 24))
	sealed, err := ntf.SealMessage(text, ntf.DefaultMessageSize, &nonce, &serverPriv, ntf.PublicKey(appPriv))
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != ntf.DefaultMessageSize+16 {
		t.Errorf("sealed size = %d, want %d", len(sealed), ntf.DefaultMessageSize+16)
	}
	data := map[string]string{ntf.DataNonce: b64(nonce[:]), ntf.DataMessage: b64(sealed)}
	got, err := ntf.OpenMessage(data, appPriv, ntf.PublicKey(serverPriv))
	if err != nil || !bytes.Equal(got, text) {
		t.Errorf("OpenMessage = %q, %v; want %q", got, err, text)
	}
}

// TestMessageTextCoalesces checks the rules of the recent list: at most
// six, oldest first, the newest always in, entries that do not fit
// dropped oldest first.
func TestMessageTextCoalesces(t *testing.T) {
	var recent []ntf.Notification
	for i := range 8 {
		recent = append(recent, ntf.Notification{
			Server: "smp://a@h", NotifierID: []byte{byte(i)}, ReceivedAt: time.Unix(int64(1000-i), 0),
			EncMeta: make([]byte, 144), Seq: int64(i),
		})
	}
	_, carried, err := ntf.MessageText(recent, ntf.DefaultMessageSize)
	if err != nil || len(carried) != ntf.MaxRecentNotifications {
		t.Fatalf("MessageText(8) carried %d, %v; want %d", len(carried), err, ntf.MaxRecentNotifications)
	}
	for i, n := range carried { // times 995..1000, ascending
		if want := int64(995 + i); n.ReceivedAt.Unix() != want {
			t.Errorf("carried[%d] at %d, want %d", i, n.ReceivedAt.Unix(), want)
		}
	}
	small := 2 + 3*len("smp://a@h/AA== 1000 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "+strings.Repeat("A", 192)) + 2
	text, carried, err := ntf.MessageText(recent, small)
	if err != nil || len(carried) != 3 || carried[2].ReceivedAt.Unix() != 1000 || strings.Count(string(text), ";") != 2 {
		t.Errorf("MessageText(size for 3) = %d carried, newest %v, %v; want the 3 newest", len(carried), carried, err)
	}
	if _, _, err := ntf.MessageText(recent[:1], 100); err == nil {
		t.Error("MessageText with no room for one entry succeeded")
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
