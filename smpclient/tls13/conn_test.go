package tls13

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

// deadline bounds every wait of these tests; it only matters on failure.
const deadline = 10 * time.Second

// ed25519Chain returns a [leaf, CA] chain made with crypto/x509.
func ed25519Chain(t testing.TB) tls.Certificate {
	t.Helper()
	caPub, caKey, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now().Add(-time.Hour)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: now, NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caPub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafPub, leafKey, _ := ed25519.GenerateKey(rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"}, NotBefore: now, NotAfter: now.Add(48 * time.Hour)}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, leafPub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
}

// goServer serves TLS with crypto/tls on loopback; each connection runs
// handle. It returns the address.
func goServer(t testing.TB, cfg *tls.Config, handle func(*tls.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(nc, cfg)
				defer tc.Close()
				tc.SetDeadline(time.Now().Add(deadline))
				if tc.Handshake() == nil {
					handle(tc)
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// echo copies what the client sends back to it.
func echo(tc *tls.Conn) { io.Copy(tc, tc) }

// dialTLS13 connects and handshakes with the given config.
func dialTLS13(t testing.TB, addr string, cfg *Config) (*Conn, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		t.Fatal(err)
	}
	c := Client(nc, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

func acceptAll([][]byte) error { return nil }

func smpConfig() *Config {
	return &Config{NextProtos: []string{"smp/1"}, VerifyPeerCertificate: acceptAll}
}

// roundTrip sends n bytes and reads them back through an echo server.
func roundTrip(t *testing.T, c *Conn, n int) {
	t.Helper()
	c.SetDeadline(time.Now().Add(deadline))
	msg := make([]byte, n)
	rand.Read(msg)
	errc := make(chan error, 1)
	go func() { _, err := c.Write(msg); errc <- err }()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echoed data differs")
	}
}

func TestGoServerEd25519(t *testing.T) {
	cert := ed25519Chain(t)
	addr := goServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, NextProtos: []string{"smp/1"}}, echo)
	var seen [][]byte
	cfg := smpConfig()
	cfg.VerifyPeerCertificate = func(raw [][]byte) error { seen = raw; return nil }
	c, err := dialTLS13(t, addr, cfg)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	st := c.ConnectionState()
	if st.Version != VersionTLS13 || st.NegotiatedProtocol != "smp/1" || len(st.ClientFinished) != 32 && len(st.ClientFinished) != 48 ||
		len(st.PeerCertificates) != 2 || !bytes.Equal(st.PeerCertificates[1], cert.Certificate[1]) || len(seen) != 2 {
		t.Fatalf("state = %+v", st)
	}
	if st.CipherSuite != TLS_CHACHA20_POLY1305_SHA256 && st.CipherSuite != TLS_AES_256_GCM_SHA384 {
		t.Errorf("suite %#x", st.CipherSuite)
	}
	roundTrip(t, c, 100_000)
}

// TestClientKeyUpdate makes the client update its sending key every two
// records; crypto/tls must keep decrypting.
func TestClientKeyUpdate(t *testing.T) {
	cert := ed25519Chain(t)
	addr := goServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, echo)
	c, err := dialTLS13(t, addr, smpConfig())
	if err != nil {
		t.Fatal(err)
	}
	c.keyUpdateAfter = 2
	first := c.out.secret
	roundTrip(t, c, 10*maxPlaintext)
	if bytes.Equal(first, c.out.secret) {
		t.Error("sending key never updated")
	}
}

func TestCloseNotify(t *testing.T) {
	cert := ed25519Chain(t)
	got := make(chan error, 1)
	addr := goServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, func(tc *tls.Conn) {
		_, err := tc.Read(make([]byte, 1))
		got <- err
	})
	c, err := dialTLS13(t, addr, smpConfig())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case err := <-got:
		if !errors.Is(err, io.EOF) {
			t.Errorf("server read after Close = %v, want io.EOF (close_notify)", err)
		}
	case <-time.After(deadline):
		t.Fatal("server saw nothing")
	}
}

func TestServerCloseNotify(t *testing.T) {
	cert := ed25519Chain(t)
	addr := goServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, func(tc *tls.Conn) {
		tc.Write([]byte("bye"))
		tc.CloseWrite()
		io.Copy(io.Discard, tc)
	})
	c, err := dialTLS13(t, addr, smpConfig())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(deadline))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "bye" {
		t.Errorf("ReadAll = %q, %v; want \"bye\" then a clean io.EOF", b, err)
	}
}
