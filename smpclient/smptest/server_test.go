package smptest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trystgw/tryst/smpclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rawConn is a hand-driven client connection, to test what the fake does
// with input smpclient never sends.
type rawConn struct {
	t         *testing.T
	tc        *tls.Conn
	sessionID []byte
	version   uint16
}

func rawDial(t *testing.T, s *Server, version uint16, keyHash smpclient.KeyHash) *rawConn {
	t.Helper()
	tc, err := tls.Dial("tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{smpclient.ALPN}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	r := &rawConn{t: t, tc: tc, version: version}
	content := r.readContent()
	h, err := smpclient.ParseServerHello(content)
	if err != nil {
		t.Fatal(err)
	}
	r.sessionID = h.SessionID
	r.writeContent(smpclient.ClientHello{Version: version, KeyHash: keyHash}.AppendBinary(nil))
	return r
}

func (r *rawConn) readContent() []byte {
	r.t.Helper()
	block := make([]byte, smpclient.BlockSize)
	if _, err := io.ReadFull(r.tc, block); err != nil {
		r.t.Fatalf("reading a block: %v", err)
	}
	content, err := smpclient.Unpad(block)
	if err != nil {
		r.t.Fatal(err)
	}
	return content
}

func (r *rawConn) writeContent(content []byte) {
	r.t.Helper()
	block, err := smpclient.Pad(content, smpclient.BlockSize)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.tc.Write(block); err != nil {
		r.t.Fatal(err)
	}
}

// roundTrip sends one transmission and returns the decoded response.
func (r *rawConn) roundTrip(tr []byte) (smpclient.Transmission, smpclient.Message) {
	r.t.Helper()
	content, err := smpclient.EncodeBatch(tr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.writeContent(content)
	return r.readResponse()
}

func (r *rawConn) readResponse() (smpclient.Transmission, smpclient.Message) {
	r.t.Helper()
	ts, err := smpclient.ParseBatch(r.readContent(), nil)
	if err != nil || len(ts) != 1 {
		r.t.Fatalf("response batch: %d transmissions, %v", len(ts), err)
	}
	resp, err := smpclient.ParseTransmission(ts[0], r.version)
	if err != nil {
		r.t.Fatal(err)
	}
	msg, err := smpclient.ParseMessage(resp.Command)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp, msg
}

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func signedNSUB(t *testing.T, r *rawConn, q smpclient.Queue, corrID []byte, withServiceTag bool) []byte {
	t.Helper()
	signed := smpclient.AppendAuthorized(nil, r.sessionID, corrID, q.NotifierID, []byte("NSUB"))
	sig := sign(t, q.Key, signed)
	tr, err := smpclient.AppendTransmission(nil, smpclient.Transmission{Auth: sig, CorrID: corrID, EntityID: q.NotifierID, Command: []byte("NSUB")}, r.version)
	if err != nil {
		t.Fatal(err)
	}
	if !withServiceTag {
		// Drop the v16 "0" that follows the authorization.
		i := 1 + len(sig)
		tr = append(tr[:i:i], tr[i+1:]...)
	}
	return tr
}

// sign signs with an Ed25519 queue key through its PKCS#8 form.
func sign(t *testing.T, k *smpclient.PrivateKey, msg []byte) []byte {
	t.Helper()
	der := k.MarshalPKCS8()
	seed := der[len(der)-32:]
	return ed25519Sign(seed, msg)
}

func TestServerV16Rules(t *testing.T) {
	s := newTestServer(t)
	q, err := s.NewQueue(smpclient.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	r := rawDial(t, s, 18, s.KeyHash())
	corr := bytes.Repeat([]byte{1}, 24)

	// Without the "0" after the authorization the transmission does not
	// parse: ERR BLOCK with an empty corrId, and the connection stays.
	resp, msg := r.roundTrip(signedNSUB(t, r, q, corr, false))
	if e, ok := msg.(smpclient.ERR); !ok || !errors.Is(e.Err, smpclient.ErrBlock) || len(resp.CorrID) != 0 {
		t.Errorf("NSUB without the service tag: %+v %v, want ERR BLOCK", resp, msg)
	}
	resp, msg = r.roundTrip(signedNSUB(t, r, q, corr, true))
	if _, ok := msg.(smpclient.SOK); !ok || !bytes.Equal(resp.CorrID, corr) || !bytes.Equal(resp.EntityID, q.NotifierID) {
		t.Errorf("NSUB: %+v %v, want SOK 0", resp, msg)
	}
	// Unknown commands and PING.
	tr, _ := smpclient.AppendTransmission(nil, smpclient.Transmission{CorrID: corr, Command: []byte("NOPE")}, 18)
	if _, msg := r.roundTrip(tr); !isErr(msg, smpclient.ErrCmdUnknown) {
		t.Errorf("unknown command: %v, want ERR CMD UNKNOWN", msg)
	}
	// A malformed block gets ERR BLOCK, and the connection goes on.
	r.writeContent([]byte{3, 0, 1})
	if _, msg := r.readResponse(); !isErr(msg, smpclient.ErrBlock) {
		t.Errorf("malformed block: %v, want ERR BLOCK", msg)
	}
	tr, _ = smpclient.AppendTransmission(nil, smpclient.Transmission{CorrID: corr, Command: []byte("PING")}, 18)
	if _, msg := r.roundTrip(tr); msg != (smpclient.Pong{}) {
		t.Errorf("PING: %v, want PONG", msg)
	}
}

func isErr(m smpclient.Message, target error) bool {
	e, ok := m.(smpclient.ERR)
	return ok && errors.Is(e.Err, target)
}

func TestServerClosesOnWrongKeyHash(t *testing.T) {
	s := newTestServer(t)
	r := rawDial(t, s, 18, smpclient.KeyHash{1})
	if _, err := io.ReadFull(r.tc, make([]byte, 1)); err == nil {
		t.Errorf("server kept a connection whose hello named another key hash")
	}
}

func ed25519Sign(seed, msg []byte) []byte { return ed25519.Sign(ed25519.NewKeyFromSeed(seed), msg) }
