package tls13

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
)

// loadTrace reads testdata/rfc8448-simple-1rtt.txt: "name:" lines each
// followed by hex.
func loadTrace(t testing.TB) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/rfc8448-simple-1rtt.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	var name string
	var digits strings.Builder
	flush := func() {
		if name == "" {
			return
		}
		b, err := hex.DecodeString(digits.String())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b
		name = ""
		digits.Reset()
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			flush()
		case strings.HasSuffix(line, ":"):
			flush()
			name = strings.TrimSuffix(line, ":")
		default:
			digits.WriteString(strings.ReplaceAll(line, " ", ""))
		}
	}
	flush()
	return out
}

func gcm128(t *testing.T, key []byte) cipher.AEAD {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wantEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: no expected value in the trace", what)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %x\nwant %x", what, got, want)
	}
}

// TestRFC8448Simple1RTT reproduces the RFC 8448 §3 trace with this
// package's key schedule, transcript, Finished computation and record
// protection. The trace's suite is TLS_AES_128_GCM_SHA256, outside the
// SMP profile, so the AEAD is AES-128-GCM built here; everything around
// it (nonces, additional data, inner content type, padding removal) is
// the code used for the profile's suites. Its server signs with RSA, so
// CertificateVerify is only parsed, not verified.
func TestRFC8448Simple1RTT(t *testing.T) {
	tr := loadTrace(t)
	ks := keySchedule{newHash: sha256.New, size: sha256.Size}

	pub, _ := curve25519.X25519(tr["client_private_key"], curve25519.Basepoint)
	wantEqual(t, "client public key", pub, tr["client_public_key"])

	sh, err := parseServerHello(tr["server_hello"][4:])
	if err != nil {
		t.Fatalf("parseServerHello: %v", err)
	}
	if sh.suite != 0x1301 || sh.version != VersionTLS13 || sh.share.group != groupX25519 || sh.retry {
		t.Fatalf("ServerHello = %+v", sh)
	}
	shared, err := curve25519.X25519(tr["client_private_key"], sh.share.data)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "shared secret", shared, tr["shared_secret"])

	transcript := sha256.New()
	transcript.Write(tr["client_hello"])
	transcript.Write(tr["server_hello"])
	hsSecret := ks.handshakeSecret(shared)
	wantEqual(t, "handshake secret", hsSecret, tr["handshake_secret"])
	th := transcript.Sum(nil)
	cHS := ks.deriveSecret(hsSecret, "c hs traffic", th)
	sHS := ks.deriveSecret(hsSecret, "s hs traffic", th)
	wantEqual(t, "client handshake traffic secret", cHS, tr["client_handshake_traffic_secret"])
	wantEqual(t, "server handshake traffic secret", sHS, tr["server_handshake_traffic_secret"])
	wantEqual(t, "server finished key", ks.expandLabel(sHS, "finished", nil, 32), tr["server_finished_key"])

	// The server flight: one protected record holding four messages.
	key, iv := ks.trafficKey(sHS, 16)
	wantEqual(t, "server handshake key", key, tr["server_handshake_key"])
	wantEqual(t, "server handshake iv", iv, tr["server_handshake_iv"])
	var in halfConn
	in.setAEAD(gcm128(t, key), iv)
	typ, flight, err := in.open(bytes.Clone(tr["server_flight_record"]))
	if err != nil || typ != recordHandshake {
		t.Fatalf("open server flight: type %d, %v", typ, err)
	}
	msgs := [][]byte{tr["encrypted_extensions"], tr["certificate"], tr["certificate_verify"], tr["server_finished"]}
	wantEqual(t, "server flight plaintext", flight, bytes.Join(msgs, nil))

	chain, err := parseCertificate(tr["certificate"][4:])
	if err != nil || len(chain) != 1 || len(chain[0]) != 0x1b0 {
		t.Errorf("parseCertificate: %d certs, %v", len(chain), err)
	}
	if scheme, sig, err := parseCertificateVerify(tr["certificate_verify"][4:]); err != nil || scheme != 0x0804 || len(sig) != 128 {
		t.Errorf("parseCertificateVerify = %#x, %d bytes, %v", scheme, len(sig), err)
	}

	for _, m := range msgs[:3] {
		transcript.Write(m)
	}
	wantEqual(t, "server Finished", ks.finishedMAC(sHS, transcript.Sum(nil)), tr["server_finished"][4:])
	transcript.Write(msgs[3])
	afterServerFinished := transcript.Sum(nil)

	// The client Finished record under the client handshake keys.
	key, iv = ks.trafficKey(cHS, 16)
	wantEqual(t, "client handshake key", key, tr["client_handshake_key"])
	wantEqual(t, "client handshake iv", iv, tr["client_handshake_iv"])
	verify := ks.finishedMAC(cHS, afterServerFinished)
	var out halfConn
	out.setAEAD(gcm128(t, key), iv)
	rec, err := out.seal(nil, recordHandshake, append(handshakeHeader(typeFinished, len(verify)), verify...))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "client Finished record", rec, tr["client_finished_record"])

	checkApplicationTraffic(t, tr, ks, hsSecret, afterServerFinished)
}

// checkApplicationTraffic checks the application secrets and the two
// application data records of the trace (50 bytes 00..31 each way).
func checkApplicationTraffic(t *testing.T, tr map[string][]byte, ks keySchedule, hsSecret, th []byte) {
	master := ks.masterSecret(hsSecret)
	wantEqual(t, "master secret", master, tr["master_secret"])
	cAP := ks.deriveSecret(master, "c ap traffic", th)
	sAP := ks.deriveSecret(master, "s ap traffic", th)
	wantEqual(t, "client application traffic secret", cAP, tr["client_application_traffic_secret"])
	wantEqual(t, "server application traffic secret", sAP, tr["server_application_traffic_secret"])

	data := make([]byte, 50)
	for i := range data {
		data[i] = byte(i)
	}
	key, iv := ks.trafficKey(cAP, 16)
	wantEqual(t, "client application key", key, tr["client_application_key"])
	wantEqual(t, "client application iv", iv, tr["client_application_iv"])
	var out halfConn
	out.setAEAD(gcm128(t, key), iv)
	rec, err := out.seal(nil, recordApplicationData, data)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "client application data record", rec, tr["client_application_record"])

	key, iv = ks.trafficKey(sAP, 16)
	wantEqual(t, "server application key", key, tr["server_application_key"])
	wantEqual(t, "server application iv", iv, tr["server_application_iv"])
	var in halfConn
	in.setAEAD(gcm128(t, key), iv)
	in.seq = 1 // record 0 of the server's application keys is its NewSessionTicket
	typ, got, err := in.open(bytes.Clone(tr["server_application_record"]))
	if err != nil || typ != recordApplicationData {
		t.Fatalf("open server application record: type %d, %v", typ, err)
	}
	wantEqual(t, "server application data", got, data)
}
