package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
)

func newSMPServer(t testing.TB, cfg smptest.Config) *smptest.Server {
	t.Helper()
	srv, err := smptest.NewServer(cfg)
	if err != nil {
		t.Fatalf("smptest.NewServer: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestSMPProbeReport(t *testing.T) {
	checkLeaks(t)
	srv := newSMPServer(t, smptest.Config{})
	var out bytes.Buffer
	if err := runSMP(t.Context(), []string{"probe", srv.Address().String()}, &out); err != nil {
		t.Fatalf("runSMP: %v", err)
	}
	for _, want := range []string{
		"TLS 1.3", "ALPN smp/1 (crypto/tls)", "smp version  18 (server offers 6..18", "[0] leaf      Ed25519",
		"[1] identity  Ed25519", srv.KeyHash().String() + " matches the identity certificate", "chain        validated", "ping ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestSMPProbeEd448 probes a server with an Ed448 online certificate
// behind a TLS front: the report names the TLS client that reached it.
func TestSMPProbeEd448(t *testing.T) {
	checkLeaks(t)
	cert, err := smptest.GenerateEd448Certificate()
	if err != nil {
		t.Fatal(err)
	}
	srv := newSMPServer(t, smptest.Config{Plain: true, Certificate: &cert})
	front := smptest.NewTestFront(t, srv, smptest.FrontConfig{})
	var out bytes.Buffer
	if err := runSMP(t.Context(), []string{"probe", front.Address().String()}, &out); err != nil {
		t.Fatalf("runSMP: %v", err)
	}
	for _, want := range []string{"TLS 1.3", "ALPN smp/1 (smpclient/tls13)", "[0] leaf      Ed448", "[1] identity  Ed448", "chain        validated"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSMPProbeJSON(t *testing.T) {
	checkLeaks(t)
	srv := newSMPServer(t, smptest.Config{MaxVersion: 15})
	var out bytes.Buffer
	if err := runSMP(t.Context(), []string{"probe", "--json", srv.Address().String()}, &out); err != nil {
		t.Fatalf("runSMP: %v", err)
	}
	var rep probeReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	if rep.TLSVersion != "TLS 1.3" || rep.TLS != "crypto/tls" || rep.ALPN != "smp/1" || rep.SMPVersion != 15 || !rep.KeyHashMatch ||
		len(rep.Certificates) != 2 || rep.Certificates[0].KeyType != "Ed25519" || rep.PingRTTMicros <= 0 {
		t.Errorf("report = %+v", rep)
	}
}

// TestSMPProbeEvents subscribes with notifier credentials and checks that
// NMSG, END and DELD come out as JSON lines.
func TestSMPProbeEvents(t *testing.T) {
	checkLeaks(t)
	srv := newSMPServer(t, smptest.Config{})
	q, err := srv.NewQueue(smpclient.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out lockedOutput
	errc := make(chan error, 1)
	go func() {
		errc <- runSMP(ctx, []string{"probe", srv.Address().String(),
			"--notifier-id", smpclient.EncodeB64URL(q.NotifierID),
			"--notifier-key", smpclient.EncodeB64URL(q.Key.MarshalPKCS8()),
			"--wait", "1m"}, &out)
	}()
	waitCtx, waitCancel := context.WithTimeout(ctx, 5*time.Second)
	defer waitCancel()
	if err := srv.WaitSubscribed(waitCtx, q.NotifierID); err != nil {
		t.Fatalf("probe did not subscribe: %v\n%s", err, out.String())
	}
	nonce := [smpclient.NonceSize]byte{7}
	if err := srv.SendNMSG(q.NotifierID, nonce, []byte("encrypted-meta")); err != nil {
		t.Fatal(err)
	}
	if err := srv.SendEND(q.NotifierID); err != nil {
		t.Fatal(err)
	}
	lines := waitLines(t, &out, 2)
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("runSMP: %v", err)
	}
	id := smpclient.EncodeB64URL(q.NotifierID)
	var nmsg, end probeEvent
	if err := json.Unmarshal([]byte(lines[0]), &nmsg); err != nil {
		t.Fatalf("line %q: %v", lines[0], err)
	}
	if nmsg.Event != "NMSG" || nmsg.NotifierID != id || nmsg.Nonce != smpclient.EncodeB64URL(nonce[:]) || nmsg.Meta != smpclient.EncodeB64URL([]byte("encrypted-meta")) {
		t.Errorf("NMSG line = %+v", nmsg)
	}
	if err := json.Unmarshal([]byte(lines[1]), &end); err != nil || end.Event != "END" || end.NotifierID != id {
		t.Errorf("END line = %q (%v)", lines[1], err)
	}
	if !strings.Contains(out.String(), "subscribed   "+id+" (SOK)") {
		t.Errorf("output lacks the subscription line:\n%s", out.String())
	}
}

func TestSMPProbeDELD(t *testing.T) {
	checkLeaks(t)
	srv := newSMPServer(t, smptest.Config{})
	q, _ := srv.NewQueue(smpclient.Ed448)
	var out lockedOutput
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- runSMP(ctx, []string{"probe", srv.Address().String(), "--wait", "1m",
			"--notifier-id", smpclient.EncodeB64URL(q.NotifierID), "--notifier-key", smpclient.EncodeB64URL(q.Key.MarshalPKCS8())}, &out)
	}()
	waitCtx, waitCancel := context.WithTimeout(ctx, 5*time.Second)
	defer waitCancel()
	if err := srv.WaitSubscribed(waitCtx, q.NotifierID); err != nil {
		t.Fatal(err)
	}
	srv.DeleteQueue(q.NotifierID)
	lines := waitLines(t, &out, 1)
	var ev probeEvent
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Event != "DELD" {
		t.Errorf("line = %q (%v), want DELD", lines[0], err)
	}
	// The server going away ends the wait with a clear error.
	srv.DropConnections()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Errorf("runSMP after drop = %v, want connection lost", err)
	}
}

// waitLines waits for n JSON lines (lines starting with "{") in out.
func waitLines(t *testing.T, out *lockedOutput, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var lines []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "{") {
				lines = append(lines, l)
			}
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d event lines, want %d:\n%s", len(lines), n, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSMPProbeFailures(t *testing.T) {
	checkLeaks(t)
	ok := newSMPServer(t, smptest.Config{})
	q, _ := ok.NewQueue(smpclient.Ed25519)
	wrongKey, _ := smpclient.GenerateKey(smpclient.Ed25519)
	wrongHash := ok.Address()
	wrongHash.KeyHash[0] ^= 0xff
	noALPN := newSMPServer(t, smptest.Config{NoALPN: true})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "usage: tryst smp probe"},
		{"unknown subcommand", []string{"ping"}, "unknown subcommand"},
		{"bad address", []string{"probe", "smp://nothing"}, "bad address"},
		{"unreachable", []string{"probe", "smp://" + ok.KeyHash().String() + "@" + closedAddr}, "unreachable"},
		{"key hash mismatch", []string{"probe", wrongHash.String()}, "key hash mismatch"},
		{"version mismatch", []string{"probe", noALPN.Address().String()}, "version mismatch"},
		{"ERR AUTH", []string{"probe", ok.Address().String(), "--notifier-id", smpclient.EncodeB64URL(q.NotifierID),
			"--notifier-key", smpclient.EncodeB64URL(wrongKey.MarshalPKCS8())}, "ERR AUTH"},
		{"key without id", []string{"probe", ok.Address().String(), "--notifier-key", "AAAA"}, "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runSMP(t.Context(), tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("runSMP(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			t.Logf("tryst: %v", err)
		})
	}
}

// checkLeaks fails t if goroutines remain once its cleanups (which close
// the fake servers) have run. Call it first so that it runs last.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}
