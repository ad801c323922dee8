package smpclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// TestMain fails the package's tests if any goroutine is left running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// seen bounds how long a test waits for something that should happen at
// once (a dropped connection, an event); it only matters when a test fails.
const seen = 5 * time.Second

// waitFor polls cond until it holds, failing the test with what after seen.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(seen)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v: %s", seen, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newServer(t testing.TB, cfg smptest.Config) *smptest.Server {
	t.Helper()
	srv, err := smptest.NewServer(cfg)
	if err != nil {
		t.Fatalf("smptest.NewServer: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func dial(t testing.TB, srv *smptest.Server, cfg smpclient.Config) *smpclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), seen)
	defer cancel()
	c, err := smpclient.Dial(ctx, srv.Address(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newQueues(t testing.TB, srv *smptest.Server, alg smpclient.Algorithm, n int) []smpclient.Queue {
	t.Helper()
	qs := make([]smpclient.Queue, n)
	for i := range qs {
		q, err := srv.NewQueue(alg)
		if err != nil {
			t.Fatal(err)
		}
		qs[i] = q
	}
	return qs
}

func subscribeOK(t testing.TB, c *smpclient.Client, qs ...smpclient.Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), seen)
	defer cancel()
	for i, r := range c.Subscribe(ctx, qs) {
		if r.Err != nil {
			t.Fatalf("Subscribe: queue %d: %v", i, r.Err)
		}
	}
}

// waitDone waits for c to stop and fails the test with msg if it does not.
func waitDone(t testing.TB, c *smpclient.Client, msg string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(seen):
		t.Fatal(msg)
	}
}

func nextEvent(t testing.TB, c *smpclient.Client) smpclient.Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("Events closed: %v", c.Err())
		}
		return ev
	case <-time.After(seen):
		t.Fatalf("no event within %v", seen)
	}
	return smpclient.Event{}
}

func TestDialReportsConnection(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{})
	info := c.Info()
	if info.TLSVersion != tls.VersionTLS13 || info.ALPN != "smp/1" || info.Version != 18 ||
		info.ServerMin != 6 || info.ServerMax != 18 || len(info.SessionID) != 32 {
		t.Errorf("Info() = %+v", info)
	}
	if len(info.Chain.Certs) != 2 || info.Chain.Certs[0].KeyType != "Ed25519" || info.Chain.Certs[1].Role != "identity" ||
		!info.Chain.KeyHashMatch || !info.Chain.PathValidated {
		t.Errorf("Info().Chain = %+v", info.Chain)
	}
	rtt, err := c.Ping(t.Context())
	if err != nil || rtt <= 0 {
		t.Errorf("Ping() = %v, %v", rtt, err)
	}
}

func TestDialFixtureCertificates(t *testing.T) {
	dir := "../../shared/testdata/smp/fixtures/ed25519"
	cert, err := smptest.LoadCertificate(filepath.Join(dir, "server.crt"), filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatalf("loading the Ed25519 fixtures (clone shared/ beside the repository): %v", err)
	}
	srv := newServer(t, smptest.Config{Certificate: &cert})
	if got, want := srv.KeyHash().String(), "evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys="; got != want {
		t.Fatalf("fixture key hash = %s, want %s", got, want)
	}
	c := dial(t, srv, smpclient.Config{})
	subscribeOK(t, c, newQueues(t, srv, smpclient.Ed25519, 3)...)
}

// TestSubscribe10000 checks batching: 10,000 Ed25519 NSUBs at v18 travel
// 134 per block, pipelined, and are all confirmed.
func TestSubscribe10000(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{})
	qs := newQueues(t, srv, smpclient.Ed25519, 10000)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	res := c.Subscribe(ctx, qs)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("result %d: %v", i, r.Err)
		}
		if !bytes.Equal(r.NotifierID, qs[i].NotifierID) {
			t.Fatalf("result %d is for another queue", i)
		}
	}
	st := srv.Stats()
	if st.Confirmed != 10000 {
		t.Errorf("server confirmed %d NSUBs, want 10000", st.Confirmed)
	}
	if want := int64((10000 + 133) / 134); st.Blocks != want {
		t.Errorf("NSUBs arrived in %d blocks, want %d (134 per block)", st.Blocks, want)
	}
}

func TestSubscribeKeyTypes(t *testing.T) {
	for _, alg := range []smpclient.Algorithm{smpclient.Ed25519, smpclient.Ed448, smpclient.X25519} {
		t.Run(alg.String(), func(t *testing.T) {
			srv := newServer(t, smptest.Config{})
			c := dial(t, srv, smpclient.Config{})
			subscribeOK(t, c, newQueues(t, srv, alg, 300)...)
		})
	}
}

