package tls13

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFakeServerBaseline: the scripted server completes a handshake and
// application data flows, so the refusals below fail for their reason.
func TestFakeServerBaseline(t *testing.T) {
	got := make(chan string, 1)
	c, err := dialFake(t, &fakeServer{after: func(s *fakeServer) {
		s.writeSealed(recordApplicationData, []byte("hello"))
		typ, content, err := s.readSealed()
		if err == nil && typ == recordApplicationData {
			got <- string(content)
		}
		close(got)
	}})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.SetDeadline(time.Now().Add(deadline))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	c.Write([]byte("world"))
	if s := <-got; s != "world" {
		t.Fatalf("server read %q", s)
	}
}

// TestHandshakeRefusals: each server misbehaviour ends the handshake
// with a clear error and, where the client still can, the right alert.
func TestHandshakeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		server    *fakeServer
		want      error
		wantAlert alert
	}{
		{"bad CertificateVerify signature", &fakeServer{badSignature: true}, ErrBadCertificateVerify, alertDecryptError},
		{"CertificateVerify scheme not the key's", &fakeServer{badScheme: true}, nil, alertIllegalParameter},
		{"bad Finished", &fakeServer{badFinished: true}, ErrBadFinished, alertDecryptError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alertc := make(chan int, 1)
			tc.server.flight = func(s *fakeServer) {
				s.flight = nil
				s.sendFlight(s.out.secret)
				alertc <- s.clientAlert()
			}
			_, err := dialFake(t, tc.server)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("handshake error = %v, want %v", err, tc.want)
			}
			if a := <-alertc; a != int(tc.wantAlert) {
				t.Errorf("client sent alert %d, want %d (%v)", a, tc.wantAlert, tc.wantAlert)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// TestRecordRefusals: broken records during and after the handshake.
func TestRecordRefusals(t *testing.T) {
	oversized := func(s *fakeServer) { // a header announcing 2^14+257 bytes, which never come
		n := maxCiphertext + 1
		s.conn.Write([]byte{recordApplicationData, 3, 3, byte(n >> 8), byte(n)})
	}
	truncated := func(s *fakeServer) {
		s.conn.Write([]byte{recordApplicationData, 3, 3, 0, 100})
		s.conn.Write(make([]byte, 40))
		s.conn.Close()
	}
	garbled := func(s *fakeServer) {
		rec, _ := s.out.seal(nil, recordHandshake, []byte{typeEncryptedExtensions, 0, 0, 2, 0, 0})
		rec[len(rec)-1] ^= 1
		s.conn.Write(rec)
	}
	for _, tc := range []struct {
		name   string
		during func(*fakeServer) // replaces the server flight
		after  func(*fakeServer) // runs after a good handshake
		want   error
	}{
		{"oversized record in the handshake", oversized, nil, ErrRecordOverflow},
		{"truncated record in the handshake", truncated, nil, ErrTruncated},
		{"record that does not decrypt", garbled, nil, ErrBadRecordMAC},
		{"oversized record after the handshake", nil, oversized, ErrRecordOverflow},
		{"truncated record after the handshake", nil, truncated, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialFake(t, &fakeServer{flight: tc.during, after: tc.after})
			if tc.after != nil {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				c.SetReadDeadline(time.Now().Add(deadline))
				_, err = c.Read(make([]byte, 10))
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// TestUselessRecords: a server that sends only empty records cannot keep
// a Read busy forever.
func TestUselessRecords(t *testing.T) {
	c, err := dialFake(t, &fakeServer{after: func(s *fakeServer) {
		for range maxUselessRecords + 1 {
			s.writeSealed(recordApplicationData, nil)
		}
		s.clientAlert()
	}})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(deadline))
	if _, err := c.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "without application data") {
		t.Fatalf("Read = %v, want a refusal of records without data", err)
	}
}

// TestHandshakeContext: a server that never answers holds the handshake
// only until the context ends.
func TestHandshakeContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = Client(nc, smpConfig()).HandshakeContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > deadline/2 {
		t.Fatalf("HandshakeContext = %v after %v, want the context's deadline at once", err, time.Since(start))
	}
}
