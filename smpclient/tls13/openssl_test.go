package tls13

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireTool returns the path of an external program. A missing one
// skips the test, or fails it under TRYST_TEST_REQUIRE_SERVICES=1.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("TRYST_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not installed but TRYST_TEST_REQUIRE_SERVICES=1", name)
	}
	t.Skipf("%s is not installed: interop test skipped", name)
	return ""
}

// opensslChain makes a [leaf, CA] chain of alg ("ed448" or "ed25519")
// with the openssl command and returns the file names.
func opensslChain(t testing.TB, openssl, alg string) (leafCert, leafKey, caCert string) {
	t.Helper()
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	steps := [][]string{
		{"genpkey", "-algorithm", alg, "-out", f("ca.key")},
		{"req", "-x509", "-new", "-key", f("ca.key"), "-subj", "/CN=SMP server CA", "-days", "2", "-out", f("ca.crt")},
		{"genpkey", "-algorithm", alg, "-out", f("leaf.key")},
		{"req", "-new", "-key", f("leaf.key"), "-subj", "/CN=server", "-out", f("leaf.csr")},
		{"x509", "-req", "-in", f("leaf.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-set_serial", "2", "-days", "2", "-out", f("leaf.crt")},
	}
	for _, args := range steps {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	return f("leaf.crt"), f("leaf.key"), f("ca.crt")
}

// sServer is a running "openssl s_server": what the client sends shows
// on out, what is written to in goes to the client ("K" on a line of its
// own makes the server send a KeyUpdate that requests one back).
type sServer struct {
	addr string
	in   io.Writer
	out  *bufio.Reader
}

// startSServer runs openssl s_server on loopback with the chain and extra
// arguments, and waits for it to listen.
func startSServer(t testing.TB, openssl, leafCert, leafKey, caCert string, args ...string) *sServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	argv := append([]string{"s_server", "-accept", "127.0.0.1:0", "-cert", leafCert, "-key", leafKey, "-cert_chain", caCert}, args...)
	cmd := exec.CommandContext(ctx, openssl, argv...)
	in, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("openssl s_server: %v", err)
	}
	t.Cleanup(func() { cancel(); in.Close(); cmd.Wait() })
	s := &sServer{in: in, out: bufio.NewReader(stdout)}
	lines := make(chan string, 1)
	go func() {
		for {
			line, err := s.out.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ACCEPT "); ok {
				lines <- addr
				return
			}
		}
	}()
	select {
	case addr, ok := <-lines:
		if !ok {
			t.Fatal("openssl s_server exited before listening")
		}
		s.addr = addr
	case <-time.After(deadline):
		t.Fatal("openssl s_server did not start listening")
	}
	return s
}

// waitLine waits for a line containing want on the server's output.
func (s *sServer) waitLine(t *testing.T, want string) {
	t.Helper()
	got := make(chan bool, 1)
	go func() {
		for {
			line, err := s.out.ReadString('\n')
			if err != nil {
				got <- false
				return
			}
			if strings.Contains(line, want) {
				got <- true
				return
			}
		}
	}()
	select {
	case ok := <-got:
		if !ok {
			t.Fatalf("s_server output ended before %q", want)
		}
	case <-time.After(deadline):
		t.Fatalf("s_server never printed %q", want)
	}
}

// lineReader reads lines from c in the background, so that post-handshake
// messages (KeyUpdate) are processed while the test waits for them.
func lineReader(t *testing.T, c *Conn) <-chan string {
	lines := make(chan string, 8)
	go func() {
		defer close(lines)
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	return lines
}

func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("connection ended")
		}
		return l
	case <-time.After(deadline):
		t.Fatal("no line from the server")
	}
	return ""
}

// TestOpenSSLInterop connects to openssl s_server with Ed448 and Ed25519
// chains of two certificates and each cipher suite, exchanges data both
// ways and has the server request a key update in the middle.
func TestOpenSSLInterop(t *testing.T) {
	openssl := requireTool(t, "openssl")
	for _, alg := range []string{"ed448", "ed25519"} {
		leaf, key, ca := opensslChain(t, openssl, alg)
		for _, suite := range []uint16{TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384} {
			t.Run(alg+"/"+CipherSuiteName(suite), func(t *testing.T) {
				s := startSServer(t, openssl, leaf, key, ca, "-tls1_3", "-alpn", "smp/1", "-ciphersuites", CipherSuiteName(suite))
				var chain [][]byte
				cfg := smpConfig()
				cfg.VerifyPeerCertificate = func(raw [][]byte) error { chain = raw; return nil }
				c, err := dialTLS13(t, s.addr, cfg)
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				st := c.ConnectionState()
				if st.CipherSuite != suite || st.NegotiatedProtocol != "smp/1" || len(chain) != 2 || st.HelloRetried {
					t.Fatalf("state = suite %#x, ALPN %q, %d certificates, retried %v", st.CipherSuite, st.NegotiatedProtocol, len(chain), st.HelloRetried)
				}
				exchange(t, s, c)
			})
		}
	}
}

