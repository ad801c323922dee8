package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push/pushtest"
)

// Apps of the push configuration written by newPushFakes.
const (
	apnsApp = "com.example.chat"
	fcmApp  = "chat"
)

// pushFakes are a fake APNs and a fake FCM with a push configuration file
// pointing at them.
type pushFakes struct {
	apns   *pushtest.APNs
	fcm    *pushtest.FCM
	config string // path of the push configuration file
}

// newPushFakes starts both fakes and writes the configuration of one
// APNs app (token auth) and one FCM app into a temporary directory.
func newPushFakes(t testing.TB) *pushFakes {
	t.Helper()
	f := &pushFakes{apns: pushtest.NewAPNs(), fcm: pushtest.NewFCM()}
	t.Cleanup(f.apns.Close)
	t.Cleanup(f.fcm.Close)
	dir := t.TempDir()
	key := f.apns.NewKey("KEYID12345", "TEAMID1234", apnsApp)
	files := map[string][]byte{
		"apns.p8": pushtest.KeyPEM(key), "apns-ca.pem": f.apns.CAPEM(),
		"fcm.json": f.fcm.ServiceAccount("tryst-test"), "fcm-ca.pem": f.fcm.CAPEM(),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`{"apps": [
		{"id": %q, "platform": "apns", "topic": %q, "ca_file": "apns-ca.pem",
		 "apns": {"key_file": "apns.p8", "key_id": "KEYID12345", "team_id": "TEAMID1234", "production_url": %q, "development_url": %q}},
		{"id": %q, "platform": "fcm", "ca_file": "fcm-ca.pem", "fcm": {"service_account_file": "fcm.json", "endpoint": %q}}
	], "dispatcher": {"base_backoff": "1ms", "max_backoff": "5ms"}}`,
		apnsApp, apnsApp, f.apns.ProductionURL(), f.apns.DevelopmentURL(), fcmApp, f.fcm.Endpoint())
	f.config = filepath.Join(dir, "push.json")
	if err := os.WriteFile(f.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// verificationData waits for the first accepted push to device and
// returns its custom data.
func (f *pushFakes) verificationData(t testing.TB, platform, device string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if platform == "fcm" {
		req, err := f.fcm.WaitDelivered(ctx, device)
		if err != nil {
			t.Fatalf("no FCM push to %s: %v", device, err)
		}
		if req.AndroidPriority != "normal" {
			t.Errorf("FCM verification push priority = %q, want normal", req.AndroidPriority)
		}
		return req.Data
	}
	req, err := f.apns.WaitDelivered(ctx, device)
	if err != nil {
		t.Fatalf("no APNs push to %s: %v", device, err)
	}
	if req.PushType != "background" || req.Priority != "5" || req.Topic != apnsApp {
		t.Errorf("APNs verification push: type %q priority %q topic %q, want background 5 %s", req.PushType, req.Priority, req.Topic, apnsApp)
	}
	data := map[string]string{}
	for k, v := range apnsData(req) {
		if s, ok := v.(string); ok {
			data[k] = s
		}
	}
	return data
}

// apnsData returns the custom data of an APNs push: the object under
// "notificationData", where SimpleX's apps read it.
func apnsData(r pushtest.APNsRequest) map[string]any {
	m, _ := r.Decoded()[ntf.DataGroup].(map[string]any)
	return m
}

// device is one app installation talking to a server.
type device struct {
	platform, app, env, token string
	priv                      [32]byte
	id, secret                string
	serverKey                 ntf.DHKey
}

func newDevice(platform, token string) *device {
	d := &device{platform: platform, token: token, app: apnsApp, env: "development"}
	if platform == "fcm" {
		d.app, d.env = fcmApp, ""
	}
	rand.Read(d.priv[:])
	return d
}

// register registers d on s.
func (d *device) register(t testing.TB, s *testServer) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"platform": d.platform, "app": d.app, "environment": d.env,
		"device_token": d.token, "dh_key": ntf.PublicKey(d.priv).String()})
	resp, out := s.do(t, http.MethodPost, "/v1/tokens", string(body), "Content-Type", "application/json")
	var created struct {
		ID          string `json:"id"`
		Secret      string `json:"secret"`
		ServerDHKey string `json:"server_dh_key"`
		Status      string `json:"status"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(out), &created) != nil || created.Status != "registered" {
		t.Fatalf("register %s = %d %s, want 201 registered", d.platform, resp.StatusCode, out)
	}
	d.id, d.secret = created.ID, created.Secret
	var err error
	if d.serverKey, err = ntf.ParseDHKey(created.ServerDHKey); err != nil {
		t.Fatalf("server_dh_key: %v", err)
	}
}

// open opens a verification push's data with d's key.
func (d *device) open(t testing.TB, data map[string]string) string {
	t.Helper()
	code, err := ntf.OpenVerification(data, d.priv, d.serverKey)
	if err != nil {
		t.Fatalf("opening the verification push: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(code[:])
}

// call sends an authenticated request and decodes the JSON answer.
func (d *device) call(t testing.TB, s *testServer, method, path, body string) (int, map[string]any) {
	t.Helper()
	resp, out := s.do(t, method, "/v1/tokens/"+d.id+path, body, "Authorization", "Bearer "+d.secret, "Content-Type", "application/json")
	var m map[string]any
	json.Unmarshal([]byte(out), &m)
	return resp.StatusCode, m
}

// verify posts code and requires the token to become active.
func (d *device) verify(t testing.TB, s *testServer, code string) {
	t.Helper()
	if status, m := d.call(t, s, http.MethodPost, "/verify", `{"code":"`+code+`"}`); status != http.StatusOK || m["status"] != "active" {
		t.Fatalf("verify = %d %v, want 200 active", status, m)
	}
}

// waitStatus polls the token until its status is want.
func (d *device) waitStatus(t testing.TB, s *testServer, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, m := d.call(t, s, http.MethodGet, "", "")
		if status == http.StatusOK && m["status"] == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("token status = %d %v, want %s", status, m, want)
		}
		time.Sleep(5 * time.Millisecond) // a poll, not a spin against the server
	}
}
