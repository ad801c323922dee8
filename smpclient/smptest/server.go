// Package smptest provides an in-process fake SMP server for tests and
// local demos. It speaks the wire format of package smpclient over
// loopback TLS (Ed25519 certificates, generated at start unless given;
// Ed448 ones behind a TLS front run by Python's ssl module, see
// StartFront),
// answers PING and NSUB the way the reference server does, and lets a
// test emit NMSG, END and DELD, drop connections, stall, or misbehave.
//
// It implements only the notifier side of a server: queues are added by
// the test with AddQueue or NewQueue, not by SMP commands.
package smptest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/tls13"
)

// Versions the fake offers by default: the reference server's range.
const (
	DefaultMinVersion uint16 = 6
	DefaultMaxVersion uint16 = 18
	// legacyVersion is all a reference server offers without ALPN.
	legacyVersion uint16 = 6
	// versionServiceCerts: "0" after auth and SOK instead of OK.
	versionServiceCerts uint16 = 16
	versionBlockEncrypt uint16 = 11
	// helloTimeout bounds the handshake (the reference allows 120 s).
	helloTimeout = 30 * time.Second
)

// Config configures a fake server. The zero value is a well-behaved
// server with a generated Ed25519 CA and leaf.
type Config struct {
	// Certificate is the TLS chain [leaf, identity, ...] with an Ed25519
	// leaf key (ed25519.PrivateKey), or with Plain also an Ed448 one
	// (ed448.PrivateKey). Nil generates a fresh Ed25519 CA and leaf.
	Certificate *tls.Certificate
	// Plain serves plain TCP for a TLS front (see StartFront): each
	// connection starts with the front's preamble, the TLS session's
	// tls-unique and ALPN protocol, each as a shortString, and then
	// carries the SMP blocks.
	Plain bool
	// MinVersion and MaxVersion are the offered SMP range; zero means
	// 6..18. Offer a range above 18 or below 7 to test version mismatch.
	MinVersion, MaxVersion uint16
	// NoALPN makes the server negotiate no ALPN, so that, like the
	// reference, it offers only SMP v6.
	NoALPN bool
	// TLSMaxVersion caps the TLS version (e.g. tls.VersionTLS12); zero
	// allows TLS 1.3.
	TLSMaxVersion uint16
	// SkipSignatureVerification accepts every NSUB for a known queue
	// without checking its signature. BENCHMARK ONLY: it measures the
	// client without the server's verification cost.
	SkipSignatureVerification bool
	// HelloHook, if set, may modify the server hello before it is sent.
	HelloHook func(*smpclient.ServerHello)
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Stats counts what the server processed.
type Stats struct {
	Conns     int64 // connections that completed the handshake
	NSUB      int64 // NSUB commands received
	Confirmed int64 // NSUB answered SOK/OK
	AuthErrs  int64 // NSUB answered ERR AUTH
	Pings     int64
	Blocks    int64 // blocks received after the handshake
}

type queue struct {
	key smpclient.PublicKey
	sub *conn // guarded by Server.mu; connection holding the subscription
	// nsubs counts the NSUBs that subscribed the queue.
	nsubs int // guarded by Server.mu
}

// Server is a fake SMP server. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	ln      net.Listener
	tlsCfg  *tls.Config
	leafKey any // ed25519.PrivateKey or ed448.PrivateKey
	chain   [][]byte
	keyHash smpclient.KeyHash
	logger  *slog.Logger
	minV    uint16
	maxV    uint16

	mu     sync.Mutex
	queues map[string]*queue  // guarded by mu; by notifier id
	conns  map[*conn]struct{} // guarded by mu
	raw    map[net.Conn]struct{}
	closed bool // guarded by mu

	stallMu sync.Mutex
	stalled chan struct{} // guarded by stallMu; non-nil while stalled, closed on Resume

	nsub, confirmed, authErrs, pings, nconns, blocks atomic.Int64
	// overlaps counts NSUBs that took a queue from another live
	// connection (the old one gets END).
	overlaps atomic.Int64

	wg sync.WaitGroup
}

