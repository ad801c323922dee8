package tls13

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a client connection.
type Config struct {
	// NextProtos are the ALPN protocols offered, most preferred first
	// (SMP: "smp/1"). Empty sends no ALPN extension.
	NextProtos []string
	// VerifyPeerCertificate judges the server's raw DER chain, leaf
	// first. It is required: this package checks only that the leaf key
	// signed the handshake, never who the server is. Its error aborts
	// the handshake and is wrapped in the one Handshake returns.
	VerifyPeerCertificate func(rawCerts [][]byte) error
	// Rand supplies randomness (client random, key shares); nil means
	// crypto/rand.
	Rand io.Reader
}

// ConnectionState describes a completed handshake.
type ConnectionState struct {
	Version            uint16 // always VersionTLS13
	CipherSuite        uint16
	NegotiatedProtocol string   // ALPN, "" if the server chose none
	PeerCertificates   [][]byte // raw DER, leaf first
	// ClientFinished is the verify_data of the client's Finished
	// message: "tls-unique" as the reference TLS library reports it
	// under TLS 1.3, and the SMP session id (32 bytes with SHA-256, 48
	// with SHA-384).
	ClientFinished []byte
	// HelloRetried is true when the server sent a HelloRetryRequest.
	HelloRetried bool
}

const (
	// closeNotifyTimeout bounds sending close_notify in Close.
	closeNotifyTimeout = 5 * time.Second
	// defaultKeyUpdateAfter is how many records one sending key
	// protects before the client moves to the next one (AES-GCM's
	// limit is 2^24.5 records, RFC 8446 §5.5).
	defaultKeyUpdateAfter = 1 << 23
	// maxUselessRecords bounds the records one Read takes that carry no
	// application data (empty records, tickets, key updates, warnings),
	// so a server cannot keep a reader spinning.
	maxUselessRecords = 100
	// maxWriteBatch bounds the plaintext sealed into one write.
	maxWriteBatch = 4 * maxPlaintext
)

// Conn is a TLS 1.3 client connection. Like a net.Conn, one Read and one
// Write may run concurrently. A Read or Write error (including an
// expired deadline) is final for that direction.
type Conn struct {
	conn net.Conn
	cfg  Config

	handshakeMu   sync.Mutex
	handshakeErr  error           // guarded by handshakeMu
	handshakeDone atomic.Bool     // set once the handshake succeeded
	state         ConnectionState // written during the handshake, then immutable

	inMu    sync.Mutex // held while reading
	in      halfConn
	rr      recordReader
	hsBuf   []byte // handshake bytes received but not yet a whole message
	input   []byte // application data decrypted but not yet read
	readErr error
	suite   *suite

	outMu          sync.Mutex // held while writing
	out            halfConn
	wbuf           []byte
	writeErr       error
	keyUpdateAfter uint64

	closed     atomic.Bool
	keyUpdates atomic.Int32 // KeyUpdate messages received, for tests
}

// Client returns a client connection over conn. The handshake runs on
// the first Read or Write, or on Handshake. cfg.VerifyPeerCertificate
// must be set.
func Client(conn net.Conn, cfg *Config) *Conn {
	c := &Conn{conn: conn, cfg: *cfg, keyUpdateAfter: defaultKeyUpdateAfter}
	if c.cfg.Rand == nil {
		c.cfg.Rand = rand.Reader
	}
	c.rr.r = bufio.NewReaderSize(conn, 8<<10)
	return c
}

// Handshake runs the handshake if it has not run yet.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the handshake; cancelling ctx (or its deadline)
// closes the connection and makes the handshake return ctx's error.
func (c *Conn) HandshakeContext(ctx context.Context) (err error) {
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	if c.handshakeDone.Load() {
		return nil
	}
	if c.handshakeErr != nil {
		return c.handshakeErr
	}
	if c.cfg.VerifyPeerCertificate == nil {
		return errors.New("tls13: Config.VerifyPeerCertificate is required")
	}
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	c.inMu.Lock()
	c.outMu.Lock()
	err = c.clientHandshake()
	if err != nil {
		c.sendFatalLocked(err)
		c.readErr, c.writeErr = err, err
	}
	c.outMu.Unlock()
	c.inMu.Unlock()
	if !stop() && ctx.Err() != nil {
		err = fmt.Errorf("tls13: handshake: %w", ctx.Err())
	}
	if err != nil {
		c.handshakeErr = err
		return err
	}
	c.handshakeDone.Store(true)
	return nil
}

// ConnectionState returns the negotiated parameters; the zero value
// until the handshake completed.
func (c *Conn) ConnectionState() ConnectionState {
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	if !c.handshakeDone.Load() {
		return ConnectionState{}
	}
	return c.state
}

