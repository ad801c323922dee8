package smpclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config fields left zero.
const (
	// DefaultPingInterval matches the reference notifier: PING after 60 s
	// without receiving anything.
	DefaultPingInterval = 60 * time.Second
	// DefaultPingTimeout is how long a keepalive PING may go unanswered
	// before the connection is declared lost (the reference waits 30 s
	// for background commands).
	DefaultPingTimeout = 30 * time.Second
	// DefaultEventBuffer is the capacity of the Events channel.
	DefaultEventBuffer = 1024

	// TCP keep-alive of the reference client: idle 30 s, interval 15 s, 4 probes.
	tcpKeepAliveIdle     = 30 * time.Second
	tcpKeepAliveInterval = 15 * time.Second
	tcpKeepAliveCount    = 4

	// corrPrefixSize random bytes start every corrId; a counter fills the rest.
	corrPrefixSize = CorrIDSize - 8
)

// Config configures Dial. The zero value uses the defaults.
type Config struct {
	// DialContext opens the TCP connection (e.g. through SOCKS for onion
	// hosts). Nil uses a net.Dialer with the reference TCP keep-alive.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MinVersion and MaxVersion narrow the SMP versions offered; zero
	// means MinVersion / MaxVersion of this package.
	MinVersion, MaxVersion uint16
	// BlockEncryption sends a client key in the hello, which turns on
	// block encryption from v11 (§2.6), as the reference notifier does.
	BlockEncryption bool
	// SkipChainValidation skips X.509 path validation (signatures,
	// validity, CA flags). The key hash is always checked.
	SkipChainValidation bool
	// TLS picks the TLS implementation; TLSAuto (the zero value) uses
	// crypto/tls and falls back to smpclient/tls13 for a server that
	// refuses crypto/tls before showing its certificate (an Ed448 leaf).
	TLS TLSImplementation
	// TLSMemo, if set, remembers the servers that needed the fallback,
	// so that their next Dial skips crypto/tls. Share one per process.
	TLSMemo *TLSMemo
	// PingInterval is the idle time after which a keepalive PING is sent;
	// zero means DefaultPingInterval, negative disables keepalive.
	PingInterval time.Duration
	// PingTimeout bounds a keepalive PING; zero means DefaultPingTimeout.
	PingTimeout time.Duration
	// EventBuffer is the capacity of the Events channel; zero means
	// DefaultEventBuffer.
	EventBuffer int
	// SignWorkers is how many goroutines sign the NSUBs of one large
	// Subscribe call; zero means GOMAXPROCS.
	SignWorkers int
	// Now returns the current time, for event timestamps and certificate
	// validity. Nil means time.Now.
	Now func() time.Time
	// Logger receives debug and warning logs. Nil discards them.
	Logger *slog.Logger
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.MinVersion == 0 {
		cfg.MinVersion = MinVersion
	}
	if cfg.MaxVersion == 0 {
		cfg.MaxVersion = MaxVersion
	}
	if cfg.MinVersion < MinVersion || cfg.MaxVersion > MaxVersion || cfg.MinVersion > cfg.MaxVersion {
		return cfg, fmt.Errorf("smp: config: version range %d..%d outside supported %d..%d", cfg.MinVersion, cfg.MaxVersion, MinVersion, MaxVersion)
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.SignWorkers <= 0 {
		cfg.SignWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = DefaultEventBuffer
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DialContext == nil {
		d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: tcpKeepAliveIdle, Interval: tcpKeepAliveInterval, Count: tcpKeepAliveCount,
		}}
		cfg.DialContext = d.DialContext
	}
	return cfg, nil
}

// ConnInfo describes an established connection.
type ConnInfo struct {
	Server      ServerAddress
	RemoteAddr  string // host:port dialed
	TLS         TLSImplementation
	TLSVersion  uint16 // tls.VersionTLS13, ...
	CipherSuite uint16
	ALPN        string // negotiated ALPN, "" if none
	// Version is the negotiated SMP version; ServerMin/ServerMax the
	// server's offered range.
	Version              uint16
	ServerMin, ServerMax uint16
	SessionID            []byte
	// Chain is the TLS certificate chain with key types; the key hash
	// matched Chain.Certs[1] (Dial fails otherwise).
	Chain           Chain
	BlockEncryption bool
}

