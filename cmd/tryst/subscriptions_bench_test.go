package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// benchDevices is how many apps share the NMSG load of the latency
// benchmark, one queue each.
const benchDevices = 100

// BenchmarkNMSGToPush measures the latency from an NMSG leaving the fake
// SMP server to the fake APNs receiving a push carrying it, through the
// whole gateway (outbox on SQLite, then on PostgreSQL), with NMSGs sent
// at 1,000 per second spread over 100 apps. One op is one NMSG. It
// reports p50-ms and p99-ms (target p99 under 50 ms) and the rate
// achieved (nmsg/s).
func BenchmarkNMSGToPush(b *testing.B) {
	for _, db := range databases {
		b.Run(db.name, func(b *testing.B) {
			fakes := newPushFakes(b)
			smp := newSMPServer(b, smptest.Config{})
			s := startServer(b, append(append(append([]string{"--push-config", fakes.config}, noTokenLimits...), fastSMP...), db.args(b)...)...)
			devices, queues := benchSubscribers(b, s, fakes, smp)
			sent := make([]time.Time, b.N)
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			start := time.Now()
			b.ResetTimer()
			for i := range b.N {
				<-tick.C
				sent[i] = time.Now()
				q := queues[i%len(queues)]
				if err := q.srv.SendNMSG(q.q.NotifierID, benchNonce(i), make([]byte, 144)); err != nil {
					b.Fatal(err)
				}
			}
			rate := float64(b.N) / time.Since(start).Seconds()
			received := waitAllPushed(b, fakes, devices, len(queues), b.N)
			b.StopTimer()
			lat := make([]time.Duration, 0, b.N)
			for i, at := range received {
				lat = append(lat, at.Sub(sent[i]))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(rate, "nmsg/s")
		})
	}
}

// benchSubscribers registers benchDevices active APNs apps with one
// subscribed queue each.
func benchSubscribers(b *testing.B, s *testServer, fakes *pushFakes, smp *smptest.Server) (map[string]*device, []smpQueue) {
	b.Helper()
	devices := map[string]*device{}
	var queues []smpQueue
	for i := range benchDevices {
		d := activeDevice(b, s, fakes, "apns", pushtest.APNsToken(fmt.Sprintf("bench-%d-%d", b.N, i)))
		q := newSMPQueue(b, smp)
		d.waitQueues(b, s, d.subscribe(b, s, q), "active")
		devices[d.token] = d
		queues = append(queues, q)
	}
	return devices, queues
}

// benchNonce makes NMSG i's nonce: i in its first 8 bytes.
func benchNonce(i int) [24]byte {
	var n [24]byte
	binary.BigEndian.PutUint64(n[:], uint64(i)+1)
	return n
}

// waitAllPushed waits until every NMSG 0..n-1 was delivered and returns
// when each was. NMSG i went to queue i%queues; it is delivered by the
// first accepted push carrying it or a newer NMSG of its queue (the
// outbox keeps the newest per queue, gateway-api.md §2).
func waitAllPushed(b *testing.B, fakes *pushFakes, devices map[string]*device, queues, n int) []time.Time {
	b.Helper()
	first := make([]time.Time, n)
	done := 0
	deadline := time.Now().Add(time.Minute)
	for {
		rs := fakes.apns.Received()
		for _, r := range rs[done:] {
			markPushed(b, r, devices[r.Token], first)
		}
		done = len(rs)
		delivered, missing := coverNewer(first, queues)
		if missing == 0 {
			return delivered
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d NMSGs not delivered within a minute", missing, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// coverNewer gives each NMSG the earliest arrival of itself or a newer
// NMSG of its queue, and counts those with none.
func coverNewer(first []time.Time, queues int) ([]time.Time, int) {
	out := make([]time.Time, len(first))
	missing := 0
	for q := range min(queues, len(first)) {
		var best time.Time
		last := q + (len(first)-1-q)/queues*queues
		for i := last; i >= 0 && i >= q; i -= queues {
			if !first[i].IsZero() && (best.IsZero() || first[i].Before(best)) {
				best = first[i]
			}
			out[i] = best
			if best.IsZero() {
				missing++
			}
		}
	}
	return out, missing
}

// markPushed opens an accepted message push and records the arrival of
// the NMSGs it carries for the first time.
func markPushed(b *testing.B, r pushtest.APNsRequest, d *device, first []time.Time) {
	if d == nil || r.Status != 200 {
		return
	}
	data := stringData(apnsData(r))
	if data[ntf.DataMessage] == "" {
		return
	}
	text, err := ntf.OpenMessage(data, d.priv, d.serverKey)
	if err != nil {
		b.Fatal(err)
	}
	for e := range strings.SplitSeq(string(text), ";") {
		f := strings.Fields(e)
		nonce, err := base64.URLEncoding.DecodeString(f[2])
		if err != nil || len(nonce) != 24 {
			b.Fatalf("entry %q", e)
		}
		if i := int(binary.BigEndian.Uint64(nonce)) - 1; i >= 0 && i < len(first) && first[i].IsZero() {
			first[i] = r.At
		}
	}
}
