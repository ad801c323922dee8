// Package netlimit caps the connections a server holds open, in total and
// per client address, so that no client, and no flood, can use up the
// process's file descriptors. A connection over a cap is accepted and
// closed at once (after a short refusal the caller provides) rather than
// left in the kernel's backlog: accepting keeps the listen queue moving
// for everyone else, and the total cap sits below the descriptor limit,
// so accept itself never fails for want of one.
package netlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trystgw/tryst/ratelimit"
)

// Config sets the caps. Zero values mean no cap.
type Config struct {
	// Max bounds the connections open at once.
	Max int
	// PerClient bounds the connections of one client address (IPv6 by
	// /64, see ratelimit.ClientKey).
	PerClient int
	// Exempt are peers capped only by Max: proxies in front of the
	// server, whose connections carry many clients.
	Exempt []netip.Prefix
	// Refusal is written to a connection over a cap before it is closed;
	// nil closes it without a word.
	Refusal []byte
}

// refusalTimeout bounds the write of the refusal: it fits any socket
// buffer, so only a peer that is gone makes it wait.
const refusalTimeout = 100 * time.Millisecond

// Listener wraps a net.Listener with the caps of its Config.
type Listener struct {
	net.Listener
	cfg   Config
	conns *ratelimit.Concurrency
	shed  atomic.Uint64
}

// NewListener returns ln with cfg's caps applied.
func NewListener(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, conns: ratelimit.NewConcurrency(cfg.PerClient, cfg.Max)}
}

// Accept returns the next connection within the caps, refusing and
// closing those over them as they come.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := l.key(c.RemoteAddr())
		if l.conns.Acquire(key) {
			return &conn{Conn: c, release: func() { l.conns.Release(key) }}, nil
		}
		l.shed.Add(1)
		l.refuse(c)
	}
}

// key is the per-client key of a peer: "" (capped by Max only) for an
// exempt peer or an address that is not IP.
func (l *Listener) key(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return ""
	}
	addr := ap.Addr().Unmap()
	for _, p := range l.cfg.Exempt {
		if p.Contains(addr) {
			return ""
		}
	}
	return ratelimit.ClientKey(addr)
}

func (l *Listener) refuse(c net.Conn) {
	if l.cfg.Refusal != nil {
		c.SetWriteDeadline(time.Now().Add(refusalTimeout))
		c.Write(l.cfg.Refusal)
	}
	c.Close()
}

// Shed returns how many connections were refused so far.
func (l *Listener) Shed() uint64 { return l.shed.Load() }

// Open returns how many accepted connections are open now.
func (l *Listener) Open() int {
	n, _ := l.conns.Held()
	return n
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Reserve is how many descriptors MaxFor keeps for everything but client
// connections (database, Redis, push providers, log and key files) and
// for accepting connections only to refuse them: a tenth of the limit,
// at least 64.
func Reserve(fdLimit int) int { return max(fdLimit/10, 64) }

// MaxFor is the connection cap for a process allowed fdLimit open files:
// the limit less Reserve, and at least 1.
func MaxFor(fdLimit int) int { return max(fdLimit-Reserve(fdLimit), 1) }