// exchange sends a line each way, then a server-requested key update,
// then a line each way again under the new keys.
func exchange(t *testing.T, s *sServer, c *Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(deadline))
	lines := lineReader(t, c)
	if _, err := c.Write([]byte("from the client\n")); err != nil {
		t.Fatal(err)
	}
	s.waitLine(t, "from the client")
	io.WriteString(s.in, "from the server\n")
	if got := nextLine(t, lines); got != "from the server\n" {
		t.Fatalf("client read %q", got)
	}
	// s_server takes "K" as a command only when it reads it alone, so
	// the next line waits until the client has seen the KeyUpdate.
	c.outMu.Lock()
	writeSecret := c.out.secret
	c.outMu.Unlock()
	io.WriteString(s.in, "K\n")
	for end := time.Now().Add(deadline); c.keyUpdates.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("no KeyUpdate received")
		}
	}
	io.WriteString(s.in, "after the update\n")
	if got := nextLine(t, lines); got != "after the update\n" {
		t.Fatalf("client read %q", got)
	}
	if _, err := c.Write([]byte("client after the update\n")); err != nil {
		t.Fatal(err)
	}
	s.waitLine(t, "client after the update")
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if bytes.Equal(c.out.secret, writeSecret) {
		t.Error("the client did not update its sending key when asked")
	}
}

// TestOpenSSLHelloRetry: a server that only takes X448 asks for it with
// a HelloRetryRequest.
func TestOpenSSLHelloRetry(t *testing.T) {
	openssl := requireTool(t, "openssl")
	leaf, key, ca := opensslChain(t, openssl, "ed448")
	s := startSServer(t, openssl, leaf, key, ca, "-tls1_3", "-alpn", "smp/1", "-groups", "X448")
	c, err := dialTLS13(t, s.addr, smpConfig())
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if !c.ConnectionState().HelloRetried {
		t.Fatal("no HelloRetryRequest seen")
	}
	exchange(t, s, c)
}

// TestOpenSSLRefusals: servers this client cannot or must not talk to
// fail the handshake with a clear error.
func TestOpenSSLRefusals(t *testing.T) {
	openssl := requireTool(t, "openssl")
	leaf, key, ca := opensslChain(t, openssl, "ed25519")
	t.Run("TLS 1.2 only", func(t *testing.T) {
		s := startSServer(t, openssl, leaf, key, ca, "-tls1_2", "-alpn", "smp/1")
		_, err := dialTLS13(t, s.addr, smpConfig())
		if !errors.Is(err, ErrNotTLS13) {
			t.Fatalf("handshake error = %v, want ErrNotTLS13", err)
		}
		t.Logf("TLS 1.2 only: %v", err)
	})
	t.Run("no ALPN", func(t *testing.T) {
		s := startSServer(t, openssl, leaf, key, ca, "-tls1_3")
		c, err := dialTLS13(t, s.addr, smpConfig())
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "" {
			t.Fatalf("ALPN = %q, want none", p)
		}
	})
	t.Run("certificate rejected", func(t *testing.T) {
		s := startSServer(t, openssl, leaf, key, ca, "-tls1_3")
		cfg := smpConfig()
		errPinned := errors.New("identity certificate is not the pinned one")
		cfg.VerifyPeerCertificate = func([][]byte) error { return errPinned }
		_, err := dialTLS13(t, s.addr, cfg)
		if !errors.Is(err, errPinned) {
			t.Fatalf("handshake error = %v, want the verifier's error", err)
		}
	})
}

// TestOpenSSLCertificateRequest: a server that asks for a client
// certificate gets an empty Certificate and goes on (-verify, not
// -Verify, makes the certificate optional).
func TestOpenSSLCertificateRequest(t *testing.T) {
	openssl := requireTool(t, "openssl")
	leaf, key, ca := opensslChain(t, openssl, "ed25519")
	s := startSServer(t, openssl, leaf, key, ca, "-tls1_3", "-alpn", "smp/1", "-verify", "1")
	c, err := dialTLS13(t, s.addr, smpConfig())
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.SetDeadline(time.Now().Add(deadline))
	if _, err := c.Write([]byte("no certificate here\n")); err != nil {
		t.Fatal(err)
	}
	s.waitLine(t, "no certificate here")
}