// Queue is a notifier subscription to make: the notifier id and the
// private key the recipient registered with NKEY.
type Queue struct {
	NotifierID []byte
	Key        *PrivateKey
}

// Result is the outcome of one NSUB. Err is nil when the server confirmed
// the subscription; otherwise a *ServerError (final: ERR AUTH means the
// queue is gone or the key is wrong), or a temporary error (ctx expiry,
// *ConnError) after which the caller may retry. See IsTemporary.
type Result struct {
	NotifierID []byte
	Err        error
}

// Event is an unsolicited message from the server: an NMSG, END or DELD
// for NotifierID, an ENDS, or an ERR not tied to a command.
type Event struct {
	NotifierID []byte
	Msg        Message
	Received   time.Time
}

// corrKey is a correlation id as a map key.
type corrKey [CorrIDSize]byte

type callKind uint8

const (
	kindNSUB callKind = iota
	kindPing
)

// call is one Subscribe or Ping waiting for responses. Its results are
// written by the reader under Client.mu until remaining drops to zero,
// then done is closed and the caller owns them.
type call struct {
	kind      callKind
	results   []Result // guarded by Client.mu while the call is pending
	remaining int      // guarded by Client.mu; +1 while the caller is still sending
	done      chan struct{}
	keys      []corrKey // owned by the caller; which corrIds belong to the call
}

// pendingEntry locates a response's slot.
type pendingEntry struct {
	call *call
	idx  int
}

// Client is a connection to one SMP server in the notifier role. Its
// methods are safe for concurrent use. It does not reconnect: when the
// connection ends, Done is closed, Events is closed and every pending and
// later call fails with the *ConnError that Err returns.
type Client struct {
	info      ConnInfo // immutable after Dial
	cfg       Config   // immutable after Dial
	conn      net.Conn
	version   uint16   // immutable
	sessionID []byte   // immutable
	serverKey [32]byte // immutable; X25519 key from the server hello
	logger    *slog.Logger

	corrPrefix [corrPrefixSize]byte
	corrSeq    atomic.Uint64
	lastRecv   atomic.Int64 // unix nanos of the last block received

	wmu    sync.Mutex // hold while writing to bw
	bw     *bufio.Writer
	send   *blockCodec     // guarded by wmu
	wblock [BlockSize]byte // guarded by wmu

	br     *bufio.Reader   // owned by readLoop
	recv   *blockCodec     // owned by readLoop
	rblock [BlockSize]byte // owned by readLoop

	mu      sync.Mutex
	pending map[corrKey]pendingEntry // guarded by mu
	err     error                    // guarded by mu; sticky *ConnError, set once

	events    chan Event    // sent to and closed by readLoop
	done      chan struct{} // closed when err is set
	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // readLoop and keepalive
}

// TLSError means the TLS handshake failed for a reason other than the
// checks of §1.2 (which return *KeyHashError or a chain error):
// typically the server refused our TLS profile.
type TLSError struct {
	Addr string
	Err  error
}

func (e *TLSError) Error() string {
	return fmt.Sprintf("smp: TLS handshake with %s refused: %v", e.Addr, e.Err)
}
func (e *TLSError) Unwrap() error { return e.Err }

// DialError means the TCP connection could not be opened.
type DialError struct {
	Addr string
	Err  error
}