// Read reads application data. A close_notify from the server is io.EOF.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.inMu.Lock()
	defer c.inMu.Unlock()
	for useless := 0; len(c.input) == 0; useless++ {
		if c.readErr != nil {
			return 0, c.readErr
		}
		if useless == maxUselessRecords {
			c.readErr = fail(alertUnexpectedMessage, "%d records in a row without application data", useless)
			c.sendFatal(c.readErr)
			continue
		}
		if err := c.readPostHandshake(); err != nil {
			c.readErr = err
			c.sendFatal(err)
		}
	}
	n := copy(b, c.input)
	c.input = c.input[n:]
	return n, nil
}

// readPostHandshake reads one record after the handshake and handles the
// handshake messages it completes.
func (c *Conn) readPostHandshake() error {
	if err := c.readRecord(true); err != nil {
		return err
	}
	for {
		typ, body, _, ok, err := c.nextHandshakeMessage()
		if err != nil || !ok {
			return err
		}
		if err := c.handlePostHandshake(typ, body); err != nil {
			return err
		}
	}
}

// handlePostHandshake processes NewSessionTicket (dropped: no
// resumption) and KeyUpdate.
func (c *Conn) handlePostHandshake(typ uint8, body []byte) error {
	switch typ {
	case typeNewSessionTicket:
		return checkNewSessionTicket(body)
	case typeKeyUpdate:
		requested, err := parseKeyUpdate(body)
		if err != nil {
			return err
		}
		if len(c.hsBuf) != 0 {
			return fail(alertUnexpectedMessage, "KeyUpdate not at the end of its record")
		}
		if err := c.in.setKey(c.suite, c.suite.schedule().nextTrafficSecret(c.in.secret)); err != nil {
			return err
		}
		c.keyUpdates.Add(1)
		if requested {
			c.outMu.Lock()
			defer c.outMu.Unlock()
			return c.updateSendKeyLocked()
		}
		return nil
	}
	return fail(alertUnexpectedMessage, "handshake message %d after the handshake", typ)
}

