package smpclient_test

import (
	"context"
	"crypto/ed25519"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// Performance model: every NSUB carries one Ed25519 signature, so the
// client can confirm at most about as many subscriptions per second as
// one core makes signatures. The benchmarks report, in one run:
//
//	BenchmarkEd25519Sign             sigs/s   signatures per second, one goroutine
//	BenchmarkSubscribe/verify=off    subs/s   (b) NSUBs confirmed per second against smptest
//	                                          with SkipSignatureVerification (benchmark only),
//	                                 sigs/s   (a) signatures per second made by as many
//	                                          goroutines as the client signs with, around the run
//	                                 subs/sig b/a, target >= 0.8
//	BenchmarkSubscribe/verify=off,workers=1   the same with one signing goroutine
//	BenchmarkSubscribe/verify=on     subs/s   (c) the same with the fake verifying every NSUB
//	BenchmarkDecodeNMSGBlock         events/s NMSG events decoded from full blocks
//	BenchmarkNMSGEvents              events/s NMSG events delivered end to end
//
// One op of BenchmarkSubscribe is one NSUB, so allocs/op is allocations
// per NSUB (client and fake server together, as both run in-process).

// authorizedSample is what an NSUB signs at v18 with 24-byte ids.
var authorizedSample = smpclient.AppendAuthorized(nil, make([]byte, 32), make([]byte, 24), make([]byte, 24), []byte("NSUB"))

func BenchmarkEd25519Sign(b *testing.B) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	start := time.Now()
	for b.Loop() {
		ed25519.Sign(key, authorizedSample)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sigs/s")
}

// measureSigRate measures Ed25519 signatures per second made by workers
// goroutines at once for d. The subscription benchmarks call it right
// before and right after their timed loop with as many goroutines as the
// client signs with, so that the ratio compares like with like (the same
// cores doing the same signatures) under the same machine load.
func measureSigRate(d time.Duration, workers int) float64 {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for time.Since(start) < d {
				for range 100 {
					ed25519.Sign(key, authorizedSample)
				}
				total.Add(100)
			}
		})
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// subscribeBatch is the number of NSUBs per Subscribe call (the reference
// notifier resubscribes in calls of 1360 after a reconnect).
const subscribeBatch = 1360

func BenchmarkSubscribe(b *testing.B) {
	for _, bc := range []struct {
		name    string
		verify  bool
		workers int // 0: GOMAXPROCS
	}{
		{"verify=off", false, 0},
		{"verify=off,workers=1", false, 1},
		{"verify=on", true, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := newServer(b, smptest.Config{SkipSignatureVerification: !bc.verify})
			c := dial(b, srv, smpclient.Config{SignWorkers: bc.workers})
			pool := newQueues(b, srv, smpclient.Ed25519, 4*subscribeBatch)
			signers := bc.workers
			if signers == 0 {
				signers = runtime.GOMAXPROCS(0)
			}
			sigsBefore := measureSigRate(200*time.Millisecond, signers)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for done := 0; done < b.N; {
				n := min(subscribeBatch, b.N-done)
				off := done % (len(pool) - subscribeBatch + 1)
				for i, r := range c.Subscribe(ctx, pool[off:off+n]) {
					if r.Err != nil {
						b.Fatalf("NSUB %d: %v", i, r.Err)
					}
				}
				done += n
			}
			elapsed := time.Since(start)
			b.StopTimer()
			sigs := (sigsBefore + measureSigRate(200*time.Millisecond, signers)) / 2
			subs := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(subs, "subs/s")
			b.ReportMetric(sigs, "sigs/s")
			b.ReportMetric(subs/sigs, "subs/sig")
		})
	}
}

// nmsgBlock returns a block content with as many NMSG events as fit.
func nmsgBlock(b *testing.B) ([]byte, int) {
	t, err := smpclient.AppendTransmission(nil, smpclient.Transmission{
		EntityID: make([]byte, 24),
		Command:  smpclient.NMSG{EncMeta: make([]byte, 144)}.AppendWire(nil),
	}, 18)
	if err != nil {
		b.Fatal(err)
	}
	var ts [][]byte
	for (len(ts)+1)*(len(t)+2) <= smpclient.MaxBatchBytes {
		ts = append(ts, t)
	}
	content, err := smpclient.EncodeBatch(ts...)
	if err != nil {
		b.Fatal(err)
	}
	return content, len(ts)
}

func BenchmarkDecodeNMSGBlock(b *testing.B) {
	content, n := nmsgBlock(b)
	var batch [][]byte
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		var err error
		batch, err = smpclient.ParseBatch(content, batch[:0])
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range batch {
			tr, err := smpclient.ParseTransmission(t, 18)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := smpclient.ParseMessage(tr.Command); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(n), "events/block")
}

func BenchmarkNMSGEvents(b *testing.B) {
	srv := newServer(b, smptest.Config{SkipSignatureVerification: true})
	c := dial(b, srv, smpclient.Config{EventBuffer: 4096})
	q := newQueues(b, srv, smpclient.Ed25519, 1)[0]
	subscribeOK(b, c, q)
	const perCall = 800
	msgs := make([]smpclient.Message, perCall)
	for i := range msgs {
		msgs[i] = smpclient.NMSG{EncMeta: make([]byte, 144)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		for sent := 0; sent < b.N; sent += perCall {
			if err := srv.Notify(q.NotifierID, msgs[:min(perCall, b.N-sent)]...); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		ev := <-c.Events()
		if _, ok := ev.Msg.(smpclient.NMSG); !ok {
			b.Fatalf("event %+v", ev)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