func (e *DialError) Error() string { return fmt.Sprintf("smp: cannot reach %s: %v", e.Addr, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }

// Dial connects to the server at addr, checks its identity and runs the
// SMP handshake. ctx bounds the whole dial: its deadline becomes the
// connection deadline and cancelling it aborts the dial. Errors are
// *DialError (TCP), *TLSError, *KeyHashError, *VersionError or
// *HandshakeError.
func Dial(ctx context.Context, addr ServerAddress, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(addr.Hosts) == 0 {
		return nil, fmt.Errorf("%w: no host", ErrBadAddress)
	}
	d := &dialer{addr: addr, hostport: addr.DialAddr(), cfg: cfg}
	tc, err := d.dialTLS(ctx)
	if err != nil {
		return nil, err
	}
	c, err := handshake(ctx, tc, addr, d.hostport, cfg)
	if err != nil {
		tc.conn.Close()
		return nil, err
	}
	c.start()
	return c, nil
}

// handshake runs the SMP hellos on an established TLS connection.
func handshake(ctx context.Context, tc *tlsConn, addr ServerAddress, hostport string, cfg Config) (*Client, error) {
	release := bindDeadline(ctx, tc.conn.SetDeadline)
	defer release()
	c := &Client{
		cfg:     cfg,
		conn:    tc.conn,
		logger:  cfg.Logger.With("smp_server", hostport),
		bw:      bufio.NewWriterSize(tc.conn, BlockSize),
		br:      bufio.NewReaderSize(tc.conn, BlockSize),
		send:    &blockCodec{},
		recv:    &blockCodec{},
		pending: make(map[corrKey]pendingEntry),
		events:  make(chan Event, cfg.EventBuffer),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
	}
	rand.Read(c.corrPrefix[:])
	c.info = ConnInfo{
		Server: addr, RemoteAddr: hostport, TLS: tc.impl, TLSVersion: tc.version, CipherSuite: tc.suite,
		ALPN: tc.alpn, Chain: tc.chain,
	}
	if err := c.hello(tc.tlsUnique); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("smp: handshake with %s: %w", hostport, ctx.Err())
		}
		return nil, err
	}
	return c, nil
}

// hello reads the server hello, negotiates the version and sends the
// client hello (§2.2, §2.3). tlsUnique is the client Finished of the TLS
// handshake, nil if it is unknown.
func (c *Client) hello(tlsUnique []byte) error {
	sh, err := c.readServerHello()
	if err != nil {
		return err
	}
	cfg := c.cfg
	c.info.ServerMin, c.info.ServerMax = sh.MinVersion, sh.MaxVersion
	v := min(cfg.MaxVersion, sh.MaxVersion)
	if v < max(cfg.MinVersion, sh.MinVersion) {
		return &VersionError{ServerMin: sh.MinVersion, ServerMax: sh.MaxVersion, ClientMin: cfg.MinVersion, ClientMax: cfg.MaxVersion, ALPN: c.info.ALPN}
	}
	sk, err := c.authenticateServer(tlsUnique, sh)
	if err != nil {
		return err
	}
	copy(c.serverKey[:], sk.Key.raw)
	c.version = v
	c.sessionID = bytes.Clone(sh.SessionID)
	c.info.Version, c.info.SessionID = v, c.sessionID
	return c.sendClientHello(v, sk)
}

// readServerHello reads and parses the server's hello block.
func (c *Client) readServerHello() (ServerHello, error) {
	if err := readBlock(c.br, &c.rblock); err != nil {
		return ServerHello{}, &HandshakeError{Reason: "parse", Err: fmt.Errorf("reading server hello: %w", err)}
	}
	content, err := Unpad(c.rblock[:])
	if err != nil {
		return ServerHello{}, &HandshakeError{Reason: "parse", Err: err}
	}
	sh, err := ParseServerHello(content)
	if err != nil {
		return ServerHello{}, &HandshakeError{Reason: "parse", Err: err}
	}
	return sh, nil
}

// authenticateServer checks the server hello against the TLS session:
// the session id, the certificate chain's key hash, and the session key's
// signature by the TLS certificate. It returns the signed session key.
func (c *Client) authenticateServer(tlsUnique []byte, sh ServerHello) (SignedKey, error) {
	// The reference's check: the session id is the client Finished
	// (skipped when it is unknown).
	if tlsUnique != nil && !bytes.Equal(tlsUnique, sh.SessionID) {
		return SignedKey{}, &HandshakeError{Reason: "session", Err: errors.New("session id differs from tls-unique (the client Finished)")}
	}
	if len(sh.CertChain) < MinCertChain || KeyHashOf(sh.CertChain[1]) != c.info.Server.KeyHash {
		return SignedKey{}, &HandshakeError{Reason: "bad_auth", Err: errors.New("certificate chain in the server hello does not match the key hash")}
	}
	sk, err := ParseSignedKey(sh.SignedKey)
	if err != nil {
		return SignedKey{}, &HandshakeError{Reason: "bad_auth", Err: err}
	}
	if len(c.info.Chain.Certs) == 0 || !sk.Verify(c.info.Chain.Certs[0].parsedKey) {
		return SignedKey{}, &HandshakeError{Reason: "bad_auth", Err: errors.New("server session key is not signed by the TLS certificate")}
	}
	return sk, nil
}