// updateSendKeyLocked sends KeyUpdate(update_not_requested) and moves to
// the next sending key. outMu is held.
func (c *Conn) updateSendKeyLocked() error {
	if c.writeErr != nil {
		return c.writeErr
	}
	msg := append(handshakeHeader(typeKeyUpdate, 1), 0)
	c.wbuf = c.wbuf[:0]
	if err := c.appendRecordLocked(recordHandshake, msg); err != nil {
		return err
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	return c.out.setKey(c.suite, c.suite.schedule().nextTrafficSecret(c.out.secret))
}

// readRecord reads and dispatches one record: handshake bytes go to
// hsBuf, application data to input. appData says whether application
// data is allowed (only after the handshake).
func (c *Conn) readRecord(appData bool) error {
	limit := maxPlaintext
	if c.in.aead != nil {
		limit = maxCiphertext
	}
	rec, err := c.rr.next(limit)
	if err != nil {
		return err
	}
	typ, content := rec[0], rec[recordHeaderLen:]
	if typ == recordChangeCipherSpec && !appData {
		// Middlebox compatibility: a server may send one dummy CCS.
		if len(content) != 1 || content[0] != 1 {
			return fail(alertUnexpectedMessage, "malformed change_cipher_spec")
		}
		return nil
	}
	if c.in.aead != nil {
		if typ, content, err = c.in.open(rec); err != nil {
			return err
		}
	} else if typ != recordHandshake && typ != recordAlert {
		return fail(alertUnexpectedMessage, "plaintext record of type %d", typ)
	}
	return c.dispatch(typ, content, appData)
}

func (c *Conn) dispatch(typ uint8, content []byte, appData bool) error {
	switch {
	case typ == recordAlert:
		return c.handleAlert(content)
	case typ == recordHandshake:
		if len(content) == 0 {
			return fail(alertUnexpectedMessage, "empty handshake record")
		}
		if len(c.hsBuf)+len(content) > MaxHandshakeMessage+4 {
			return fail(alertUnexpectedMessage, "handshake message longer than %d bytes", MaxHandshakeMessage)
		}
		c.hsBuf = append(c.hsBuf, content...)
		return nil
	case typ == recordApplicationData && appData:
		if len(c.hsBuf) != 0 {
			return fail(alertUnexpectedMessage, "application data inside a handshake message")
		}
		c.input = content
		return nil
	}
	return fail(alertUnexpectedMessage, "record of type %d now", typ)
}

// handleAlert turns a received alert into the read error.
func (c *Conn) handleAlert(content []byte) error {
	if len(content) != 2 {
		return decodeError("alert")
	}
	switch alert(content[1]) {
	case alertCloseNotify:
		return io.EOF
	case alertUserCanceled:
		return nil // a close_notify follows
	}
	return &AlertError{Code: content[1]}
}

// nextHandshakeMessage takes one whole message off hsBuf, if there is
// one. raw includes the 4-byte header (for the transcript).
func (c *Conn) nextHandshakeMessage() (typ uint8, body, raw []byte, ok bool, err error) {
	if len(c.hsBuf) < 4 {
		return 0, nil, nil, false, nil
	}
	n := int(c.hsBuf[1])<<16 | int(c.hsBuf[2])<<8 | int(c.hsBuf[3])
	if n > MaxHandshakeMessage {
		return 0, nil, nil, false, fail(alertUnexpectedMessage, "handshake message of %d bytes, limit %d", n, MaxHandshakeMessage)
	}
	if len(c.hsBuf) < 4+n {
		return 0, nil, nil, false, nil
	}
	raw = c.hsBuf[: 4+n : 4+n]
	c.hsBuf = c.hsBuf[4+n:]
	if len(c.hsBuf) == 0 {
		c.hsBuf = nil // the next message gets fresh memory; raw stays valid
	}
	return raw[0], raw[4:], raw, true, nil
}

// readHandshakeMessage reads records until a whole handshake message is
// there (during the handshake, where application data is refused).
func (c *Conn) readHandshakeMessage() (typ uint8, body, raw []byte, err error) {
	for {
		typ, body, raw, ok, err := c.nextHandshakeMessage()
		if err != nil || ok {
			return typ, body, raw, err
		}
		if err := c.readRecord(false); err != nil {
			return 0, nil, nil, err
		}
	}
}

// Write writes application data in records of at most 2^14 bytes.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	written := 0
	for len(b) > 0 {
		if c.writeErr != nil {
			return written, c.writeErr
		}
		batch := b[:min(len(b), maxWriteBatch)]
		c.wbuf = c.wbuf[:0]
		for rest := batch; len(rest) > 0; rest = rest[min(len(rest), maxPlaintext):] {
			if err := c.appendRecordLocked(recordApplicationData, rest[:min(len(rest), maxPlaintext)]); err != nil {
				return written, err
			}
		}
		if err := c.flushLocked(); err != nil {
			return written, err
		}
		written += len(batch)
		b = b[len(batch):]
		if c.out.seq >= c.keyUpdateAfter {
			if err := c.updateSendKeyLocked(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// appendRecordLocked appends one record to wbuf: plaintext before the
// keys are set, protected after.
func (c *Conn) appendRecordLocked(typ uint8, content []byte) error {
	if c.out.aead == nil {
		c.wbuf = append(c.wbuf, typ, 0x03, 0x03, byte(len(content)>>8), byte(len(content)))
		c.wbuf = append(c.wbuf, content...)
		return nil
	}
	var err error
	c.wbuf, err = c.out.seal(c.wbuf, typ, content)
	if err != nil {
		c.writeErr = err
	}
	return err
}

// flushLocked writes wbuf to the connection; a failure is final.
func (c *Conn) flushLocked() error {
	if _, err := c.conn.Write(c.wbuf); err != nil {
		c.writeErr = err
		return err
	}
	return nil
}

// sendFatal sends the alert of a local error, if it has one and the
// connection can still write. It never waits for a blocked writer.
func (c *Conn) sendFatal(err error) {
	if c.outMu.TryLock() {
		defer c.outMu.Unlock()
		c.sendFatalLocked(err)
	}
}

// sendFatalLocked is sendFatal with outMu held.
func (c *Conn) sendFatalLocked(err error) {
	var le *localError
	if errors.As(err, &le) {
		c.sendAlertLocked(2, le.alert)
	}
}

// sendAlertLocked sends one alert record; errors are ignored, the
// connection is going away.
func (c *Conn) sendAlertLocked(level uint8, a alert) {
	if c.writeErr != nil {
		return
	}
	c.wbuf = c.wbuf[:0]
	if c.appendRecordLocked(recordAlert, []byte{level, byte(a)}) == nil {
		c.flushLocked()
	}
	c.writeErr = net.ErrClosed
}

// Close sends close_notify (unless a Write is in progress, which Close
// then interrupts) and closes the connection.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	if c.handshakeDone.Load() && c.outMu.TryLock() {
		c.conn.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
		c.sendAlertLocked(1, alertCloseNotify)
		c.outMu.Unlock()
	}
	return c.conn.Close()
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the server's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline; expiry ends reading for good.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline; expiry ends writing for good.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.conn }