// NewServer starts a fake server on a loopback port.
func NewServer(cfg Config) (*Server, error) {
	s := &Server{
		cfg:    cfg,
		queues: make(map[string]*queue),
		conns:  make(map[*conn]struct{}),
		raw:    make(map[net.Conn]struct{}),
		logger: cfg.Logger,
		minV:   cfg.MinVersion,
		maxV:   cfg.MaxVersion,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.minV == 0 {
		s.minV = DefaultMinVersion
	}
	if s.maxV == 0 {
		s.maxV = DefaultMaxVersion
	}
	if err := s.setupCerts(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.wg.Go(s.acceptLoop)
	return s, nil
}

func (s *Server) setupCerts() error {
	cert := s.cfg.Certificate
	if cert == nil {
		c, err := GenerateCertificate()
		if err != nil {
			return err
		}
		cert = &c
	}
	if len(cert.Certificate) < 2 {
		return errors.New("smptest: certificate chain needs a leaf and an identity certificate")
	}
	switch cert.PrivateKey.(type) {
	case ed25519.PrivateKey:
	case ed448.PrivateKey:
		if !s.cfg.Plain {
			return errors.New("smptest: crypto/tls cannot serve an Ed448 leaf; use Plain behind a TLS front")
		}
	default:
		return fmt.Errorf("smptest: leaf key is %T, want ed25519.PrivateKey or ed448.PrivateKey", cert.PrivateKey)
	}
	s.leafKey = cert.PrivateKey
	s.chain = cert.Certificate
	s.keyHash = smpclient.KeyHashOf(cert.Certificate[1])
	s.tlsCfg = &tls.Config{
		Certificates:     []tls.Certificate{*cert},
		MinVersion:       tls.VersionTLS12,
		MaxVersion:       s.cfg.TLSMaxVersion,
		CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		CurvePreferences: []tls.CurveID{tls.X25519},
		// Like the reference server: smp/1 first, then the HTTPS protocols.
		NextProtos:             []string{smpclient.ALPN, "h2", "http/1.1"},
		SessionTicketsDisabled: true,
	}
	if s.cfg.NoALPN {
		s.tlsCfg.NextProtos = nil
	}
	return nil
}

// Addr returns the listener's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// KeyHash returns the hash of the identity certificate.
func (s *Server) KeyHash() smpclient.KeyHash { return s.keyHash }

// Chain returns the DER certificate chain, leaf first.
func (s *Server) Chain() [][]byte { return s.chain }

// Address returns the server's smp:// address.
func (s *Server) Address() smpclient.ServerAddress {
	host, port, _ := net.SplitHostPort(s.Addr())
	return smpclient.ServerAddress{KeyHash: s.keyHash, Hosts: []string{host}, Port: port}
}

// Stats returns counters.
func (s *Server) Stats() Stats {
	return Stats{Conns: s.nconns.Load(), NSUB: s.nsub.Load(), Confirmed: s.confirmed.Load(), AuthErrs: s.authErrs.Load(), Pings: s.pings.Load(), Blocks: s.blocks.Load()}
}

// AddQueue registers a queue's notifier id with its notifier public key.
func (s *Server) AddQueue(notifierID []byte, key smpclient.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queues[string(notifierID)] = &queue{key: key}
}

// NewQueue creates a queue with a random 24-byte notifier id and a new
// key of algorithm alg, registers it and returns the client's view.
func (s *Server) NewQueue(alg smpclient.Algorithm) (smpclient.Queue, error) {
	key, err := smpclient.GenerateKey(alg)
	if err != nil {
		return smpclient.Queue{}, err
	}
	id := make([]byte, 24)
	rand.Read(id)
	s.AddQueue(id, key.Public())
	return smpclient.Queue{NotifierID: id, Key: key}, nil
}

// Subscribed reports whether some connection holds the queue's subscription.
func (s *Server) Subscribed(notifierID []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[string(notifierID)]
	return q != nil && q.sub != nil
}

// NSUBCount returns how many NSUBs subscribed the queue (counting
// repeats on the same connection).
func (s *Server) NSUBCount(notifierID []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[string(notifierID)]; q != nil {
		return q.nsubs
	}
	return 0
}

// Overlaps returns how many NSUBs took a queue's subscription from
// another connection that still held it: with one subscriber per queue
// (one gateway instance per server) it stays 0.
func (s *Server) Overlaps() int64 { return s.overlaps.Load() }

// SubscribedQueues returns how many queues some connection holds.
func (s *Server) SubscribedQueues() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.queues {
		if q.sub != nil {
			n++
		}
	}
	return n
}

// errNoSubscriber is returned by event senders when no connection is subscribed.
var errNoSubscriber = errors.New("smptest: queue has no subscriber")

// Notify sends events for notifierID to the subscribed connection,
// packing as many as fit per block. msgs are typically smpclient.NMSG,
// END or DELD values.
func (s *Server) Notify(notifierID []byte, msgs ...smpclient.Message) error {
	s.mu.Lock()
	q := s.queues[string(notifierID)]
	var c *conn
	if q != nil {
		c = q.sub
	}
	s.mu.Unlock()
	if c == nil {
		return errNoSubscriber
	}
	ts := make([][]byte, 0, len(msgs))
	var buf []byte
	for _, m := range msgs {
		start := len(buf)
		var err error
		if buf, err = appendTransmission(buf, nil, notifierID, m, c.version); err != nil {
			return err
		}
		ts = append(ts, buf[start:len(buf):len(buf)])
	}
	return c.sendTransmissions(ts)
}

// SendNMSG sends one NMSG event to the queue's subscriber.
func (s *Server) SendNMSG(notifierID []byte, nonce [smpclient.NonceSize]byte, encMeta []byte) error {
	return s.Notify(notifierID, smpclient.NMSG{Nonce: nonce, EncMeta: encMeta})
}

// SendEND sends END to the subscriber and forgets the subscription, as
// when another connection takes it over.
func (s *Server) SendEND(notifierID []byte) error {
	err := s.Notify(notifierID, smpclient.END{})
	s.mu.Lock()
	if q := s.queues[string(notifierID)]; q != nil {
		q.sub = nil
	}
	s.mu.Unlock()
	return err
}

// DeleteQueue removes the queue and sends DELD to its subscriber, as when
// the recipient deletes the queue or its notifier credentials.
func (s *Server) DeleteQueue(notifierID []byte) error {
	err := s.Notify(notifierID, smpclient.DELD{})
	s.mu.Lock()
	delete(s.queues, string(notifierID))
	s.mu.Unlock()
	return err
}

// SendRawBlock writes block (exactly smpclient.BlockSize bytes, not
// encrypted) to every connection, to test malformed input. Like
// DropConnections and Stall it affects connections whose handshake the
// server has completed: Dial can return a moment earlier, so a test
// should make one round trip (Ping) first.
func (s *Server) SendRawBlock(block []byte) error {
	if len(block) != smpclient.BlockSize {
		return fmt.Errorf("smptest: raw block is %d bytes", len(block))
	}
	for _, c := range s.connList() {
		c.wmu.Lock()
		_, err := c.nc.Write(block)
		c.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// SendBadBlock sends every connection a block whose content does not parse.
func (s *Server) SendBadBlock() error {
	b := make([]byte, smpclient.BlockSize)
	for i := range b {
		b[i] = 0xff // length prefix 0xffff exceeds the block
	}
	return s.SendRawBlock(b)
}

// DropConnections closes every client connection abruptly.
func (s *Server) DropConnections() {
	for _, c := range s.connList() {
		c.nc.Close()
	}
}

// Stall makes the server stop processing and answering commands (the
// connections stay open) until Resume.
func (s *Server) Stall() {
	s.stallMu.Lock()
	defer s.stallMu.Unlock()
	if s.stalled == nil {
		s.stalled = make(chan struct{})
	}
}

// Resume ends a Stall.
func (s *Server) Resume() {
	s.stallMu.Lock()
	defer s.stallMu.Unlock()
	if s.stalled != nil {
		close(s.stalled)
		s.stalled = nil
	}
}

func (s *Server) stallChan() chan struct{} {
	s.stallMu.Lock()
	defer s.stallMu.Unlock()
	return s.stalled
}

// ConnCount returns the number of live SMP connections.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Close stops the listener, closes every connection and waits for the
// server's goroutines to exit.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for nc := range s.raw {
		nc.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.Resume()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.raw[nc] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				nc.Close()
				s.mu.Lock()
				delete(s.raw, nc)
				s.mu.Unlock()
			}()
			s.serveConn(nc)
		})
	}
}