// sendClientHello sends the client hello for version v and, when block
// encryption is on, sets up the block codecs from a fresh client key and
// the server's session key sk.
func (c *Client) sendClientHello(v uint16, sk SignedKey) error {
	ch := ClientHello{Version: v, KeyHash: c.info.Server.KeyHash}
	var clientKey *PrivateKey
	if c.cfg.BlockEncryption && v >= versionBlockEncryption {
		clientKey, _ = GenerateKey(X25519)
		pub := clientKey.Public()
		ch.ClientKey = &pub
	}
	if err := padInto(c.wblock[:], ch.AppendBinary(nil)); err != nil {
		return err
	}
	if err := writeBlock(c.bw, &c.wblock); err != nil {
		return fmt.Errorf("smp: sending client hello: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("smp: sending client hello: %w", err)
	}
	if clientKey != nil {
		dh, err := DH(clientKey, sk.Key)
		if err != nil {
			return &HandshakeError{Reason: "bad_auth", Err: err}
		}
		c.send, c.recv = newBlockCodecs(&dh, c.sessionID, true)
		c.info.BlockEncryption = true
	}
	return nil
}

// start launches the reader and keepalive goroutines.
func (c *Client) start() {
	c.lastRecv.Store(time.Now().UnixNano())
	c.wg.Go(c.readLoop)
	if c.cfg.PingInterval > 0 {
		c.wg.Go(c.keepalive)
	}
}

// Info returns what was negotiated.
func (c *Client) Info() ConnInfo { return c.info }

// Version returns the negotiated SMP version.
func (c *Client) Version() uint16 { return c.version }

// Events returns the channel of server events. It is closed right after
// the connection stops (then Err says why). Keep receiving: when the
// channel is full the reader waits, which also delays responses.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed as soon as the connection has stopped.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns the *ConnError that stopped the connection, or nil while it
// is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection. The reader and keepalive goroutines stop
// before Close returns; pending Subscribe and Ping calls return a
// *ConnError wrapping ErrClosed, and Events is closed. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.fail(ErrClosed)
	})
	c.wg.Wait()
	return nil
}

// fail stops the connection with cause (first cause wins): it records the
// sticky error, fails pending calls, closes Done and the network conn.
func (c *Client) fail(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	ce := &ConnError{Err: cause}
	c.err = ce
	for k, e := range c.pending {
		delete(c.pending, k)
		c.completeLocked(e, nil, ce)
	}
	close(c.done)
	c.mu.Unlock()
	c.conn.Close()
	if !errors.Is(cause, ErrClosed) {
		c.logger.Warn("smp connection lost", "err", cause)
	}
}

// nextCorrID returns a fresh correlation id: a per-connection random
// prefix and a counter, so ids never repeat on a connection (they are
// also the nonces of X25519 authenticators).
func (c *Client) nextCorrID() corrKey {
	var k corrKey
	copy(k[:], c.corrPrefix[:])
	binary.BigEndian.PutUint64(k[corrPrefixSize:], c.corrSeq.Add(1))
	return k
}

// Ping sends PING and waits for PONG, returning the round trip time.
// ctx bounds the wait (and the write, as a connection deadline).
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	k := c.nextCorrID()
	t, _ := AppendTransmission(make([]byte, 0, 32), Transmission{CorrID: k[:], Command: cmdPING}, c.version)
	content, _ := EncodeBatch(t)
	cl := &call{kind: kindPing, results: make([]Result, 1), done: make(chan struct{}), keys: []corrKey{k}}
	start := time.Now()
	if err := c.sendBatch(ctx, cl, content, []pendingEntry{{cl, 0}}); err != nil {
		return 0, err
	}
	if err := c.wait(ctx, cl); err != nil {
		return 0, err
	}
	if err := cl.results[0].Err; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// Subscribe sends NSUB for each queue and waits for the answers. It packs
