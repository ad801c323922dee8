package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push/pushtest"
)

// BenchmarkTokenRegister measures registrations per second end to end:
// concurrent clients POST /v1/tokens over HTTP, each registration is
// stored and its verification push goes through the real APNs sender to
// the fake APNs. The timed work ends when the fake has answered every
// verification push: regs/s counts the answered POSTs, pushed/s the whole
// run up to the last push.
func BenchmarkTokenRegister(b *testing.B) {
	for _, be := range databases {
		b.Run(be.name, func(b *testing.B) {
			fakes := newPushFakes(b)
			fakes.apns.SetRecording(false)
			// Room for every verification push the run queues: the
			// benchmark measures registration, not the fake's pace.
			deepQueue(b, fakes.config)
			s := startServer(b, append(append([]string{"--push-config", fakes.config}, noTokenLimits...), be.args(b)...)...)
			benchRegister(b, s, fakes.apns)
		})
	}
}

func benchRegister(b *testing.B, s *testServer, fakes *pushtest.APNs) {
	var priv [32]byte
	priv[0] = 1
	body, _ := json.Marshal(map[string]string{"platform": "apns", "app": apnsApp, "device_token": pushtest.APNsToken("bench"),
		"dh_key": ntf.PublicKey(priv).String()})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	b.SetParallelism(16) // GOMAXPROCS × 16 concurrent clients
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(s.URL+"/v1/tokens", "application/json", strings.NewReader(string(body)))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("POST /v1/tokens = %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "regs/s")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := fakes.WaitCount(ctx, b.N); err != nil {
		b.Fatalf("%d of %d verification pushes reached the fake APNs: %v", fakes.Count(), b.N, err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pushed/s")
}

// deepQueue raises the dispatcher's queue bound in a push configuration.
func deepQueue(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"dispatcher": {`), []byte(`"dispatcher": {"queue_size": 1000000, "workers": 64, `), 1)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