// conn is one client connection.
type conn struct {
	s         *Server
	nc        net.Conn
	version   uint16 // immutable after the handshake
	sessionID []byte // immutable after the handshake
	serverDH  [32]byte

	wmu    sync.Mutex // hold while writing
	bw     *bufio.Writer
	send   *smpclient.BlockCodec // guarded by wmu
	wblock [smpclient.BlockSize]byte

	br     *bufio.Reader // owned by serveConn
	recv   *smpclient.BlockCodec
	rblock [smpclient.BlockSize]byte
}

func (s *Server) serveConn(raw net.Conn) {
	raw.SetDeadline(time.Now().Add(helloTimeout))
	nc, sessionID, alpn, err := s.accept(raw)
	if err != nil {
		s.logger.Debug("connection refused before the SMP handshake", "err", err)
		return
	}
	c := &conn{s: s, nc: nc, bw: bufio.NewWriterSize(nc, smpclient.BlockSize), br: bufio.NewReaderSize(nc, smpclient.BlockSize)}
	if err := c.handshake(sessionID, alpn); err != nil {
		s.logger.Debug("smp handshake failed", "err", err)
		return
	}
	raw.SetDeadline(time.Time{})
	s.nconns.Add(1)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer s.dropConn(c)
	if err := c.serve(); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		s.logger.Debug("connection ended", "err", err)
	}
}