// as many NSUBs per block as fit (134 with Ed25519 keys at v18) and
// writes block after block without waiting for responses; large batches
// are signed by Config.SignWorkers goroutines while earlier blocks are
// on the wire. The results are in the order of qs. If ctx ends first,
// the unanswered results get ctx's error (temporary; late answers are
// dropped). ctx's deadline is also the write deadline: a write that
// times out midway closes the connection. Subscribe is safe to call
// concurrently; all its goroutines have exited when it returns.
func (c *Client) Subscribe(ctx context.Context, qs []Queue) []Result {
	results := make([]Result, len(qs))
	for i, q := range qs {
		results[i].NotifierID = q.NotifierID
	}
	if len(qs) == 0 {
		return results
	}
	cl := &call{kind: kindNSUB, results: results, remaining: 1, done: make(chan struct{}), keys: make([]corrKey, len(qs))}
	workers := min(c.cfg.SignWorkers, (len(qs)+signRange-1)/signRange)
	blocks := make(chan signedBlock, workers)
	var next atomic.Int64
	var live atomic.Int32
	live.Store(int32(workers))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			c.signRanges(ctx, cl, qs, &next, blocks)
			if live.Add(-1) == 0 {
				close(blocks)
			}
		})
	}
	for sb := range blocks {
		c.sendBatch(ctx, cl, sb.content, sb.entries)
	}
	wg.Wait()
	c.mu.Lock()
	cl.remaining-- // the sender's own token
	if cl.remaining == 0 {
		close(cl.done)
	}
	c.mu.Unlock()
	c.wait(ctx, cl) // on ctx expiry, wait fills the unanswered results
	return results
}

// signRange is how many queues a signing worker takes at a time: four
// full blocks of Ed25519 NSUBs.
const signRange = 4 * 134

// signedBlock is the content of one block of NSUBs and the slots it
// answers (their corrIds are in call.keys).
type signedBlock struct {
	content []byte
	entries []pendingEntry
}

// signRanges signs ranges of qs (taken from next) into blocks and sends
// them to out. Results of queues that cannot be sent are set here; the
// others are set by the reader once their block is registered.
func (c *Client) signRanges(ctx context.Context, cl *call, qs []Queue, next *atomic.Int64, out chan<- signedBlock) {
	var t, scratch []byte
	for {
		start := int(next.Add(signRange)) - signRange
		if start >= len(qs) {
			return
		}
		end := min(start+signRange, len(qs))
		select {
		case <-c.done: // the connection is gone: do not sign for nothing
			for i := start; i < end; i++ {
				cl.results[i].Err = c.Err()
			}
			continue
		default:
		}
		var bw batchWriter
		var entries []pendingEntry
		for i := start; i < end; i++ {
			if err := ctx.Err(); err != nil {
				cl.results[i].Err = err
				continue
			}
			k := c.nextCorrID()
			cl.keys[i] = k
			var err error
			t, scratch, err = c.appendNSUB(t[:0], scratch, k[:], qs[i])
			if err != nil {
				cl.results[i].Err = err
				continue
			}
			if bw.buf != nil && !bw.fits(len(t)) {
				out <- signedBlock{content: bw.buf, entries: entries}
				bw.buf = nil
			}
			if bw.buf == nil {
				// Size the block for the rest of the range, taking the
				// NSUBs to come to be as long as this one.
				n := min(end-i, MaxBatchCount, MaxBatchBytes/(2+len(t)))
				bw = newBatchWriter(n * (2 + len(t)))
				entries = make([]pendingEntry, 0, n)
			}
			bw.add(t)
			entries = append(entries, pendingEntry{cl, i})
		}
		if bw.count > 0 {
			out <- signedBlock{content: bw.buf, entries: entries}
		}
	}
}

// appendNSUB appends the NSUB transmission for q (§3.2, §3.3), using
// scratch for the authorized bytes.
func (c *Client) appendNSUB(dst, scratch, corrID []byte, q Queue) (t, scratchOut []byte, err error) {
	if q.Key == nil {
		return dst, scratch, fmt.Errorf("%w: queue has no notifier key", ErrBadKey)
	}
	if len(q.NotifierID) == 0 || len(q.NotifierID) > MaxShortString {
		return dst, scratch, fmt.Errorf("%w: notifier id of %d bytes", ErrMalformed, len(q.NotifierID))
	}
	scratch = AppendAuthorized(scratch[:0], c.sessionID, corrID, q.NotifierID, cmdNSUB)
	dst = append(dst, byte(q.Key.authSize()))
	dst, err = q.Key.appendAuth(dst, scratch, corrID, &c.serverKey)
	if err != nil {
		return dst, scratch, err
	}
	if c.version >= versionServiceCerts {
		dst = append(dst, maybeNothing)
	}
	dst = appendShort(dst, corrID)
	dst = appendShort(dst, q.NotifierID)
	return append(dst, cmdNSUB...), scratch, nil
}

