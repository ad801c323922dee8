package tls13

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"

	"hash"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/curve25519"
)

// fakeServer is a scripted TLS 1.3 server built from this package's own
// key schedule and record layer, so that tests can make it misbehave in
// ways no real server would: bad signatures, bad Finished, broken
// records. It speaks TLS_CHACHA20_POLY1305_SHA256 with X25519 only.
type fakeServer struct {
	t          testing.TB
	conn       net.Conn
	cert       [][]byte
	key        ed25519.PrivateKey
	ks         keySchedule
	transcript hash.Hash
	in, out    halfConn
	// Misbehaviour switches.
	badSignature bool
	badScheme    bool
	badFinished  bool
	// flight, if set, replaces everything after the ServerHello.
	flight func(s *fakeServer)
	// after runs once the handshake completed (application keys set).
	after func(s *fakeServer)
}

// serveFake accepts one connection on a loopback listener and runs s on
// it; it returns the address. Cleanup waits for s to finish.
func serveFake(t testing.TB, s *fakeServer) string {
	t.Helper()
	cert := ed25519Chain(t)
	s.t, s.cert, s.key = t, cert.Certificate, cert.PrivateKey.(ed25519.PrivateKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(deadline))
		s.conn = conn
		s.run()
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func (s *fakeServer) run() {
	suite := suiteByID(TLS_CHACHA20_POLY1305_SHA256)
	s.ks = suite.schedule()
	s.transcript = sha256.New()
	share, err := s.readClientHello()
	if err != nil {
		s.t.Errorf("fake server: %v", err)
		return
	}
	priv := make([]byte, 32)
	rand.Read(priv)
	pub, _ := curve25519.X25519(priv, curve25519.Basepoint)
	shared, err := curve25519.X25519(priv, share)
	if err != nil {
		s.t.Errorf("fake server: %v", err)
		return
	}
	sh := s.serverHello(pub)
	s.transcript.Write(sh)
	s.writePlain(recordHandshake, sh)
	hsSecret := s.ks.handshakeSecret(shared)
	th := s.transcript.Sum(nil)
	cHS, sHS := s.ks.deriveSecret(hsSecret, "c hs traffic", th), s.ks.deriveSecret(hsSecret, "s hs traffic", th)
	s.in.setKey(suite, cHS)
	s.out.setKey(suite, sHS)
	if s.flight != nil {
		s.flight(s)
		return
	}
	s.sendFlight(sHS)
	th = s.transcript.Sum(nil) // application secrets end at the server Finished
	if !s.readClientFinished(cHS) {
		return
	}
	master := s.ks.masterSecret(hsSecret)
	s.in.setKey(suite, s.ks.deriveSecret(master, "c ap traffic", th))
	s.out.setKey(suite, s.ks.deriveSecret(master, "s ap traffic", th))
	if s.after != nil {
		s.after(s)
	}
}

// readClientHello returns the client's X25519 share.
func (s *fakeServer) readClientHello() ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(s.conn, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(s.conn, msg); err != nil {
		return nil, err
	}
	s.transcript.Write(msg)
	body := cryptobyte.String(msg[4:])
	var random, sid, suites, comp, exts cryptobyte.String
	var version uint16
	if !body.ReadUint16(&version) || !body.ReadBytes((*[]byte)(&random), 32) || !body.ReadUint8LengthPrefixed(&sid) ||
		!body.ReadUint16LengthPrefixed(&suites) || !body.ReadUint8LengthPrefixed(&comp) || !body.ReadUint16LengthPrefixed(&exts) {
		return nil, errors.New("bad ClientHello")
	}
	for !exts.Empty() {
		var typ uint16
		var data, shares, key cryptobyte.String
		var group uint16
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, errors.New("bad extensions")
		}
		if typ == extKeyShare && data.ReadUint16LengthPrefixed(&shares) && shares.ReadUint16(&group) &&
			shares.ReadUint16LengthPrefixed(&key) && group == groupX25519 {
			return key, nil
		}
	}
	return nil, errors.New("no X25519 share")
}

