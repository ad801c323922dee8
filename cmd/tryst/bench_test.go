package main

import (
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// benchConcurrency is the number of keep-alive connections the full-cycle
// load generator keeps busy.
const benchConcurrency = 32

// BenchmarkFullCycle drives POST -> GET -> PUT(If-Match) ->
// GET(If-None-Match, 304) -> DELETE over loopback HTTP with keep-alive
// against a bare net/http handler that does no work, the gateway on the
// memory store and the gateway on the Redis store, and reports each
// gateway's share of the bare rate and Redis's share of memory's. Each
// ratio pairs a run with its own baseline: just before the timed cycles,
// the same number of cycles runs against the baseline server with the
// timer stopped, so -count N gives N independent pairs instead of N runs
// divided by the last baseline. The gateway runs with its default settings
// but for rate limits (the load comes from one address). The redis case
// needs TRYST_TEST_REDIS_URL.
func BenchmarkFullCycle(b *testing.B) {
	bare := startBareServer(b)
	b.Run("bare-net-http", func(b *testing.B) {
		benchCycles(b, bare)
	})
	memory := startServer(b, "--create-rate", "0", "--write-rate", "0").URL
	b.Run("memory", func(b *testing.B) {
		base := baselineCycles(b, bare)
		b.ReportMetric(benchCycles(b, memory)/base, "ratio-to-bare")
	})
	b.Run("redis", func(b *testing.B) {
		url := redistest.StoreURL(b, redistest.URL(b))
		s := startServer(b, "--rendezvous-store", url, "--create-rate", "0", "--write-rate", "0")
		base, mem := baselineCycles(b, bare), baselineCycles(b, memory)
		rps := benchCycles(b, s.URL)
		b.ReportMetric(rps/base, "ratio-to-bare")
		b.ReportMetric(rps/mem, "ratio-to-memory")
	})
}

// baselineCycles runs b.N full cycles against base with the timer stopped,
// over the same number of connections as benchCycles, and returns requests
// per second.
func baselineCycles(b *testing.B, base string) float64 {
	b.StopTimer()
	defer b.StartTimer()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency, MaxConnsPerHost: benchConcurrency}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchConcurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := fullCycle(client, base); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(b.N*5) / time.Since(start).Seconds()
}

// startBareServer serves, on loopback until the benchmark ends, a handler
// that answers every request with what the gateway would send for its
// status alone and does no other work.
func startBareServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Location", "/rendezvous/bare")
		w.Header().Set("ETag", `"bare-1"`)
		w.WriteHeader(bareStatus(r))
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// bareStatus is the status fullCycle expects for each step.
func bareStatus(r *http.Request) int {
	switch {
	case r.Method == http.MethodPut:
		return http.StatusAccepted
	case r.Method == http.MethodDelete:
		return http.StatusNoContent
	case r.Header.Get("If-None-Match") != "":
		return http.StatusNotModified
	}
	return http.StatusOK
}

// benchCycles runs b.N full cycles spread over benchConcurrency
// connections and reports requests per second, which it returns.
func benchCycles(b *testing.B, base string) float64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency, MaxConnsPerHost: benchConcurrency}}
	b.Cleanup(client.CloseIdleConnections)
	b.SetParallelism(max(benchConcurrency/runtime.GOMAXPROCS(0), 1))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := fullCycle(client, base); err != nil {
				b.Error(err)
				return
			}
		}
	})
	rps := float64(b.N*5) / b.Elapsed().Seconds()
	b.ReportMetric(rps, "req/s")
	return rps
}
