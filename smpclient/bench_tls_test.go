package smpclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// TLS benchmarks: smpclient/tls13 against an Ed448 server behind the
// Python/OpenSSL TLS front, beside crypto/tls against an Ed25519 smptest,
// in the same run and interleaved so both see the same machine load.
//
//	BenchmarkHandshake  handshakes/s (tls13, Ed448 front), go-handshakes/s (crypto/tls), ratio
//	BenchmarkTLSSubscribe nsub/s (tls13, Ed448 front), go-nsub/s (crypto/tls), ratio (target >= 0.8)
//
// One op is one handshake (or one NSUB) on each of the two paths. A
// handshake is a whole Dial (TCP, TLS, SMP hellos) and Close. Both
// fakes skip NSUB signature verification (benchmark only), so the NSUB
// figures measure the client and its TLS, not the fake's verifier. The
// tls13 path also carries the front's copying between TLS and the fake.

// tlsPair is the two servers the benchmarks compare.
type tlsPair struct {
	ed25519, ed448 *smptest.Server
	front          *smptest.Front
}

func newTLSPair(b *testing.B) tlsPair {
	b.Helper()
	cfg := smptest.Config{SkipSignatureVerification: true}
	p := tlsPair{ed25519: newServer(b, cfg), ed448: newServerWithEd448(b, cfg)}
	p.front = startFront(b, p.ed448, smptest.FrontConfig{})
	return p
}

// paths returns the two (address, config) pairs: tls13 first.
func (p tlsPair) paths() [2]struct {
	addr smpclient.ServerAddress
	cfg  smpclient.Config
} {
	return [2]struct {
		addr smpclient.ServerAddress
		cfg  smpclient.Config
	}{
		{p.front.Address(), smpclient.Config{TLS: smpclient.TLS13, PingInterval: -1}},
		{p.ed25519.Address(), smpclient.Config{TLS: smpclient.TLSGo, PingInterval: -1}},
	}
}

func BenchmarkHandshake(b *testing.B) {
	p := newTLSPair(b)
	paths := p.paths()
	var spent [2]time.Duration
	b.ResetTimer()
	for range b.N {
		for i, path := range paths {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), seen)
			c, err := smpclient.Dial(ctx, path.addr, path.cfg)
			cancel()
			if err != nil {
				b.Fatalf("Dial %s: %v", path.cfg.TLS, err)
			}
			c.Close()
			spent[i] += time.Since(start)
		}
	}
	b.StopTimer()
	tls13Rate, goRate := float64(b.N)/spent[0].Seconds(), float64(b.N)/spent[1].Seconds()
	b.ReportMetric(tls13Rate, "handshakes/s")
	b.ReportMetric(goRate, "go-handshakes/s")
	b.ReportMetric(tls13Rate/goRate, "ratio")
}

func BenchmarkTLSSubscribe(b *testing.B) {
	p := newTLSPair(b)
	paths := p.paths()
	var clients [2]*smpclient.Client
	var pools [2][]smpclient.Queue
	for i, path := range paths {
		c, err := dialAddr(b, path.addr, path.cfg)
		if err != nil {
			b.Fatalf("Dial %s: %v", path.cfg.TLS, err)
		}
		clients[i] = c
		pools[i] = sharedKeyQueues(b, []*smptest.Server{p.ed448, p.ed25519}[i], 4*subscribeBatch)
	}
	var spent [2]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(subscribeBatch, b.N-done)
		off := done % (3*subscribeBatch + 1)
		for i, c := range clients {
			start := time.Now()
			for j, r := range c.Subscribe(context.Background(), pools[i][off:off+n]) {
				if r.Err != nil {
					b.Fatalf("%s: NSUB %d: %v", paths[i].cfg.TLS, j, r.Err)
				}
			}
			spent[i] += time.Since(start)
		}
		done += n
	}
	b.StopTimer()
	tls13Rate, goRate := float64(b.N)/spent[0].Seconds(), float64(b.N)/spent[1].Seconds()
	b.ReportMetric(tls13Rate, "nsub/s")
	b.ReportMetric(goRate, "go-nsub/s")
	b.ReportMetric(tls13Rate/goRate, "ratio")
}