func (s *fakeServer) serverHello(pub []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typeServerHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		random := make([]byte, 32)
		rand.Read(random)
		b.AddUint16(0x0303)
		b.AddBytes(random)
		b.AddUint8(0)
		b.AddUint16(TLS_CHACHA20_POLY1305_SHA256)
		b.AddUint8(0)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			addExtension(b, extSupportedVersions, func(b *cryptobyte.Builder) { b.AddUint16(VersionTLS13) })
			addExtension(b, extKeyShare, func(b *cryptobyte.Builder) {
				b.AddUint16(groupX25519)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(pub) })
			})
		})
	})
	return b.BytesOrPanic()
}

// message builds a handshake message and adds it to the transcript.
func (s *fakeServer) message(typ uint8, body func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typ)
	b.AddUint24LengthPrefixed(body)
	msg := b.BytesOrPanic()
	s.transcript.Write(msg)
	return msg
}

// sendFlight sends EncryptedExtensions, Certificate, CertificateVerify
// and Finished in one record.
func (s *fakeServer) sendFlight(sHS []byte) {
	var flight []byte
	flight = append(flight, s.message(typeEncryptedExtensions, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			addExtension(b, extALPN, func(b *cryptobyte.Builder) {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("smp/1")) })
				})
			})
		})
	})...)
	flight = append(flight, s.message(typeCertificate, func(b *cryptobyte.Builder) {
		b.AddUint8(0)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range s.cert {
				b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c) })
				b.AddUint16(0)
			}
		})
	})...)
	sig := ed25519.Sign(s.key, append(append([]byte{}, serverSignatureContext...), s.transcript.Sum(nil)...))
	if s.badSignature {
		sig[10] ^= 1
	}
	scheme := schemeEd25519
	if s.badScheme {
		scheme = schemeEd448
	}
	flight = append(flight, s.message(typeCertificateVerify, func(b *cryptobyte.Builder) {
		b.AddUint16(scheme)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	})...)
	verify := s.ks.finishedMAC(sHS, s.transcript.Sum(nil))
	if s.badFinished {
		verify[0] ^= 1
	}
	flight = append(flight, s.message(typeFinished, func(b *cryptobyte.Builder) { b.AddBytes(verify) })...)
	s.writeSealed(recordHandshake, flight)
}

// readClientFinished reads and checks the client Finished; false if the
// client sent something else (an alert) or nothing.
func (s *fakeServer) readClientFinished(cHS []byte) bool {
	want := s.ks.finishedMAC(cHS, s.transcript.Sum(nil))
	typ, content, err := s.readSealed()
	if err != nil || typ != recordHandshake {
		return false
	}
	if len(content) != 4+len(want) || content[0] != typeFinished || string(content[4:]) != string(want) {
		s.t.Errorf("fake server: bad client Finished %x", content)
		return false
	}
	s.transcript.Write(content)
	return true
}

// readSealed reads one protected record.
func (s *fakeServer) readSealed() (uint8, []byte, error) {
	rr := recordReader{r: s.conn}
	rec, err := rr.next(maxCiphertext)
	if err != nil {
		return 0, nil, err
	}
	return s.in.open(rec)
}

func (s *fakeServer) writePlain(typ uint8, content []byte) {
	s.conn.Write(append([]byte{typ, 3, 3, byte(len(content) >> 8), byte(len(content))}, content...))
}

func (s *fakeServer) writeSealed(typ uint8, content []byte) {
	rec, err := s.out.seal(nil, typ, content)
	if err != nil {
		s.t.Errorf("fake server: %v", err)
		return
	}
	s.conn.Write(rec)
}

// clientAlert reads the alert the client sent, or returns -1.
func (s *fakeServer) clientAlert() int {
	typ, content, err := s.readSealed()
	if err != nil || typ != recordAlert || len(content) != 2 {
		return -1
	}
	return int(content[1])
}

// dialFake runs a client handshake against a fake server.
func dialFake(t *testing.T, s *fakeServer) (*Conn, error) {
	t.Helper()
	addr := serveFake(t, s)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := Client(nc, smpConfig())
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err = c.HandshakeContext(ctx)
	if time.Since(start) > deadline/2 {
		t.Errorf("handshake took %v: the client waited instead of refusing", time.Since(start))
	}
	return c, err
}
