package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// childArgsEnv carries the serve arguments of a child process.
const childArgsEnv = "TRYST_TEST_CHILD_SERVE_ARGS"

// TestServeChildProcess is the body of a child process that the kill
// tests start and SIGKILL: it runs `tryst serve` with the arguments in
// TRYST_TEST_CHILD_SERVE_ARGS. Run directly, it has nothing to do.
func TestServeChildProcess(t *testing.T) {
	raw := os.Getenv(childArgsEnv)
	if raw == "" {
		return // only meaningful as the kill tests' child process
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), append([]string{"serve"}, args...), func(string) string { return "" }, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// startChild runs `tryst serve` in a child process and returns once it
// listens; kill ends it with SIGKILL (no shutdown runs).
func startChild(t *testing.T, args ...string) (s *testServer, kill func()) {
	t.Helper()
	raw, _ := json.Marshal(append([]string{"--addr", "127.0.0.1:0"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill = func() {
		if !killed {
			killed = true
			cmd.Process.Kill() // SIGKILL
			cmd.Wait()
		}
	}
	t.Cleanup(kill)
	addr := make(chan string, 1)
	go readListenAddr(out, addr)
	select {
	case a := <-addr:
		return &testServer{URL: "http://" + a}, kill
	case <-time.After(2 * startupTimeout):
		t.Fatalf("child serve %v did not listen", args)
	}
	return nil, kill
}

// TestOutboxSurvivesKill makes the fake APNs answer 503, lets NMSGs on
// three queues reach the outbox, kills the gateway with SIGKILL, lets
// APNs recover and starts the gateway again: every NMSG accepted before
// the kill is pushed after the restart.
func TestOutboxSurvivesKill(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			fakes := newPushFakes(t)
			smp := newSMPServer(t, smptest.Config{})
			args := append(append(append([]string{"--push-config", fakes.config, "--data-dir", t.TempDir()}, noTokenLimits...), fastSMP...), db.args(t)...)
			s, kill := startChild(t, args...)
			d := activeDevice(t, s, fakes, "apns", pushtest.APNsToken("kill"))
			qs := []smpQueue{newSMPQueue(t, smp), newSMPQueue(t, smp), newSMPQueue(t, smp)}
			sid := d.subscribe(t, s, qs...)
			d.waitQueues(t, s, sid, "active", "active", "active")

			fakes.apns.SetTopicAnswer(apnsApp, pushtest.APNsFail(503, "ServiceUnavailable"))
			want := map[*smpQueue]byte{}
			for i := range qs {
				qs[i].nmsg(t, byte(20+i))
				want[&qs[i]] = byte(20 + i)
			}
			// Every NMSG was pushed (and refused), so it was in the outbox.
			accepted := waitCond(10*time.Second, func() bool {
				seen := map[*smpQueue]bool{}
				for _, text := range fakes.messagePushes(t, d, true) {
					for q, tag := range want {
						seen[q] = seen[q] || q.hasNMSG(text, tag)
					}
				}
				return len(seen) == len(want) && seen[&qs[0]] && seen[&qs[1]] && seen[&qs[2]]
			})
			if !accepted {
				t.Fatal("the NMSGs did not reach the outbox")
			}
			if n := len(fakes.messagePushes(t, d, false)); n != 0 {
				t.Fatalf("%d message pushes accepted while APNs answered 503", n)
			}
			kill()
			fakes.apns.ClearTopicAnswer(apnsApp)
			s, _ = startChild(t, args...)
			fakes.waitMessage(t, d, want)
			d.waitQueues(t, s, sid, "active", "active", "active")
		})
	}
}
