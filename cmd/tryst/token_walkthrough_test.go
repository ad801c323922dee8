package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/smpclient/smptest"
)

// TestREADMETokenWalkthrough follows the README's push-token and
// subscription walk-throughs on a gateway without push credentials: an
// openssl-made app key, its dh_key from `tryst token dh-key`,
// registration, the verification push's data read from the log, the code
// opened with `tryst token open-verification`, the token verified; then a
// subscription to a queue on a fake SMP server, an NMSG, and the message
// push read from the log and opened with `tryst token open-message`.
func TestREADMETokenWalkthrough(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if requireTools() {
			t.Fatal("openssl not found (Debian: apt-get install openssl)")
		}
		t.Skip("openssl not found (Debian: apt-get install openssl)")
	}
	appKey := filepath.Join(t.TempDir(), "app.pem")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "X25519", "-out", appKey).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	log := &lockedOutput{}
	s := startServerLog(t, log)
	dhKey := runCLI(t, "token", "dh-key", "--app-key", appKey)

	created := postJSON(t, s.URL+"/v1/tokens", "", `{"platform":"apns","app":"chat","environment":"development",`+
		`"device_token":"`+strings.Repeat("ab", 32)+`","dh_key":"`+dhKey+`"}`, http.StatusCreated)
	data := loggedPushData(t, log, "verification")
	code := runCLI(t, "token", "open-verification", "--app-key", appKey, "--server-key", created["server_dh_key"].(string),
		"--nonce", data["nonce"], "--verification", data["verification"])
	id, secret := created["id"].(string), created["secret"].(string)
	verified := postJSON(t, s.URL+"/v1/tokens/"+id+"/verify", secret, `{"code":"`+code+`"}`, http.StatusOK)
	if verified["status"] != "active" {
		t.Fatalf("after verify: %v, want status active", verified)
	}

	q := newSMPQueue(t, newSMPServer(t, smptest.Config{}))
	sub := postJSON(t, s.URL+"/v1/tokens/"+id+"/subscriptions", secret, `{"queues":[`+q.json("")+`]}`, http.StatusCreated)
	waitQueueActive(t, s.URL+"/v1/tokens/"+id+"/subscriptions/"+sub["id"].(string), secret)
	q.nmsg(t, 7)
	data = loggedPushData(t, log, "message")
	entries := runCLI(t, "token", "open-message", "--app-key", appKey, "--server-key", created["server_dh_key"].(string),
		"--nonce", data["nonce"], "--message", data["message"])
	if !q.hasNMSG(entries, 7) || strings.Contains(entries, ";") {
		t.Errorf("open-message printed %q, want the NMSG's entry on its own line", entries)
	}
}

// waitQueueActive polls a subscription until its first queue is active.
func waitQueueActive(t *testing.T, url, secret string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var sub struct {
			Queues []struct{ Status string } `json:"queues"`
		}
		json.NewDecoder(resp.Body).Decode(&sub)
		resp.Body.Close()
		if len(sub.Queues) > 0 && sub.Queues[0].Status == "active" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscription queues %+v, want active within 10s", sub.Queues)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runCLI runs a tryst command and returns its output, trimmed.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	var out strings.Builder
	if err := run(t.Context(), args, func(string) string { return "" }, &out); err != nil {
		t.Fatalf("tryst %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(out.String())
}

// postJSON posts body and returns the decoded answer, which must have
// the status want.
func postJSON(t *testing.T, url, secret, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != want {
		t.Fatalf("POST %s = %d %v (%v), want %d", url, resp.StatusCode, m, err, want)
	}
	return m
}

// loggedPushData waits for a log-only sender's line whose custom data
// has key and returns that data.
func loggedPushData(t *testing.T, log *lockedOutput, key string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		sc := bufio.NewScanner(strings.NewReader(log.String()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Msg  string            `json:"msg"`
				Data map[string]string `json:"data"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && strings.HasPrefix(line.Msg, "push (log only") && line.Data[key] != "" {
				return line.Data
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no push with %q logged within 10s:\n%s", key, log.String())
	return nil
}