// accept runs TLS on raw (or reads a front's preamble in Plain mode) and
// returns the connection to speak SMP on, the session id (the client
// Finished, as the reference server's TLS library reports tls-unique)
// and the negotiated ALPN protocol.
func (s *Server) accept(raw net.Conn) (nc net.Conn, sessionID []byte, alpn string, err error) {
	if s.cfg.Plain {
		sessionID, alpn, err = readPreamble(raw)
		return raw, sessionID, alpn, err
	}
	capture := tls13.NewFinishedCapture()
	cfg := s.tlsCfg.Clone()
	cfg.KeyLogWriter = capture
	tc := tls.Server(capture.Conn(raw, true), cfg)
	if err := tc.Handshake(); err != nil {
		return nil, nil, "", err
	}
	cs := tc.ConnectionState()
	sessionID = cs.TLSUnique // TLS 1.2
	if cs.Version != tls.VersionTLS13 {
		capture.Stop()
	} else if sessionID, err = capture.ClientFinished(cs.CipherSuite); err != nil {
		return nil, nil, "", err
	}
	return tc, sessionID, cs.NegotiatedProtocol, nil
}

// readPreamble reads the TLS front's shortString(tls-unique) and
// shortString(ALPN).
func readPreamble(r io.Reader) (sessionID []byte, alpn string, err error) {
	short := func() ([]byte, error) {
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, err
		}
		b := make([]byte, n[0])
		_, err := io.ReadFull(r, b)
		return b, err
	}
	if sessionID, err = short(); err != nil {
		return nil, "", fmt.Errorf("smptest: front preamble: %w", err)
	}
	p, err := short()
	if err != nil {
		return nil, "", fmt.Errorf("smptest: front preamble: %w", err)
	}
	if len(sessionID) == 0 {
		return nil, "", errors.New("smptest: front sent an empty session id")
	}
	return sessionID, string(p), nil
}

// dropConn forgets c and the subscriptions it held.
func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	for _, q := range s.queues {
		if q.sub == c {
			q.sub = nil
		}
	}
}

