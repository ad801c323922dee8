package smpclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/trystgw/tryst/smpclient/tls13"
)

// TLSImplementation names the TLS client that serves a connection.
type TLSImplementation string

// TLS implementations. Go's crypto/tls serves every server it can
// verify; smpclient/tls13 serves servers whose online (leaf) certificate
// is Ed448, which crypto/tls cannot verify (golang/go#29390).
const (
	// TLSAuto tries crypto/tls first and, when the server refuses it
	// before showing a certificate, smpclient/tls13.
	TLSAuto TLSImplementation = ""
	// TLSGo is Go's crypto/tls.
	TLSGo TLSImplementation = "crypto/tls"
	// TLS13 is this module's TLS 1.3 client (package smpclient/tls13).
	TLS13 TLSImplementation = "smpclient/tls13"
)

// TLSMemo remembers which servers need smpclient/tls13, so that a
// reconnect goes straight to it instead of failing with crypto/tls
// first. It is safe for concurrent use; share one among all dials.
type TLSMemo struct {
	mu sync.Mutex
	m  map[string]TLSImplementation // guarded by mu; by ServerAddress.String()
}

// NewTLSMemo returns an empty memo.
func NewTLSMemo() *TLSMemo { return &TLSMemo{m: make(map[string]TLSImplementation)} }

// Get returns the implementation remembered for addr, or TLSAuto.
func (m *TLSMemo) Get(addr ServerAddress) TLSImplementation {
	if m == nil {
		return TLSAuto
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[addr.String()]
}

func (m *TLSMemo) set(addr ServerAddress, impl TLSImplementation) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if impl == TLSAuto {
		delete(m.m, addr.String())
		return
	}
	m.m[addr.String()] = impl
}

// tlsConn is an established TLS connection and what was negotiated.
type tlsConn struct {
	conn           net.Conn
	impl           TLSImplementation
	version, suite uint16
	alpn           string
	chain          Chain
	// tlsUnique is the client Finished verify_data, nil if unknown.
	tlsUnique []byte
}

// dialer opens TLS connections to one server for Dial.
type dialer struct {
	addr     ServerAddress
	hostport string
	cfg      Config
}

// dialTLS opens a TCP connection and runs TLS with the implementation
// cfg.TLS names, the one remembered for the server, or crypto/tls with
// a fall back to smpclient/tls13 for a server that refuses it before
// showing its certificate.
func (d *dialer) dialTLS(ctx context.Context) (*tlsConn, error) {
	impl := d.cfg.TLS
	if impl == TLSAuto {
		impl = d.cfg.TLSMemo.Get(d.addr)
	}
	switch impl {
	case TLS13:
		tc, err := d.dialWith(ctx, d.handshake13)
		if err != nil && d.cfg.TLS == TLSAuto && refused(err) {
			d.cfg.TLSMemo.set(d.addr, TLSAuto) // the server changed: probe again next time
		}
		return tc, err
	case TLSGo:
		return d.dialWith(ctx, d.handshakeGo)
	case TLSAuto:
		return d.dialAuto(ctx)
	}
	return nil, fmt.Errorf("smp: config: unknown TLS implementation %q", impl)
}

func (d *dialer) dialAuto(ctx context.Context) (*tlsConn, error) {
	tc, goErr := d.dialWith(ctx, d.handshakeGo)
	if goErr == nil || !refused(goErr) || ctx.Err() != nil {
		return tc, goErr
	}
	d.cfg.Logger.Debug("crypto/tls refused before a certificate; trying smpclient/tls13", "err", goErr)
	tc, err := d.dialWith(ctx, d.handshake13)
	if err == nil {
		d.cfg.TLSMemo.set(d.addr, TLS13)
		return tc, nil
	}
	if !refused(err) || ctx.Err() != nil {
		return nil, err // a key hash or chain error says more than the first refusal
	}
	var te *TLSError
	errors.As(goErr, &te)
	return nil, &TLSError{Addr: d.hostport, Err: fmt.Errorf("crypto/tls: %w; smpclient/tls13: %w", te.Err, errors.Unwrap(err))}
}

// refused reports whether a TLS handshake failed without the server's
// certificate chain being judged (a *TLSError, not a key hash or chain
// error).
func refused(err error) bool {
	var te *TLSError
	return errors.As(err, &te)
}

// dialWith opens the TCP connection and runs one TLS handshake on it.
func (d *dialer) dialWith(ctx context.Context, hs func(context.Context, net.Conn) (*tlsConn, error)) (*tlsConn, error) {
	raw, err := d.cfg.DialContext(ctx, "tcp", d.hostport)
	if err != nil {
		return nil, &DialError{Addr: d.hostport, Err: err}
	}
	release := bindDeadline(ctx, raw.SetDeadline)
	tc, err := hs(ctx, raw)
	release()
	if err != nil {
		raw.Close()
		return nil, err
	}
	return tc, nil
}

// verifier returns the §1.2 check run inside a handshake; it records
// the chain, or the check's error, in *chain / *chainErr.
func (d *dialer) verifier(chain *Chain, chainErr *error) func([][]byte) error {
	return func(raw [][]byte) error {
		*chain, *chainErr = verifyChain(raw, d.addr.KeyHash, d.cfg.Now(), d.cfg.SkipChainValidation)
		return *chainErr
	}
}

// handshakeFailure returns the chain check's error when it caused the
// failure, the context's error when it ended first, else a *TLSError.
func (d *dialer) handshakeFailure(ctx context.Context, err, chainErr error) error {
	switch {
	case chainErr != nil:
		return chainErr
	case ctx.Err() != nil:
		return &TLSError{Addr: d.hostport, Err: ctx.Err()}
	}
	return &TLSError{Addr: d.hostport, Err: err}
}

// handshakeGo runs crypto/tls. Under TLS 1.3 the client Finished is
// recovered with a tls13.FinishedCapture, under TLS 1.2 it is TLSUnique.
func (d *dialer) handshakeGo(ctx context.Context, raw net.Conn) (*tlsConn, error) {
	var chain Chain
	var chainErr error
	capture := tls13.NewFinishedCapture()
	tcfg := clientTLSConfig(d.cfg.Now, d.verifier(&chain, &chainErr))
	tcfg.KeyLogWriter = capture
	tc := tls.Client(capture.Conn(raw, false), tcfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, d.handshakeFailure(ctx, err, chainErr)
	}
	cs := tc.ConnectionState()
	unique := cs.TLSUnique
	if cs.Version != tls.VersionTLS13 {
		capture.Stop()
	} else {
		var err error
		if unique, err = capture.ClientFinished(cs.CipherSuite); err != nil {
			d.cfg.Logger.Debug("client Finished not recovered; session id is not checked", "err", err)
		}
	}
	return &tlsConn{conn: tc, impl: TLSGo, version: cs.Version, suite: cs.CipherSuite, alpn: cs.NegotiatedProtocol, chain: chain, tlsUnique: unique}, nil
}

// handshake13 runs smpclient/tls13.
func (d *dialer) handshake13(ctx context.Context, raw net.Conn) (*tlsConn, error) {
	var chain Chain
	var chainErr error
	tc := tls13.Client(raw, &tls13.Config{NextProtos: []string{ALPN}, VerifyPeerCertificate: d.verifier(&chain, &chainErr)})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, d.handshakeFailure(ctx, err, chainErr)
	}
	cs := tc.ConnectionState()
	return &tlsConn{conn: tc, impl: TLS13, version: cs.Version, suite: cs.CipherSuite, alpn: cs.NegotiatedProtocol, chain: chain, tlsUnique: cs.ClientFinished}, nil
}
