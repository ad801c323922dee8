package tls13

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
)

// FinishedCapture recovers the client Finished verify_data (tls-unique)
// of a TLS 1.3 handshake run by crypto/tls, which does not expose it.
// It records the bytes the client sends during the handshake and takes
// the client handshake traffic secret from crypto/tls's key log, then
// decrypts the client's Finished itself. Use one per connection:
//
//	fc := NewFinishedCapture()
//	cfg.KeyLogWriter = fc
//	tc := tls.Client(fc.Conn(raw, false), cfg) // tls.Server(fc.Conn(raw, true), cfg) on a server
//	... handshake ...
//	tlsUnique, err := fc.ClientFinished(tc.ConnectionState().CipherSuite)
//
// The secret never leaves the capture and is dropped by ClientFinished,
// which also stops the recording.
type FinishedCapture struct {
	mu     sync.Mutex
	secret []byte // client handshake traffic secret
	sent   []byte // client-to-server bytes
	done   bool
}

// maxCapture bounds the recorded handshake bytes (client hellos, an
// optional certificate and the Finished).
const maxCapture = 4 * (recordHeaderLen + maxCiphertext)

var errCaptureFull = errors.New("tls13: capture: handshake longer than expected")

// NewFinishedCapture returns an empty capture.
func NewFinishedCapture() *FinishedCapture { return &FinishedCapture{} }

// Write takes one NSS key log line (tls.Config.KeyLogWriter) and keeps
// the client handshake traffic secret.
func (f *FinishedCapture) Write(line []byte) (int, error) {
	fields := bytes.Fields(line)
	if len(fields) == 3 && string(fields[0]) == "CLIENT_HANDSHAKE_TRAFFIC_SECRET" {
		secret, err := hex.DecodeString(string(fields[2]))
		if err != nil {
			return 0, err
		}
		f.mu.Lock()
		f.secret = secret
		f.mu.Unlock()
	}
	return len(line), nil
}

// record appends client-to-server bytes until the capture is done.
func (f *FinishedCapture) record(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return
	}
	if len(f.sent)+len(b) > maxCapture {
		f.done, f.sent = true, nil // ClientFinished reports the failure
		return
	}
	f.sent = append(f.sent, b...)
}

// Conn wraps conn so that the client's bytes are recorded: the writes on
// a client, the reads on a server.
func (f *FinishedCapture) Conn(conn net.Conn, server bool) net.Conn {
	return &captureConn{Conn: conn, f: f, server: server}
}

type captureConn struct {
	net.Conn
	f      *FinishedCapture
	server bool
}

func (c *captureConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.server && n > 0 {
		c.f.record(b[:n])
	}
	return n, err
}

func (c *captureConn) Write(b []byte) (int, error) {
	if !c.server {
		c.f.record(b)
	}
	return c.Conn.Write(b)
}

// Stop ends the recording and drops what was kept, for a handshake that
// did not negotiate TLS 1.3.
func (f *FinishedCapture) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secret, f.sent, f.done = nil, nil, true
}

// ClientFinished returns the verify_data of the client Finished of a
// completed TLS 1.3 handshake with suite. It ends the recording.
func (f *FinishedCapture) ClientFinished(suiteID uint16) ([]byte, error) {
	f.mu.Lock()
	secret, sent := f.secret, f.sent
	f.secret, f.sent, f.done = nil, nil, true
	f.mu.Unlock()
	s := suiteByID(suiteID)
	if suiteID == tlsAES128GCMSHA256.id {
		s = &tlsAES128GCMSHA256
	}
	switch {
	case s == nil:
		return nil, fmt.Errorf("tls13: capture: cipher suite %#04x", suiteID)
	case secret == nil:
		return nil, errors.New("tls13: capture: no client handshake traffic secret was logged")
	case sent == nil:
		return nil, errCaptureFull
	}
	var h halfConn
	if err := h.setKey(s, secret); err != nil {
		return nil, err
	}
	return findClientFinished(&h, sent, s.hash.Size())
}

// findClientFinished walks the client's records: plaintext hellos and
// change_cipher_spec are skipped, protected records are decrypted until
// a Finished message appears.
func findClientFinished(h *halfConn, sent []byte, size int) ([]byte, error) {
	var hs []byte
	for len(sent) >= recordHeaderLen {
		n := int(sent[3])<<8 | int(sent[4])
		if len(sent) < recordHeaderLen+n {
			break
		}
		rec := sent[:recordHeaderLen+n]
		sent = sent[recordHeaderLen+n:]
		if rec[0] != recordApplicationData {
			continue
		}
		typ, content, err := h.open(rec)
		if err != nil {
			return nil, fmt.Errorf("tls13: capture: %w", err)
		}
		if typ != recordHandshake {
			break
		}
		hs = append(hs, content...)
		for len(hs) >= 4 {
			n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if len(hs) < 4+n {
				break
			}
			if hs[0] == typeFinished && n == size {
				return bytes.Clone(hs[4 : 4+n]), nil
			}
			hs = hs[4+n:]
		}
	}
	return nil, errors.New("tls13: capture: no client Finished in the recorded handshake")
}