func TestSubscribeErrAuth(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{})
	good := newQueues(t, srv, smpclient.Ed25519, 2)
	wrongKey, _ := smpclient.GenerateKey(smpclient.Ed25519)
	unknown, _ := smpclient.GenerateKey(smpclient.Ed25519)
	qs := []smpclient.Queue{
		good[0],
		{NotifierID: good[1].NotifierID, Key: wrongKey},
		{NotifierID: []byte("no-such-queue-0123456789"), Key: unknown},
	}
	res := c.Subscribe(t.Context(), qs)
	if res[0].Err != nil {
		t.Errorf("good queue: %v", res[0].Err)
	}
	for _, i := range []int{1, 2} {
		if !errors.Is(res[i].Err, smpclient.ErrAuth) || smpclient.IsTemporary(res[i].Err) {
			t.Errorf("queue %d: err = %v, want final ERR AUTH", i, res[i].Err)
		}
		var se *smpclient.ServerError
		if !errors.As(res[i].Err, &se) || se.Code != smpclient.CodeAuth {
			t.Errorf("queue %d: err %v is not a *ServerError with code AUTH", i, res[i].Err)
		}
	}
	if srv.Subscribed(good[1].NotifierID) {
		t.Errorf("queue with the wrong key was subscribed")
	}
}

func TestEvents(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{})
	qs := newQueues(t, srv, smpclient.Ed25519, 2)
	subscribeOK(t, c, qs...)

	// NMSG with metadata only the recipient can decrypt.
	rcv, _ := smpclient.GenerateKey(smpclient.X25519)
	srvNtf, _ := smpclient.GenerateKey(smpclient.X25519)
	secret, _ := smpclient.DH(srvNtf, rcv.Public())
	nonce := [smpclient.NonceSize]byte{1, 2, 3}
	ts := time.Unix(1700000000, 0)
	enc, _ := smpclient.EncryptNMsgMeta(&secret, &nonce, []byte("message-id-0123456789012"), ts)
	if err := srv.SendNMSG(qs[0].NotifierID, nonce, enc); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, c)
	nm, ok := ev.Msg.(smpclient.NMSG)
	if !ok || !bytes.Equal(ev.NotifierID, qs[0].NotifierID) || nm.Nonce != nonce || !bytes.Equal(nm.EncMeta, enc) {
		t.Fatalf("event = %+v, want the NMSG as sent", ev)
	}
	secret2, _ := smpclient.DH(rcv, srvNtf.Public())
	meta, err := smpclient.DecryptNMsgMeta(&secret2, &nm.Nonce, nm.EncMeta)
	if err != nil || string(meta.MsgID) != "message-id-0123456789012" || !meta.Timestamp.Equal(ts) {
		t.Errorf("DecryptNMsgMeta = %+v, %v", meta, err)
	}

	if err := srv.SendEND(qs[0].NotifierID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, c); !isMsg[smpclient.END](ev) || !bytes.Equal(ev.NotifierID, qs[0].NotifierID) {
		t.Errorf("event = %+v, want END", ev)
	}
	if err := srv.DeleteQueue(qs[1].NotifierID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, c); !isMsg[smpclient.DELD](ev) || !bytes.Equal(ev.NotifierID, qs[1].NotifierID) {
		t.Errorf("event = %+v, want DELD", ev)
	}
}

func isMsg[M smpclient.Message](ev smpclient.Event) bool {
	_, ok := ev.Msg.(M)
	return ok
}

// TestTakeover: a second connection subscribing the same queue moves the
// subscription and the first connection gets END.
func TestTakeover(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c1 := dial(t, srv, smpclient.Config{})
	c2 := dial(t, srv, smpclient.Config{})
	q := newQueues(t, srv, smpclient.Ed25519, 1)[0]
	subscribeOK(t, c1, q)
	subscribeOK(t, c2, q)
	if ev := nextEvent(t, c1); !isMsg[smpclient.END](ev) {
		t.Errorf("first connection got %+v, want END", ev)
	}
	if err := srv.SendNMSG(q.NotifierID, [24]byte{}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, c2); !isMsg[smpclient.NMSG](ev) {
		t.Errorf("second connection got %+v, want NMSG", ev)
	}
}

