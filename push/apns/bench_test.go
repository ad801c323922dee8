package apns

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushtest"
)

// BenchmarkDispatcherAPNs measures pushes per second through the
// dispatcher and apns2 into the fake APNs over loopback HTTP/2 (TLS, JWT
// auth). Client and fake run in this process, so allocs/op counts both
// sides of the connection.
func BenchmarkDispatcherAPNs(b *testing.B) {
	for _, workers := range []int{32, 128} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			fa := pushtest.NewAPNs()
			defer fa.Close()
			fa.SetRecording(false)
			key := fa.NewKey(keyID, teamID, topic)
			s, err := New(Config{App: "chat", Topic: topic, Key: key, KeyID: keyID, TeamID: teamID,
				ProductionURL: fa.ProductionURL(), DevelopmentURL: fa.DevelopmentURL(), RootCAs: fa.RootCAs()})
			if err != nil {
				b.Fatal(err)
			}
			// The producer keeps at most 2048 pushes in flight; the queue
			// has room for more, since a Result is delivered just before
			// its slot in the queue is freed.
			const queue = 4096
			slots := make(chan struct{}, queue/2)
			var done, failed atomic.Int64
			var firstErr atomic.Value
			finished := make(chan struct{})
			var target atomic.Int64
			d, err := push.NewDispatcher(nil, map[push.Route]push.Sender{{Platform: push.APNs, App: "chat"}: s}, push.DispatcherConfig{
				QueueSize: queue, Workers: workers,
				OnResult: func(r push.Result) {
					if !r.OK() {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, r.Err)
					}
					<-slots
					if done.Add(1) == target.Load() {
						close(finished)
					}
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close(context.Background())
			tokens := make([]push.DeviceToken, 1024)
			for i := range tokens {
				tokens[i] = push.MustParseDeviceToken(push.APNs, pushtest.APNsToken(fmt.Sprint(i)))
			}
			// Warm up the connection.
			if _, err := s.Send(context.Background(), &push.Notification{Token: tokens[0], App: "chat"}); err != nil {
				b.Fatal(err)
			}
			target.Store(int64(b.N))
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				slots <- struct{}{}
				n := &push.Notification{
					Token: tokens[i%len(tokens)], App: "chat",
					Alert: push.AlertContent{Title: "New message", Body: "You have a new message"},
					Data:  map[string]string{"m": "k7Hs9dPq"},
				}
				if err := d.Enqueue(ctx, n); err != nil {
					b.Fatal(err)
				}
			}
			<-finished
			elapsed := time.Since(start)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d pushes failed, first: %v", f, firstErr.Load())
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pushes/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/push")
		})
	}
}

// BenchmarkSenderAPNs is the adapter alone (no dispatcher), for
// comparison.
func BenchmarkSenderAPNs(b *testing.B) {
	fa := pushtest.NewAPNs()
	defer fa.Close()
	fa.SetRecording(false)
	key := fa.NewKey(keyID, teamID, topic)
	s, err := New(Config{Topic: topic, Key: key, KeyID: keyID, TeamID: teamID,
		ProductionURL: fa.ProductionURL(), DevelopmentURL: fa.DevelopmentURL(), RootCAs: fa.RootCAs()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := &push.Notification{Token: push.MustParseDeviceToken(push.APNs, pushtest.APNsToken("bench")), App: "chat",
		Alert: push.AlertContent{Title: "New message", Body: "You have a new message"}}
	if _, err := s.Send(context.Background(), n); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Send(context.Background(), n); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pushes/s")
}

// cpuTime is the process's user+system CPU time: with client and fake in
// one process, cpu-µs/push bounds the throughput on an idle machine
// (cores / cpu-per-push) even when other work competes for the CPUs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