// sendBatch registers entries as pending under their corrIds (cl.keys),
// then writes content as one block. On failure the entries are completed
// with the error.
func (c *Client) sendBatch(ctx context.Context, cl *call, content []byte, entries []pendingEntry) error {
	c.mu.Lock()
	err := c.err
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		for _, e := range entries {
			cl.results[e.idx].Err = err
		}
		c.mu.Unlock()
		return err
	}
	for _, e := range entries {
		c.pending[cl.keys[e.idx]] = e
	}
	cl.remaining += len(entries)
	c.mu.Unlock()

	wrote, err := c.writeBlock(ctx, content)
	switch {
	case err == nil:
		return nil
	case !wrote:
		// Nothing reached the wire: withdraw the entries, keep the connection.
		c.mu.Lock()
		for _, e := range entries {
			k := cl.keys[e.idx]
			if _, ok := c.pending[k]; ok {
				delete(c.pending, k)
				c.completeLocked(e, nil, err)
			}
		}
		c.mu.Unlock()
		return err
	}
	// A partial block corrupts the stream: the connection is lost.
	c.fail(err) // fails the entries just registered, with the rest
	return c.Err()
}

// writeBlock seals content into one block and writes and flushes it
// under the write lock, with ctx's deadline as the write deadline.
// wrote reports whether any byte may have reached the connection.
func (c *Client) writeBlock(ctx context.Context, content []byte) (wrote bool, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := c.Err(); err != nil {
		return false, err
	}
	if err := c.send.seal(&c.wblock, content); err != nil {
		return true, err // the send chain advanced: the stream is out of step
	}
	release := bindDeadline(ctx, c.conn.SetWriteDeadline)
	defer release()
	if err := writeBlock(c.bw, &c.wblock); err != nil {
		return true, err
	}
	return true, c.bw.Flush()
}

