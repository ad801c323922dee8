package tls13

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"testing"
)

// Fuzz targets for everything that reads bytes from the server: each
// handshake message decoder, the record layer after the handshake and
// the plaintext start of the handshake. They must never panic, and the
// stream targets must end (the input is finite).

// seedTrace adds the RFC 8448 message bodies as seeds.
func seedTrace(f *testing.F, names ...string) {
	tr := loadTrace(f)
	for _, n := range names {
		f.Add(tr[n][4:])
	}
}

func FuzzParseServerHello(f *testing.F) {
	seedTrace(f, "server_hello")
	f.Fuzz(func(t *testing.T, b []byte) { parseServerHello(b) })
}

func FuzzParseEncryptedExtensions(f *testing.F) {
	seedTrace(f, "encrypted_extensions")
	f.Add([]byte{0, 11, 0, 16, 0, 7, 0, 5, 5, 's', 'm', 'p', '/', '1'})
	f.Fuzz(func(t *testing.T, b []byte) { parseEncryptedExtensions(b) })
}

func FuzzParseCertificate(f *testing.F) {
	seedTrace(f, "certificate")
	f.Fuzz(func(t *testing.T, b []byte) {
		chain, err := parseCertificate(b)
		if err == nil && (len(chain) == 0 || len(chain) > MaxCertificates) {
			t.Fatalf("%d certificates accepted", len(chain))
		}
	})
}

func FuzzParseCertificateRequest(f *testing.F) {
	f.Add([]byte{0, 0, 8, 0, 13, 0, 4, 0, 2, 8, 7})
	f.Fuzz(func(t *testing.T, b []byte) { parseCertificateRequest(b) })
}

func FuzzParseCertificateVerify(f *testing.F) {
	seedTrace(f, "certificate_verify")
	f.Fuzz(func(t *testing.T, b []byte) { parseCertificateVerify(b) })
}

func FuzzParsePostHandshake(f *testing.F) {
	f.Add([]byte{1})
	f.Add([]byte{0, 0, 0, 60, 1, 2, 3, 4, 0, 0, 1, 9, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseKeyUpdate(b)
		checkNewSessionTicket(b)
	})
}

func FuzzLeafPublicKey(f *testing.F) {
	f.Add(ed25519Chain(f).Certificate[0])
	f.Fuzz(func(t *testing.T, b []byte) { leafPublicKey(b) })
}

// sinkConn discards what the client writes (alerts, KeyUpdate).
type sinkConn struct{ net.Conn }

func (sinkConn) Write(b []byte) (int, error) { return len(b), nil }

// fuzzSecret keys both directions of the record-layer target.
var fuzzSecret = bytes.Repeat([]byte{7}, sha256.Size)

// FuzzRecordLayer feeds a connection past its handshake with records the
// harness protects with the connection's keys, so the fuzzer reaches
// what lies behind decryption: content types, padding, handshake
// reassembly, KeyUpdate, NewSessionTicket and alerts. The input is a
// sequence of [type, length, content...] chunks; bytes after the last
// whole chunk go to the stream unprotected.
func FuzzRecordLayer(f *testing.F) {
	f.Add([]byte{23, 5, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{22, 5, 24, 0, 0, 1, 1, 23, 2, 'o', 'k'})
	f.Add([]byte{22, 2, 4, 0, 22, 2, 0, 1, 21, 2, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := suiteByID(TLS_CHACHA20_POLY1305_SHA256)
		var server halfConn
		server.setKey(s, fuzzSecret)
		var stream []byte
		for len(in) >= 2 && len(in) >= 2+int(in[1]) {
			content := in[2 : 2+int(in[1])]
			stream, _ = server.seal(stream, in[0], content)
			in = in[2+int(in[1]):]
		}
		stream = append(stream, in...)
		c := &Conn{conn: sinkConn{}, keyUpdateAfter: defaultKeyUpdateAfter, suite: s}
		c.rr.r = bytes.NewReader(stream)
		c.in.setKey(s, fuzzSecret)
		c.out.setKey(s, fuzzSecret)
		c.handshakeDone.Store(true)
		buf := make([]byte, 100)
		for range 1000 {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
		t.Fatal("Read never ended on a finite input")
	})
}

// FuzzHandshakeStream runs the client handshake against a server whose
// bytes are the input (the plaintext part: ServerHello, HelloRetryRequest,
// alerts, change_cipher_spec, record framing).
func FuzzHandshakeStream(f *testing.F) {
	tr := loadTrace(f)
	sh := tr["server_hello"]
	f.Add(append([]byte{22, 3, 3, byte(len(sh) >> 8), byte(len(sh))}, sh...))
	f.Add([]byte{21, 3, 3, 0, 2, 2, 40})
	f.Add([]byte{20, 3, 3, 0, 1, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := Client(sinkConn{}, &Config{NextProtos: []string{"smp/1"}, VerifyPeerCertificate: acceptAll})
		c.rr.r = io.MultiReader(bytes.NewReader(in))
		if err := c.clientHandshake(); err == nil {
			t.Fatal("a handshake completed without a server")
		}
	})
}

// FuzzFindClientFinished fuzzes the record walk of FinishedCapture,
// which smptest runs on what clients send.
func FuzzFindClientFinished(f *testing.F) {
	f.Add([]byte{22, 3, 1, 0, 1, 1, 20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 17})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h halfConn
		h.setKey(suiteByID(TLS_CHACHA20_POLY1305_SHA256), fuzzSecret)
		findClientFinished(&h, bytes.Clone(b), sha256.Size)
	})
}