func TestVersionNegotiation(t *testing.T) {
	tests := []struct {
		name      string
		srv       smptest.Config
		cli       smpclient.Config
		want      uint16 // 0: expect *VersionError
		wantInErr string
	}{
		{name: "current", want: 18},
		{name: "server 6..15 answers OK", srv: smptest.Config{MaxVersion: 15}, want: 15},
		{name: "client max 16", cli: smpclient.Config{MaxVersion: 16}, want: 16},
		{name: "server 7..7", srv: smptest.Config{MinVersion: 7, MaxVersion: 7}, want: 7},
		{name: "no ALPN means v6 only", srv: smptest.Config{NoALPN: true}, wantInErr: "no ALPN"},
		{name: "server too new", srv: smptest.Config{MinVersion: 19, MaxVersion: 20}, wantInErr: "server offers SMP 19..20"},
		{name: "server too old", srv: smptest.Config{MinVersion: 6, MaxVersion: 6}, wantInErr: "client supports 7..18"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.srv)
			c, err := smpclient.Dial(t.Context(), srv.Address(), tt.cli)
			if tt.want == 0 {
				var ve *smpclient.VersionError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.wantInErr) {
					t.Fatalf("Dial error = %v, want *VersionError mentioning %q", err, tt.wantInErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if c.Version() != tt.want {
				t.Errorf("Version() = %d, want %d", c.Version(), tt.want)
			}
			subscribeOK(t, c, newQueues(t, srv, smpclient.Ed25519, 2)...)
		})
	}
}

func TestIdentityChecks(t *testing.T) {
	t.Run("wrong key hash", func(t *testing.T) {
		srv := newServer(t, smptest.Config{})
		addr := srv.Address()
		want := addr.KeyHash
		addr.KeyHash[0] ^= 1
		_, err := smpclient.Dial(t.Context(), addr, smpclient.Config{})
		var khe *smpclient.KeyHashError
		if !errors.As(err, &khe) || khe.Got != want || khe.Want != addr.KeyHash {
			t.Fatalf("Dial error = %v, want *KeyHashError", err)
		}
		if srv.Stats().Conns != 0 {
			t.Errorf("server completed a handshake with a client that refused it")
		}
	})
	t.Run("session key not signed by the leaf", func(t *testing.T) {
		srv := newServer(t, smptest.Config{HelloHook: func(h *smpclient.ServerHello) {
			h.SignedKey = bytes.Clone(h.SignedKey)
			h.SignedKey[len(h.SignedKey)-1] ^= 1
		}})
		_, err := smpclient.Dial(t.Context(), srv.Address(), smpclient.Config{})
		var he *smpclient.HandshakeError
		if !errors.As(err, &he) || he.Reason != "bad_auth" {
			t.Fatalf("Dial error = %v, want HANDSHAKE bad_auth", err)
		}
	})
	t.Run("hello chain differs from the key hash", func(t *testing.T) {
		other, _ := smptest.GenerateCertificate()
		srv := newServer(t, smptest.Config{HelloHook: func(h *smpclient.ServerHello) { h.CertChain = other.Certificate }})
		_, err := smpclient.Dial(t.Context(), srv.Address(), smpclient.Config{})
		var he *smpclient.HandshakeError
		if !errors.As(err, &he) || he.Reason != "bad_auth" {
			t.Fatalf("Dial error = %v, want HANDSHAKE bad_auth", err)
		}
	})
	t.Run("session id differs from the client Finished", func(t *testing.T) {
		// crypto/tls under TLS 1.3: the client Finished is recovered from
		// its key log, so the reference's session check runs here too.
		srv := newServer(t, smptest.Config{HelloHook: func(h *smpclient.ServerHello) { h.SessionID[0] ^= 1 }})
		_, err := smpclient.Dial(t.Context(), srv.Address(), smpclient.Config{})
		var he *smpclient.HandshakeError
		if !errors.As(err, &he) || he.Reason != "session" {
			t.Fatalf("Dial error = %v, want HANDSHAKE session", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		a := ln.Addr().String()
		ln.Close()
		addr, _ := smpclient.ParseServerAddress("smp://evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys@" + a)
		_, err := smpclient.Dial(t.Context(), addr, smpclient.Config{})
		var de *smpclient.DialError
		if !errors.As(err, &de) {
			t.Fatalf("Dial error = %v, want *DialError", err)
		}
	})
}

func TestTLS12SessionID(t *testing.T) {
	srv := newServer(t, smptest.Config{TLSMaxVersion: tls.VersionTLS12})
	c := dial(t, srv, smpclient.Config{})
	if info := c.Info(); info.TLSVersion != tls.VersionTLS12 || len(info.SessionID) != 12 {
		t.Errorf("Info() = TLS %x, session id %d bytes; want TLS 1.2 with a 12-byte tls-unique", info.TLSVersion, len(info.SessionID))
	}
	subscribeOK(t, c, newQueues(t, srv, smpclient.Ed25519, 5)...)
}

func TestBlockEncryption(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{BlockEncryption: true})
	if !c.Info().BlockEncryption {
		t.Fatalf("block encryption not negotiated")
	}
	qs := newQueues(t, srv, smpclient.Ed25519, 500)
	subscribeOK(t, c, qs...)
	if err := srv.SendNMSG(qs[7].NotifierID, [24]byte{9}, []byte("meta")); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, c); !isMsg[smpclient.NMSG](ev) {
		t.Errorf("event = %+v", ev)
	}
}