// handshake sends the server hello and reads the client hello (§2.2, §2.3).
func (c *conn) handshake(sessionID []byte, alpn string) error {
	s := c.s
	minV, maxV := s.minV, s.maxV
	if alpn == "" {
		minV, maxV = legacyVersion, legacyVersion
	}
	c.sessionID = sessionID
	dh, err := smpclient.GenerateKey(smpclient.X25519)
	if err != nil {
		return err
	}
	copy(c.serverDH[:], dhBytes(dh))
	hello := smpclient.ServerHello{
		MinVersion: minV, MaxVersion: maxV, SessionID: c.sessionID,
		CertChain: s.chain, SignedKey: s.signKey(dh.Public()),
	}
	if s.cfg.HelloHook != nil {
		s.cfg.HelloHook(&hello)
	}
	content, err := hello.AppendBinary(nil)
	if err != nil {
		return err
	}
	c.send = smpclient.NewPlainBlockCodec()
	c.recv = smpclient.NewPlainBlockCodec()
	if err := c.writeContent(content); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.br, c.rblock[:]); err != nil {
		return err
	}
	body, err := smpclient.Unpad(c.rblock[:])
	if err != nil {
		return err
	}
	ch, err := smpclient.ParseClientHello(body)
	if err != nil {
		return fmt.Errorf("HANDSHAKE PARSE: %w", err)
	}
	if ch.KeyHash != s.keyHash {
		return errors.New("HANDSHAKE IDENTITY")
	}
	if ch.Version < minV || ch.Version > maxV || ch.Version < smpclient.MinVersion {
		return fmt.Errorf("VERSION %d not in %d..%d", ch.Version, minV, maxV)
	}
	c.version = ch.Version
	if ch.ClientKey != nil && ch.Version >= versionBlockEncrypt && !ch.Proxy {
		secret, err := smpclient.DH(dh, *ch.ClientKey)
		if err != nil {
			return err
		}
		c.wmu.Lock()
		c.send, c.recv = smpclient.NewBlockCodecs(&secret, c.sessionID, false)
		c.wmu.Unlock()
	}
	return nil
}

// signKey signs the per-connection X25519 key with the leaf key.
func (s *Server) signKey(key smpclient.PublicKey) []byte {
	if k, ok := s.leafKey.(ed448.PrivateKey); ok {
		return smpclient.MarshalSignedKeyEd448(key, k)
	}
	return smpclient.MarshalSignedKey(key, s.leafKey.(ed25519.PrivateKey))
}

// dhBytes extracts the raw X25519 private bytes from its PKCS#8 form.
func dhBytes(k *smpclient.PrivateKey) []byte { return k.MarshalPKCS8()[16:] }

// writeContent writes one block with content and flushes.
func (c *conn) writeContent(content []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.send.Seal(&c.wblock, content); err != nil {
		return err
	}
	if _, err := c.bw.Write(c.wblock[:]); err != nil {
		return err
	}
	return c.bw.Flush()
}

// sendTransmissions packs ts into as few blocks as possible and writes them.
func (c *conn) sendTransmissions(ts [][]byte) error {
	for len(ts) > 0 {
		n, size := 0, 0
		for n < len(ts) && n < smpclient.MaxBatchCount && size+2+len(ts[n]) <= smpclient.MaxBatchBytes {
			size += 2 + len(ts[n])
			n++
		}
		if n == 0 {
			return smpclient.ErrTooLarge
		}
		content, err := smpclient.EncodeBatch(ts[:n]...)
		if err != nil {
			return err
		}
		if err := c.writeContent(content); err != nil {
			return err
		}
		ts = ts[n:]
	}
	return nil
}

// serve processes blocks until the connection ends.
func (c *conn) serve() error {
	var batch [][]byte
	var out [][]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(c.br, c.rblock[:]); err != nil {
			return err
		}
		c.s.blocks.Add(1)
		if ch := c.s.stallChan(); ch != nil {
			<-ch
		}
		content, err := c.recv.Open(&c.rblock)
		if err == nil {
			batch, err = smpclient.ParseBatch(content, batch[:0])
		}
		if err != nil {
			// The reference answers a malformed block with one ERR BLOCK
			// with an empty corrId and keeps the connection.
			if err := c.sendTransmissions([][]byte{c.errTransmission(smpclient.ErrBlock)}); err != nil {
				return err
			}
			continue
		}
		out, buf = out[:0], buf[:0]
		for _, t := range batch {
			start := len(buf)
			buf = c.handle(buf, t)
			out = append(out, buf[start:len(buf):len(buf)])
		}
		if err := c.sendTransmissions(out); err != nil {
			return err
		}
	}
}

