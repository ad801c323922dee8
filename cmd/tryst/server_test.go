package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a `tryst serve` started by startServer.
type testServer struct {
	URL  string // http://127.0.0.1:port
	stop func() error
}

// startupTimeout bounds how long a test waits for the server to listen.
const startupTimeout = 10 * time.Second

// startServer runs `tryst serve` with args on a free loopback port and
// returns once it listens. The server is stopped at cleanup, and the test
// fails if run does not return nil.
func startServer(t testing.TB, args ...string) *testServer {
	t.Helper()
	return startServerLog(t, nil, args...)
}

// lockedOutput collects what a command writes, safe to read while it is
// still writing.
type lockedOutput struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedOutput) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServerLog is startServer keeping the server's log in log (if not
// nil); after stop returns, log holds all of it. The server gets a fresh
// data directory unless args name one.
func startServerLog(t testing.TB, log *lockedOutput, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...), func(string) string { return "" }, pw)
		pw.Close()
		done <- err
	}()
	addr := make(chan string, 1)
	drained := make(chan struct{})
	var logs io.Reader = pr
	if log != nil {
		logs = io.TeeReader(pr, log)
	}
	go func() {
		readListenAddr(logs, addr)
		close(drained)
	}()
	s := &testServer{}
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("serve %v exited before listening: %v", args, err)
	case <-time.After(startupTimeout):
		cancel()
		t.Fatalf("serve %v did not listen within %v", args, startupTimeout)
	}
	var stopped bool
	var stopErr error
	s.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			stopErr = <-done
			<-drained
		}
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve returned %v, want nil", err)
		}
	})
	return s
}

// readListenAddr finds the "listening" log line, then keeps draining the
// log so the server never blocks writing it.
func readListenAddr(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			addr <- line.Addr
			break
		}
	}
	io.Copy(io.Discard, r)
}

// do sends one request to the server and returns the response with its
// body read.
func (s *testServer) do(t testing.TB, method, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}