// TestConnectionDropSeenAtOnce: a dropped connection closes Done and
// Events and fails a pending Subscribe without waiting for its ctx.
func TestConnectionDropSeenAtOnce(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{})
	qs := newQueues(t, srv, smpclient.Ed25519, 3)
	subscribeOK(t, c, qs[0])

	srv.Stall()
	done := make(chan []smpclient.Result)
	go func() { done <- c.Subscribe(context.Background(), qs[1:]) }()
	// Wait until the NSUBs reached the server, then drop the connection.
	waitFor(t, "two blocks at the server", func() bool { return srv.Stats().Blocks >= 2 })
	start := time.Now()
	srv.DropConnections()
	select {
	case res := <-done:
		var ce *smpclient.ConnError
		if !errors.As(res[0].Err, &ce) || !smpclient.IsTemporary(res[0].Err) {
			t.Errorf("pending Subscribe err = %v, want a temporary *ConnError", res[0].Err)
		}
	case <-time.After(seen):
		t.Fatalf("pending Subscribe still waiting %v after the drop", seen)
	}
	waitDone(t, c, "Done not closed")
	if _, ok := <-c.Events(); ok {
		t.Errorf("Events delivered after the drop")
	}
	if err := c.Err(); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) {
		var ce *smpclient.ConnError
		if !errors.As(err, &ce) {
			t.Errorf("Err() = %v, want *ConnError", err)
		}
	}
	t.Logf("drop seen after %v", time.Since(start))
	srv.Resume()
	if _, err := c.Ping(t.Context()); err == nil {
		t.Errorf("Ping after the drop succeeded")
	}
}

func TestKeepaliveTimeout(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{PingInterval: 20 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	// Keepalive pings flow while the server answers.
	waitFor(t, "two keepalive pings", func() bool { return srv.Stats().Pings >= 2 })
	srv.Stall()
	waitDone(t, c, "stalled server not detected")
	if !errors.Is(c.Err(), smpclient.ErrKeepaliveTimeout) {
		t.Errorf("Err() = %v, want ErrKeepaliveTimeout", c.Err())
	}
}

func TestSubscribeContextExpiry(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{})
	qs := newQueues(t, srv, smpclient.Ed25519, 2)
	srv.Stall()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	res := c.Subscribe(ctx, qs)
	for _, r := range res {
		if !errors.Is(r.Err, context.DeadlineExceeded) || !smpclient.IsTemporary(r.Err) {
			t.Errorf("err = %v, want a temporary context.DeadlineExceeded", r.Err)
		}
	}
	srv.Resume()
	// The connection survives; late answers are dropped.
	if _, err := c.Ping(t.Context()); err != nil {
		t.Errorf("Ping after expiry: %v", err)
	}
	subscribeOK(t, c, qs...)
}

func TestBadBlockStopsConnection(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{})
	// The server registers a connection just after the client hello; a
	// round trip makes sure it has.
	if _, err := c.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := srv.SendBadBlock(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c, "bad block not detected")
	if !errors.Is(c.Err(), smpclient.ErrMalformed) {
		t.Errorf("Err() = %v, want ErrMalformed", c.Err())
	}
}

func TestClose(t *testing.T) {
	srv := newServer(t, smptest.Config{})
	c := dial(t, srv, smpclient.Config{})
	q := newQueues(t, srv, smpclient.Ed25519, 1)
	srv.Stall()
	done := make(chan []smpclient.Result)
	go func() { done <- c.Subscribe(context.Background(), q) }()
	waitFor(t, "a block at the server", func() bool { return srv.Stats().Blocks >= 1 })
	c.Close()
	var res []smpclient.Result
	select {
	case res = <-done:
	case <-time.After(seen):
		t.Fatalf("pending Subscribe still waiting %v after Close", seen)
	}
	if !errors.Is(res[0].Err, smpclient.ErrClosed) {
		t.Errorf("pending Subscribe err = %v, want ErrClosed", res[0].Err)
	}
	if _, ok := <-c.Events(); ok {
		t.Errorf("Events still open after Close")
	}
	if _, err := c.Ping(t.Context()); !errors.Is(err, smpclient.ErrClosed) {
		t.Errorf("Ping after Close = %v, want ErrClosed", err)
	}
	c.Close() // idempotent
	srv.Resume()
}
