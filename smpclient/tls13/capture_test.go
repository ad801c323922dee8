package tls13

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// TestFinishedCapture: a crypto/tls server recovers the client Finished
// of this package's client (which computes it itself), and a crypto/tls
// client and server, each with a capture, agree on it.
func TestFinishedCapture(t *testing.T) {
	cert := ed25519Chain(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 2)
	go func() {
		for range 2 {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			fc := NewFinishedCapture()
			tc := tls.Server(fc.Conn(nc, true), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, KeyLogWriter: fc})
			tc.SetDeadline(time.Now().Add(deadline))
			var fin []byte
			if tc.Handshake() == nil {
				fin, err = fc.ClientFinished(tc.ConnectionState().CipherSuite)
				if err != nil {
					t.Errorf("server capture: %v", err)
				}
			}
			got <- fin
			tc.Close()
		}
	}()
	c, err := dialTLS13(t, ln.Addr().String(), smpConfig())
	if err != nil {
		t.Fatal(err)
	}
	if fin := <-got; len(fin) == 0 || !bytes.Equal(fin, c.ConnectionState().ClientFinished) {
		t.Errorf("server captured %x, client computed %x", fin, c.ConnectionState().ClientFinished)
	}

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fc := NewFinishedCapture()
	tc := tls.Client(fc.Conn(nc, false), &tls.Config{InsecureSkipVerify: true, KeyLogWriter: fc, MinVersion: tls.VersionTLS13})
	tc.SetDeadline(time.Now().Add(deadline))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	fin, err := fc.ClientFinished(tc.ConnectionState().CipherSuite)
	if srv := <-got; err != nil || len(fin) != 32 || !bytes.Equal(fin, srv) {
		t.Errorf("crypto/tls client captured %x (%v), server %x", fin, err, srv)
	}
	tc.Close()
}
