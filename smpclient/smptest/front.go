package smptest

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/trystgw/tryst/smpclient"
)

// A TLS front terminates TLS with OpenSSL (through Python's ssl module)
// for a Plain fake server, so that smpclient meets a TLS stack other than
// Go's and certificates Go cannot serve (Ed448). For each connection it
// completes the handshake, sends the backend the preamble Config.Plain
// describes (tls-unique as OpenSSL reports it, i.e. the client Finished,
// and the ALPN protocol) and then copies bytes both ways. Closing either
// side closes the other.
const frontScript = `
import socket, ssl, sys, threading

cert, key, backend, alpn, version = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.options |= ssl.OP_NO_TICKET
v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version = v
if alpn:
    ctx.set_alpn_protocols([alpn, "h2", "http/1.1"])

def pump(src, dst):
    buf = bytearray(65536)
    try:
        while True:
            n = src.recv_into(buf)
            if n == 0:
                break
            dst.sendall(memoryview(buf)[:n])
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(raw):
    try:
        raw.settimeout(30)
        tls = ctx.wrap_socket(raw, server_side=True)
        tls.settimeout(None)
        sid = tls.get_channel_binding("tls-unique") or b""
        proto = (tls.selected_alpn_protocol() or "").encode()
        b = socket.create_connection(("127.0.0.1", backend))
        b.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        b.sendall(bytes([len(sid)]) + sid + bytes([len(proto)]) + proto)
    except (OSError, ssl.SSLError):
        raw.close()
        return
    threading.Thread(target=pump, args=(b, tls), daemon=True).start()
    pump(tls, b)
    tls.close()
    b.close()

ln = socket.socket()
ln.bind(("127.0.0.1", 0))
ln.listen(128)
print(ln.getsockname()[1], flush=True)
while True:
    conn, _ = ln.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
`

// FrontConfig configures a TLS front.
type FrontConfig struct {
	// NoALPN negotiates no ALPN protocol (the backend then offers only
	// SMP v6, like the reference server).
	NoALPN bool
	// TLS12Only limits the front to TLS 1.2.
	TLS12Only bool
	// Chain, if set, is presented instead of the backend's chain (the
	// leaf key stays the backend's certificate key).
	Chain [][]byte
}

// ErrNoPython is returned by StartFront when python3 is not installed.
var ErrNoPython = errors.New("smptest: python3 is not installed (the TLS front needs it)")

// frontStart bounds the front's start.
const frontStart = 10 * time.Second

// Front is a running TLS front.
type Front struct {
	addr    string
	keyHash smpclient.KeyHash
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	dir     string
}

// StartFront starts a TLS front for backend, which must have Plain set,
// presenting backend's certificate chain and key.
func StartFront(backend *Server, cfg FrontConfig) (*Front, error) {
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, ErrNoPython
	}
	if !backend.cfg.Plain {
		return nil, errors.New("smptest: a front needs a Plain backend")
	}
	dir, err := os.MkdirTemp("", "smptest-front-")
	if err != nil {
		return nil, err
	}
	chain := backend.chain
	if cfg.Chain != nil {
		chain = cfg.Chain
	}
	certFile, keyFile, err := writePEM(dir, chain, backend.leafKey)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	_, port, _ := net.SplitHostPort(backend.Addr())
	alpn, version := smpclient.ALPN, "1.3"
	if cfg.NoALPN {
		alpn = ""
	}
	if cfg.TLS12Only {
		version = "1.2"
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, python, "-c", frontScript, certFile, keyFile, port, alpn, version)
	f := &Front{keyHash: smpclient.KeyHashOf(chain[1]), cmd: cmd, cancel: cancel, dir: dir}
	if f.addr, err = f.start(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// start runs the script and reads the port it listens on.
func (f *Front) start() (string, error) {
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr strings.Builder
	f.cmd.Stderr = &stderr
	if err := f.cmd.Start(); err != nil {
		return "", err
	}
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		port <- strings.TrimSpace(line)
	}()
	select {
	case p := <-port:
		if p == "" {
			return "", fmt.Errorf("smptest: TLS front did not start: %s", stderr.String())
		}
		return net.JoinHostPort("127.0.0.1", p), nil
	case <-time.After(frontStart):
		return "", errors.New("smptest: TLS front did not start in time")
	}
}

// NewTestFront starts a front for a test and closes it in t's cleanup.
// Without python3 it skips the test, or fails it under
// TRYST_TEST_REQUIRE_SERVICES=1.
func NewTestFront(t testing.TB, backend *Server, cfg FrontConfig) *Front {
	t.Helper()
	f, err := StartFront(backend, cfg)
	if errors.Is(err, ErrNoPython) {
		if os.Getenv("TRYST_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%v, and TRYST_TEST_REQUIRE_SERVICES=1", err)
		}
		t.Skipf("%v: test skipped", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Addr returns the front's host:port.
func (f *Front) Addr() string { return f.addr }

// Address returns the smp:// address of the server behind the front.
func (f *Front) Address() smpclient.ServerAddress {
	host, port, _ := net.SplitHostPort(f.addr)
	return smpclient.ServerAddress{KeyHash: f.keyHash, Hosts: []string{host}, Port: port}
}

// Close stops the front; its connections end.
func (f *Front) Close() error {
	f.cancel()
	f.cmd.Wait()
	return os.RemoveAll(f.dir)
}

// writePEM writes the chain and the leaf's PKCS#8 key for OpenSSL.
func writePEM(dir string, chain [][]byte, key any) (certFile, keyFile string, err error) {
	var certs []byte
	for _, der := range chain {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	var pkcs8 []byte
	switch k := key.(type) {
	case ed448.PrivateKey:
		pkcs8 = smpclient.NewEd448Key(k.Seed()).MarshalPKCS8()
	case ed25519.PrivateKey:
		if pkcs8, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
			return "", "", err
		}
	default:
		return "", "", fmt.Errorf("smptest: leaf key %T", key)
	}
	certFile, keyFile = filepath.Join(dir, "chain.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certs, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)
}
