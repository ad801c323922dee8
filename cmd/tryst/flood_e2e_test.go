package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The attacking side of TestServeLongPollFlood runs in a child process
// (this test binary again), so its connections use its own descriptors,
// and from its own loopback address, so the caps of one address apply to
// it and not to the test's own requests from 127.0.0.1.
const (
	envFloodBase  = "TRYST_TEST_FLOOD_BASE"
	envFloodPath  = "TRYST_TEST_FLOOD_PATH"
	envFloodETag  = "TRYST_TEST_FLOOD_ETAG"
	envFloodConns = "TRYST_TEST_FLOOD_CONNS"
	floodFrom     = "127.0.0.2"
)

// TestServeLongPollFlood has one address open more long-polls than it may:
// the server holds the per-address number of long-polls, answers the next
// ones 429 on connections it can still afford, and sheds connections over
// the per-address cap at once; /healthz and a fresh client are served
// throughout.
func TestServeLongPollFlood(t *testing.T) {
	const perIPPolls, perIPConns, attempts = 20, 100, 150
	s := startServer(t, "--longpolls-per-ip", strconv.Itoa(perIPPolls), "--max-conns-per-ip", strconv.Itoa(perIPConns),
		"--max-conns", "400", "--create-rate", "0")
	resp, _ := s.do(t, http.MethodPost, "/rendezvous", "offer")
	path, etag := resp.Header.Get("Location"), resp.Header.Get("ETag")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFloodClientProcess$", "-test.count=1")
	child.Env = append(os.Environ(), envFloodBase+"="+strings.TrimPrefix(s.URL, "http://"), envFloodPath+"="+path,
		envFloodETag+"="+etag, envFloodConns+"="+strconv.Itoa(attempts))
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var held, limited, shed int
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "held %d limited %d shed %d", &held, &limited, &shed); err == nil {
			break
		}
	}
	t.Logf("one address, %d attempts: %d long-polls held, %d answered 429, %d connections shed", attempts, held, limited, shed)
	if held != perIPPolls || limited != perIPConns-perIPPolls || shed != attempts-perIPConns {
		t.Errorf("held %d, limited %d, shed %d; want %d, %d, %d", held, limited, shed, perIPPolls, perIPConns-perIPPolls, attempts-perIPConns)
	}

	// While the attacker holds its connections, others are served.
	if resp, _ := s.do(t, http.MethodGet, "/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz during the flood = %d", resp.StatusCode)
	}
	resp, _ = s.do(t, http.MethodPost, "/rendezvous", "mine")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fresh client's POST during the flood = %d", resp.StatusCode)
	}
	if resp, _ := s.do(t, http.MethodGet, resp.Header.Get("Location"), "", "If-None-Match", resp.Header.Get("ETag"), "Prefer", "wait=1"); resp.StatusCode != http.StatusNotModified {
		t.Errorf("fresh client's long-poll during the flood = %d, want 304 after its wait", resp.StatusCode)
	}
	_, metrics := s.do(t, http.MethodGet, "/metrics", "")
	if want := fmt.Sprintf("tryst_http_connections_shed_total %d\n", attempts-perIPConns); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q", want)
	}
	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Errorf("flood client: %v", err)
	}
}

// TestFloodClientProcess is the attacker of TestServeLongPollFlood and
// does nothing in a normal test run. It opens its connections from
// 127.0.0.2, sends a long-poll on each, prints "held H limited L shed S"
// once every connection has answered or stayed silent, and keeps them
// open until its standard input closes.
func TestFloodClientProcess(t *testing.T) {
	base := os.Getenv(envFloodBase)
	if base == "" {
		return // only meaningful as the child of TestServeLongPollFlood
	}
	n, _ := strconv.Atoi(os.Getenv(envFloodConns))
	req := "GET " + os.Getenv(envFloodPath) + " HTTP/1.1\r\nHost: " + base + "\r\nIf-None-Match: " +
		os.Getenv(envFloodETag) + "\r\nPrefer: wait=30\r\n\r\n"
	var held, limited, shed atomic.Int64
	var wg sync.WaitGroup
	conns := make([]net.Conn, n)
	for i := range n {
		wg.Go(func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(floodFrom)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", base)
			if err != nil {
				shed.Add(1)
				return
			}
			conns[i] = c
			switch floodOutcome(c, req) {
			case http.StatusTooManyRequests:
				limited.Add(1)
			case 0:
				held.Add(1)
			default:
				shed.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("held %d limited %d shed %d\n", held.Load(), limited.Load(), shed.Load())
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// floodOutcome sends req on c and returns the status of the answer, 0 if
// none comes within two seconds (the long-poll is held), or -1 if the
// connection is closed first (shed).
func floodOutcome(c net.Conn, req string) int {
	if _, err := io.WriteString(c, req); err != nil {
		return -1
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return 0
	}
	var status int
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &status); err != nil {
		return -1
	}
	return status
}

// TestServeCutsSlowBodies trickles a request body: the server gives up on
// it after --read-timeout and frees the connection.
func TestServeCutsSlowBodies(t *testing.T) {
	s := startServer(t, "--read-timeout", "1s")
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "POST /rendezvous HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c) // until the server closes the connection
	if took := time.Since(start); took < time.Second || took > 3*time.Second {
		t.Errorf("slow body cut after %v, want about 1s", took)
	}
}