// wait blocks until cl is complete or ctx ends; in the latter case it
// withdraws the unanswered entries and fills them with ctx's error.
func (c *Client) wait(ctx context.Context, cl *call) error {
	select {
	case <-cl.done:
		return nil
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range cl.keys {
		if e, ok := c.pending[k]; ok && e.call == cl {
			delete(c.pending, k)
			c.completeLocked(e, nil, ctx.Err())
		}
	}
	return ctx.Err()
}

// completeLocked records a response (msg) or failure (err) for e.
func (c *Client) completeLocked(e pendingEntry, msg Message, err error) {
	cl := e.call
	if err == nil {
		err = checkResponse(cl.kind, msg)
	}
	cl.results[e.idx].Err = err
	cl.remaining--
	if cl.remaining == 0 {
		close(cl.done)
	}
}

// checkResponse maps a response to the error of the command it answers.
func checkResponse(kind callKind, msg Message) error {
	switch m := msg.(type) {
	case ERR:
		return m.Err
	case OK:
		if kind == kindNSUB {
			return nil
		}
	case SOK:
		if kind == kindNSUB && m.ServiceID == nil {
			return nil
		}
	case Pong:
		if kind == kindPing {
			return nil
		}
	}
	return fmt.Errorf("%w: %T", ErrUnexpectedResponse, msg)
}

// keepalive sends PING after PingInterval without any received block and
// stops the connection with ErrKeepaliveTimeout if nothing at all is
// received within PingTimeout after it.
func (c *Client) keepalive() {
	t := time.NewTimer(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		idle := time.Since(time.Unix(0, c.lastRecv.Load()))
		if idle < c.cfg.PingInterval {
			t.Reset(c.cfg.PingInterval - idle)
			continue
		}
		// The watchdog also covers a PING stuck behind a blocked write
		// (a server that stopped reading): failing closes the conn,
		// which unblocks the writer.
		sent := time.Now()
		silent := func() bool { return c.lastRecv.Load() < sent.UnixNano() }
		watchdog := time.AfterFunc(c.cfg.PingTimeout, func() {
			if silent() {
				c.fail(ErrKeepaliveTimeout)
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.PingTimeout)
		c.Ping(ctx)
		cancel()
		watchdog.Stop()
		if silent() && time.Since(sent) >= c.cfg.PingTimeout {
			c.fail(ErrKeepaliveTimeout)
			return
		}
		t.Reset(c.cfg.PingInterval)
	}
}

// readLoop is the only reader of the connection. It dispatches responses
// to pending calls and events to the Events channel. It exits on the
// first read or protocol error, which becomes the sticky error.
func (c *Client) readLoop() {
	defer close(c.events)
	var batch [][]byte
	for {
		err := readBlock(c.br, &c.rblock)
		if err != nil {
			c.fail(err)
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		content, err := c.recv.open(&c.rblock)
		if err == nil {
			batch, err = ParseBatch(content, batch[:0])
		}
		if err != nil {
			c.fail(fmt.Errorf("bad block from server: %w", err))
			return
		}
		for _, t := range batch {
			tr, err := ParseTransmission(t, c.version)
			if err != nil {
				c.fail(fmt.Errorf("bad transmission from server: %w", err))
				return
			}
			if len(tr.CorrID) == 0 {
				if !c.deliverEvent(tr) {
					return
				}
				continue
			}
			c.handleResponse(tr)
		}
	}
}

// handleResponse completes the pending entry for tr's corrId, if any.
func (c *Client) handleResponse(tr Transmission) {
	if len(tr.CorrID) != CorrIDSize {
		c.logger.Debug("response with foreign corrId dropped", "len", len(tr.CorrID))
		return
	}
	msg, perr := parseResponse(tr.Command)
	k := corrKey(tr.CorrID)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.pending[k]
	if !ok {
		return // late answer to an abandoned command
	}
	delete(c.pending, k)
	var want []byte
	if e.call.kind == kindNSUB {
		want = e.call.results[e.idx].NotifierID
	}
	switch {
	case perr != nil:
		c.completeLocked(e, nil, fmt.Errorf("%w: %v", ErrUnexpectedResponse, perr))
	case !bytes.Equal(tr.EntityID, want):
		c.completeLocked(e, nil, fmt.Errorf("%w: entity id differs from the command's", ErrUnexpectedResponse))
	default:
		c.completeLocked(e, msg, nil)
	}
}

// parseResponse is ParseMessage with an allocation-free path for the
// answers to NSUB and PING.
func parseResponse(cmd []byte) (Message, error) {
	switch string(cmd) {
	case "SOK 0":
		return SOK{}, nil
	case "OK":
		return OK{}, nil
	case "PONG":
		return Pong{}, nil
	}
	return ParseMessage(cmd)
}

// deliverEvent sends an event to Events. It returns false if the client
// is closing.
func (c *Client) deliverEvent(tr Transmission) bool {
	msg, err := ParseMessage(tr.Command)
	if err != nil {
		c.logger.Warn("unparsable event dropped", "err", err)
		return true
	}
	switch msg.(type) {
	case NMSG, END, DELD, ENDS, ERR:
	default:
		c.logger.Warn("unexpected event dropped", "type", fmt.Sprintf("%T", msg))
		return true
	}
	ev := Event{NotifierID: bytes.Clone(tr.EntityID), Msg: msg, Received: c.cfg.Now()}
	select {
	case c.events <- ev:
		return true
	case <-c.closing:
		return false
	}
}

// aLongTimeAgo is a deadline in the past, to abort blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// bindDeadline makes ctx govern a connection deadline until the returned
// release func is called: ctx's deadline becomes the conn deadline and
// cancelling ctx aborts blocked I/O. release clears the deadline.
func bindDeadline(ctx context.Context, set func(time.Time) error) (release func()) {
	if d, ok := ctx.Deadline(); ok {
		set(d)
	}
	var mu sync.Mutex
	released := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !released {
			set(aLongTimeAgo)
		}
	})
	return func() {
		stop()
		mu.Lock()
		released = true
		mu.Unlock()
		set(time.Time{})
	}
}
