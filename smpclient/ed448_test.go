package smpclient_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
	"github.com/trystgw/tryst/smpclient/tls13"
)

// newFront starts a Plain fake server with a fresh Ed448 chain behind a
// TLS front (OpenSSL through Python's ssl module).
func newFront(t testing.TB, cfg smptest.Config, fcfg smptest.FrontConfig) (*smptest.Server, *smptest.Front) {
	t.Helper()
	srv := newServerWithEd448(t, cfg)
	return srv, startFront(t, srv, fcfg)
}

// countingDialer counts TCP connections opened by Dial.
type countingDialer struct{ n atomic.Int32 }

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func dialAddr(t testing.TB, addr smpclient.ServerAddress, cfg smpclient.Config) (*smpclient.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), seen)
	defer cancel()
	c, err := smpclient.Dial(ctx, addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestEd448ServerEndToEnd: a server with an Ed448 online certificate is
// reached through smpclient/tls13 (after crypto/tls is refused once),
// the session id is checked against the client Finished, and the SMP
// session works: 10,000 NSUBs, NMSG, END and connection loss. The next
// Dial goes straight to smpclient/tls13.
func TestEd448ServerEndToEnd(t *testing.T) {
	srv, front := newFront(t, smptest.Config{}, smptest.FrontConfig{})
	memo := smpclient.NewTLSMemo()
	var dials countingDialer
	cfg := smpclient.Config{TLSMemo: memo, DialContext: dials.dial, BlockEncryption: true}
	c, err := dialAddr(t, front.Address(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	info := c.Info()
	if info.TLS != smpclient.TLS13 || info.TLSVersion != tls.VersionTLS13 || info.CipherSuite != tls13.TLS_CHACHA20_POLY1305_SHA256 && info.CipherSuite != tls13.TLS_AES_256_GCM_SHA384 ||
		info.ALPN != smpclient.ALPN || info.Version != smptest.DefaultMaxVersion || !info.BlockEncryption {
		t.Fatalf("Info() = %+v", info)
	}
	if len(info.Chain.Certs) != 2 || info.Chain.Certs[0].KeyType != "Ed448" || !info.Chain.PathValidated || len(info.SessionID) < 32 {
		t.Fatalf("Info().Chain = %+v, session id %d bytes", info.Chain, len(info.SessionID))
	}
	if n := dials.n.Load(); n != 2 || memo.Get(front.Address()) != smpclient.TLS13 {
		t.Fatalf("%d TCP connections, memo %q; want 2 (crypto/tls refused, then tls13) and tls13 remembered", n, memo.Get(front.Address()))
	}

	qs := sharedKeyQueues(t, srv, 10_000)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, r := range c.Subscribe(ctx, qs) {
		if r.Err != nil {
			t.Fatalf("NSUB %d: %v", i, r.Err)
		}
	}
	if st := srv.Stats(); st.Confirmed != 10_000 {
		t.Fatalf("server confirmed %d NSUBs", st.Confirmed)
	}
	if err := srv.SendNMSG(qs[1234].NotifierID, [24]byte{1, 2, 3}, []byte("meta")); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, c); !isMsg[smpclient.NMSG](ev) || string(ev.NotifierID) != string(qs[1234].NotifierID) {
		t.Fatalf("event = %+v, want NMSG", ev)
	}
	if err := srv.SendEND(qs[9999].NotifierID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, c); !isMsg[smpclient.END](ev) || string(ev.NotifierID) != string(qs[9999].NotifierID) {
		t.Fatalf("event = %+v, want END", ev)
	}
	srv.DropConnections()
	waitDone(t, c, "connection loss not seen")
	var ce *smpclient.ConnError
	if !errors.As(c.Err(), &ce) || !smpclient.IsTemporary(c.Err()) {
		t.Errorf("Err() = %v, want a temporary *ConnError", c.Err())
	}

	c2, err := dialAddr(t, front.Address(), cfg)
	if err != nil {
		t.Fatalf("redial: %v", err)
	}
	if n := dials.n.Load(); n != 3 || c2.Info().TLS != smpclient.TLS13 {
		t.Errorf("redial opened %d connections in all, TLS %q; want one more, straight to tls13", n, c2.Info().TLS)
	}
	subscribeOK(t, c2, qs[:100]...)
}

// TestEd448Refusals: what a server behind the front does wrong is
// reported clearly.
func TestEd448Refusals(t *testing.T) {
	t.Run("wrong key hash", func(t *testing.T) {
		_, front := newFront(t, smptest.Config{}, smptest.FrontConfig{})
		addr := front.Address()
		want := addr.KeyHash
		addr.KeyHash[0] ^= 1
		_, err := dialAddr(t, addr, smpclient.Config{})
		var khe *smpclient.KeyHashError
		if !errors.As(err, &khe) || khe.Got != want {
			t.Fatalf("Dial error = %v, want *KeyHashError", err)
		}
	})
	t.Run("leaf not signed by the identity", func(t *testing.T) {
		other, err := smptest.GenerateEd448Certificate()
		if err != nil {
			t.Fatal(err)
		}
		srv := newServerWithEd448(t, smptest.Config{})
		front := startFront(t, srv, smptest.FrontConfig{Chain: [][]byte{srv.Chain()[0], other.Certificate[1]}})
		_, err = dialAddr(t, front.Address(), smpclient.Config{})
		if err == nil || !strings.Contains(err.Error(), "not validly signed") {
			t.Fatalf("Dial error = %v, want a chain signature error", err)
		}
	})
	t.Run("TLS 1.2 only", func(t *testing.T) {
		_, front := newFront(t, smptest.Config{}, smptest.FrontConfig{TLS12Only: true})
		_, err := dialAddr(t, front.Address(), smpclient.Config{})
		var te *smpclient.TLSError
		if !errors.As(err, &te) || !errors.Is(err, tls13.ErrNotTLS13) {
			t.Fatalf("Dial error = %v, want *TLSError wrapping tls13.ErrNotTLS13", err)
		}
	})
	t.Run("no ALPN", func(t *testing.T) {
		_, front := newFront(t, smptest.Config{}, smptest.FrontConfig{NoALPN: true})
		_, err := dialAddr(t, front.Address(), smpclient.Config{})
		var ve *smpclient.VersionError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "no ALPN") {
			t.Fatalf("Dial error = %v, want *VersionError naming the missing ALPN", err)
		}
	})
	t.Run("session id differs from the client Finished", func(t *testing.T) {
		_, front := newFront(t, smptest.Config{HelloHook: func(h *smpclient.ServerHello) { h.SessionID[0] ^= 1 }}, smptest.FrontConfig{})
		_, err := dialAddr(t, front.Address(), smpclient.Config{})
		var he *smpclient.HandshakeError
		if !errors.As(err, &he) || he.Reason != "session" {
			t.Fatalf("Dial error = %v, want HANDSHAKE session", err)
		}
	})
}

// newServerWithEd448 starts a Plain fake server with an Ed448 chain.
func newServerWithEd448(t testing.TB, cfg smptest.Config) *smptest.Server {
	t.Helper()
	cert, err := smptest.GenerateEd448Certificate()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plain, cfg.Certificate = true, &cert
	return newServer(t, cfg)
}

// startFront starts a TLS front for srv (see smptest.NewTestFront).
func startFront(t testing.TB, srv *smptest.Server, fcfg smptest.FrontConfig) *smptest.Front {
	t.Helper()
	return smptest.NewTestFront(t, srv, fcfg)
}

// sharedKeyQueues registers n queues with random notifier ids and one
// Ed25519 key: generating 10,000 keys would dominate the test's time
// under the race detector, and NSUBs are signed per queue all the same.
func sharedKeyQueues(t testing.TB, srv *smptest.Server, n int) []smpclient.Queue {
	t.Helper()
	q, err := srv.NewQueue(smpclient.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	qs := make([]smpclient.Queue, n)
	for i := range qs {
		id := make([]byte, 24)
		rand.Read(id)
		srv.AddQueue(id, q.Key.Public())
		qs[i] = smpclient.Queue{NotifierID: id, Key: q.Key}
	}
	return qs
}
