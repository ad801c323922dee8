package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// longPollWaiters is how many long-polls BenchmarkLongPoll10k parks.
const longPollWaiters = 10_000

// The client side of BenchmarkLongPoll10k runs in a child process (this
// test binary again), so that neither process needs more than about
// 10,000 of the 20,000 files a process may open.
const (
	envLongPollBase = "TRYST_BENCH_LONGPOLL_BASE"
	envLongPollList = "TRYST_BENCH_LONGPOLL_LIST"
)

// BenchmarkLongPoll10k parks 10,000 long-polls on one instance, each on its
// own connection and session, measures the server's memory per waiting
// request (Go heap in use plus goroutine stacks, after a GC, against the
// same figure before the clients connected), then writes every session and
// measures how long until all 10,000 have their answer. The whole scenario
// is one operation, whatever b.N says: it takes seconds, so the benchmark
// runs it once at the default -benchtime. Last, it reports the process's
// resident memory right after the burst and again after a minute of
// quiet, when the gateway should have returned the burst's memory to the
// OS (the process holds the server and the writing client).
func BenchmarkLongPoll10k(b *testing.B) {
	// One address plays every client here, so the per-address caps are off.
	s := startServer(b, "--create-rate", "0", "--write-rate", "0",
		"--longpolls-per-ip", "0", "--max-conns-per-ip", "0", "--longpolls-max", "15000")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	sessions := createSessions(b, client, s.URL, longPollWaiters)
	list := filepath.Join(b.TempDir(), "sessions")
	if err := os.WriteFile(list, []byte(strings.Join(sessions, "\n")), 0o600); err != nil {
		b.Fatal(err)
	}
	before := goMemory()

	child, out := startLongPollClients(b, s.URL, list)
	expectLine(b, out, "sent")
	waitForWaiting(b, s, longPollWaiters)
	perWaiter := float64(goMemory()-before) / longPollWaiters

	writeStart := time.Now()
	writeAll(b, client, s.URL, sessions)
	writeEnd := time.Now()
	fields := strings.Fields(expectLine(b, out, "done"))
	if err := child.Wait(); err != nil {
		b.Fatalf("long-poll client: %v", err)
	}
	answered, _ := strconv.Atoi(fields[1])
	lastNanos, _ := strconv.ParseInt(fields[2], 10, 64)
	if answered != longPollWaiters {
		b.Fatalf("%d of %d long-polls answered 200", answered, longPollWaiters)
	}
	last := time.Unix(0, lastNanos)
	b.ReportMetric(perWaiter, "bytes/waiter")
	b.ReportMetric(float64(writeEnd.Sub(writeStart).Milliseconds()), "write-all-ms")
	b.ReportMetric(float64(max(last.Sub(writeEnd), 0).Milliseconds()), "answered-after-last-write-ms")
	b.ReportMetric(float64(last.Sub(writeStart).Milliseconds()), "answered-after-first-write-ms")
	client.CloseIdleConnections()
	b.ReportMetric(float64(residentBytes(b))/(1<<20), "rss-after-burst-MiB")
	time.Sleep(afterBurstQuiet)
	b.ReportMetric(float64(residentBytes(b))/(1<<20), "rss-60s-later-MiB")
}

// afterBurstQuiet is how long BenchmarkLongPoll10k waits before measuring
// the memory the process still holds.
const afterBurstQuiet = 60 * time.Second

// residentBytes reads this process's resident set size from /proc.
func residentBytes(b *testing.B) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// goMemory is the Go heap in use plus goroutine stacks, after a GC.
func goMemory() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// createSessions creates n sessions and returns "path etag" lines.
func createSessions(b *testing.B, c *http.Client, base string, n int) []string {
	out := make([]string, n)
	parallel(b, n, func(i int) error {
		h, err := call(c, http.MethodPost, base+"/rendezvous", "offer", http.StatusOK)
		out[i] = h.Get("Location") + " " + h.Get("ETag")
		return err
	})
	return out
}

// writeAll answers every session once.
func writeAll(b *testing.B, c *http.Client, base string, sessions []string) {
	parallel(b, len(sessions), func(i int) error {
		path, _, _ := strings.Cut(sessions[i], " ")
		_, err := call(c, http.MethodPut, base+path, "answer", http.StatusAccepted)
		return err
	})
}

// parallel runs f(0..n-1) on 64 goroutines and fails b on the first error.
func parallel(b *testing.B, n int, f func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := f(i); err != nil {
					errOnce.Do(func() { b.Error(err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// waitForWaiting polls /metrics until n long-polls wait.
func waitForWaiting(b *testing.B, s *testServer, n int) {
	want := fmt.Sprintf("tryst_rendezvous_longpolls_waiting %d\n", n)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, body := s.do(b, http.MethodGet, "/metrics", ""); strings.Contains(body, want) {
			return
		}
	}
	b.Fatalf("never saw %d waiting long-polls", n)
}

// startLongPollClients starts the child process and returns its stdout.
func startLongPollClients(b *testing.B, base, list string) (*exec.Cmd, *bufio.Scanner) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLongPollClientProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envLongPollBase+"="+base, envLongPollList+"="+list)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return cmd, bufio.NewScanner(stdout)
}

// expectLine reads lines until one starts with prefix.
func expectLine(b *testing.B, sc *bufio.Scanner, prefix string) string {
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text()
		}
	}
	b.Fatalf("long-poll client ended before %q: %v", prefix, sc.Err())
	return ""
}

// TestLongPollClientProcess is the client side of BenchmarkLongPoll10k and
// does nothing in a normal test run. It opens one connection per session,
// long-polls each, prints "sent" once every request is on its way, and
// "done <answered with 200> <unix nanos of the last answer>" at the end.
func TestLongPollClientProcess(t *testing.T) {
	base := os.Getenv(envLongPollBase)
	if base == "" {
		return // only meaningful as the benchmark's child process
	}
	data, err := os.ReadFile(os.Getenv(envLongPollList))
	if err != nil {
		t.Fatal(err)
	}
	sessions := strings.Split(string(data), "\n")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	var answered atomic.Int64
	var last atomic.Int64
	var wg sync.WaitGroup
	for i, line := range sessions {
		path, etag, _ := strings.Cut(line, " ")
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			req.Header.Set("If-None-Match", etag)
			req.Header.Set("Prefer", "wait=30")
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("long-poll %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				answered.Add(1)
			}
			for now := time.Now().UnixNano(); ; {
				if old := last.Load(); old >= now || last.CompareAndSwap(old, now) {
					break
				}
			}
		})
		if i%500 == 499 {
			time.Sleep(10 * time.Millisecond) // let the listen backlog drain
		}
	}
	fmt.Println("sent")
	wg.Wait()
	fmt.Println("done", answered.Load(), last.Load())
}