// appendTransmission appends the server transmission carrying msg. The
// command is the transmission's tail, so msg is encoded in place.
func appendTransmission(dst, corrID, entity []byte, msg smpclient.Message, v uint16) ([]byte, error) {
	dst, err := smpclient.AppendTransmission(dst, smpclient.Transmission{CorrID: corrID, EntityID: entity}, v)
	if err != nil {
		return dst, err
	}
	return msg.AppendWire(dst), nil
}

// errTransmission returns the transmission of "ERR se" with an empty
// corrId and entity.
func (c *conn) errTransmission(se *smpclient.ServerError) []byte {
	t, _ := appendTransmission(nil, nil, nil, smpclient.ERR{Err: se}, c.version)
	return t
}

// handle processes one transmission and appends the response to dst.
func (c *conn) handle(dst, t []byte) []byte {
	tr, err := smpclient.ParseTransmission(t, c.version)
	if err != nil {
		return append(dst, c.errTransmission(smpclient.ErrBlock)...)
	}
	var msg smpclient.Message
	switch {
	case tr.HasServiceSig:
		msg = smpclient.ERR{Err: smpclient.ErrService}
	case bytes.Equal(tr.Command, []byte("PING")):
		c.s.pings.Add(1)
		msg = smpclient.Pong{}
		if len(tr.Auth) > 0 {
			msg = smpclient.ERR{Err: smpclient.ErrCmdHasAuth}
		}
	case bytes.Equal(tr.Command, []byte("NSUB")):
		msg = c.nsub(tr)
	default:
		msg = smpclient.ERR{Err: smpclient.ErrCmdUnknown}
	}
	// The ids were parsed as shortStrings, so they fit again.
	out, _ := appendTransmission(dst, tr.CorrID, tr.EntityID, msg, c.version)
	return out
}

// nsub subscribes the queue if the authorization verifies (§4.3).
func (c *conn) nsub(tr smpclient.Transmission) smpclient.Message {
	s := c.s
	s.nsub.Add(1)
	if len(tr.Auth) == 0 || len(tr.EntityID) == 0 {
		return smpclient.ERR{Err: smpclient.ErrCmdNoAuth}
	}
	s.mu.Lock()
	q := s.queues[string(tr.EntityID)]
	var key smpclient.PublicKey
	if q != nil {
		key = q.key
	}
	s.mu.Unlock()
	ok := q != nil
	if ok && !s.cfg.SkipSignatureVerification {
		ok = key.VerifyAuthorization(tr.AuthorizedBytes(c.sessionID), tr.Auth, tr.CorrID, &c.serverDH)
	}
	if !ok {
		s.authErrs.Add(1)
		return smpclient.ERR{Err: smpclient.ErrAuth}
	}
	s.mu.Lock()
	old := q.sub
	q.sub = c
	q.nsubs++
	s.mu.Unlock()
	if old != nil && old != c {
		s.overlaps.Add(1)
		// Takeover: the old connection gets END (the reference batches it).
		t, _ := appendTransmission(nil, nil, tr.EntityID, smpclient.END{}, old.version)
		s.wg.Go(func() { old.sendTransmissions([][]byte{t}) })
	}
	s.confirmed.Add(1)
	if c.version >= versionServiceCerts {
		return smpclient.SOK{}
	}
	return smpclient.OK{}
}

// WaitSubscribed polls until notifierID is subscribed or ctx ends.
func (s *Server) WaitSubscribed(ctx context.Context, notifierID []byte) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !s.Subscribed(notifierID) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// String describes the server for logs.
func (s *Server) String() string {
	return "smptest server " + s.Address().String() + " (" + strconv.Itoa(s.ConnCount()) + " conns)"
}
