package main

import (
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/smpclient/smptest"
	"github.com/trystgw/tryst/store/sqlstore"
)

// TestSubscriptionBadInput sends bad input to every subscription route:
// each answers its documented 4xx and code, and nothing is stored or
// subscribed.
func TestSubscriptionBadInput(t *testing.T) {
	fakes := newPushFakes(t)
	smp := newSMPServer(t, smptest.Config{})
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "tryst.db")
	s := startServer(t, append(append([]string{"--push-config", fakes.config, "--database-url", dbURL}, noTokenLimits...), fastSMP...)...)
	d := activeDevice(t, s, fakes, "apns", pushtest.APNsToken("bad-input"))
	other := activeDevice(t, s, fakes, "fcm", pushtest.FCMToken("bad-input-other"))
	taken := newSMPQueue(t, smp)
	foreign := other.subscribe(t, s, taken)
	mine := d.subscribe(t, s, newSMPQueue(t, smp))
	d.waitQueues(t, s, mine, "active")
	nsubs := smp.Stats().NSUB

	q := newSMPQueue(t, smp)
	id := base64.RawURLEncoding.EncodeToString(q.q.NotifierID)
	key := base64.RawURLEncoding.EncodeToString(q.q.Key.MarshalPKCS8())
	server := smp.Address().String()
	queue := func(srv, nid, k string) string {
		return `{"server":"` + srv + `","notifier_id":"` + nid + `","notifier_key":"` + k + `"}`
	}
	create := func(qs ...string) string { return `{"queues":[` + strings.Join(qs, ",") + `]}` }
	tests := []struct {
		name, method, path, body string
		secret                   string // "" uses d's
		status                   int
		code                     string
	}{
		{"bad server", "POST", "/subscriptions", create(queue("http://example.com", id, key)), "", 400, "M_INVALID_PARAM"},
		{"server without key hash", "POST", "/subscriptions", create(queue("smp://example.com", id, key)), "", 400, "M_INVALID_PARAM"},
		{"key not a key", "POST", "/subscriptions", create(queue(server, id, "AAAA")), "", 400, "M_INVALID_PARAM"},
		{"key not base64", "POST", "/subscriptions", create(queue(server, id, "@@@")), "", 400, "M_INVALID_PARAM"},
		{"notifier id not base64", "POST", "/subscriptions", create(queue(server, "!!", key)), "", 400, "M_INVALID_PARAM"},
		{"one bad queue of two", "POST", "/subscriptions", create(queue(server, id, key), queue(server, "AA", "AAAA")), "", 400, "M_INVALID_PARAM"},
		{"same queue twice", "POST", "/subscriptions", create(queue(server, id, key), queue(server, id, key)), "", 400, "M_INVALID_PARAM"},
		{"missing key", "POST", "/subscriptions", `{"queues":[{"server":"` + server + `","notifier_id":"` + id + `"}]}`, "", 400, "M_MISSING_PARAM"},
		{"no queues", "POST", "/subscriptions", `{"queues":[]}`, "", 400, "M_MISSING_PARAM"},
		{"unknown field", "POST", "/subscriptions", `{"queues":[],"extra":1}`, "", 400, "M_INVALID_PARAM"},
		{"rotate on create", "POST", "/subscriptions", create(queue(server, id, key)[:len(queue(server, id, key))-1] + `,"rotate":true}`), "", 400, "M_INVALID_PARAM"},
		{"not JSON", "POST", "/subscriptions", `queues`, "", 400, "M_INVALID_PARAM"},
		{"missing secret", "POST", "/subscriptions", create(queue(server, id, key)), "-", 401, "M_UNKNOWN_TOKEN"},
		{"wrong secret", "POST", "/subscriptions", create(queue(server, id, key)), other.secret, 401, "M_UNKNOWN_TOKEN"},
		{"a queue instead of a list", "POST", "/subscriptions", taken.json(""), "", 400, "M_INVALID_PARAM"},
		{"queue taken by another token", "POST", "/subscriptions", create(taken.json("")), "", 409, "M_CONFLICT"},
		{"get unknown", "GET", "/subscriptions/AAAAAAAAAAAAAAAAAAAAAA", "", "", 404, "M_NOT_FOUND"},
		{"get malformed", "GET", "/subscriptions/x", "", "", 404, "M_NOT_FOUND"},
		{"get foreign", "GET", "/subscriptions/" + foreign, "", "", 404, "M_NOT_FOUND"},
		{"get missing secret", "GET", "/subscriptions/" + mine, "", "-", 401, "M_UNKNOWN_TOKEN"},
		{"add to foreign", "POST", "/subscriptions/" + foreign + "/queues", queue(server, id, key), "", 404, "M_NOT_FOUND"},
		{"add bad key", "POST", "/subscriptions/" + mine + "/queues", queue(server, id, "AAAA"), "", 400, "M_INVALID_PARAM"},
		{"add bad server", "POST", "/subscriptions/" + mine + "/queues", queue("smp://@", id, key), "", 400, "M_INVALID_PARAM"},
		{"add taken", "POST", "/subscriptions/" + mine + "/queues", taken.json(""), "", 409, "M_CONFLICT"},
		{"add wrong secret", "POST", "/subscriptions/" + mine + "/queues", queue(server, id, key), other.secret, 401, "M_UNKNOWN_TOKEN"},
		{"remove out of range", "DELETE", "/subscriptions/" + mine + "/queues/1", "", "", 404, "M_NOT_FOUND"},
		{"remove negative", "DELETE", "/subscriptions/" + mine + "/queues/-1", "", "", 404, "M_NOT_FOUND"},
		{"remove not a number", "DELETE", "/subscriptions/" + mine + "/queues/x", "", "", 404, "M_NOT_FOUND"},
		{"remove of foreign", "DELETE", "/subscriptions/" + foreign + "/queues/0", "", "", 404, "M_NOT_FOUND"},
		{"remove missing secret", "DELETE", "/subscriptions/" + mine + "/queues/0", "", "-", 401, "M_UNKNOWN_TOKEN"},
		{"delete foreign", "DELETE", "/subscriptions/" + foreign, "", "", 404, "M_NOT_FOUND"},
		{"delete wrong secret", "DELETE", "/subscriptions/" + mine, "", other.secret, 401, "M_UNKNOWN_TOKEN"},
	}
	for _, tc := range tests {
		c := *d
		switch tc.secret {
		case "":
		case "-":
			c.secret = ""
		default:
			c.secret = tc.secret
		}
		status, m := c.call(t, s, tc.method, tc.path, tc.body)
		if status != tc.status || m["errcode"] != tc.code {
			t.Errorf("%s: %s %s = %d %v, want %d %s", tc.name, tc.method, tc.path, status, m, tc.status, tc.code)
		}
	}
	checkNothingChanged(t, s, dbURL, d, other, mine, foreign)
	if got := smp.Stats().NSUB; got != nsubs {
		t.Errorf("refused requests sent %d NSUB, want none", got-nsubs)
	}
}

// checkNothingChanged checks the two subscriptions still have their one
// queue and that the database holds just them.
func checkNothingChanged(t *testing.T, s *testServer, dbURL string, d, other *device, mine, foreign string) {
	t.Helper()
	for _, c := range []struct {
		d   *device
		sid string
	}{{d, mine}, {other, foreign}} {
		if st := c.d.queueStatuses(t, s, c.sid); len(st) != 1 {
			t.Errorf("subscription %s has %d queues after refused requests, want 1", c.sid, len(st))
		}
	}
	db, err := sqlstore.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var subs, queues int
	db.SQL().QueryRow("SELECT COUNT(*) FROM subscriptions").Scan(&subs)
	db.SQL().QueryRow("SELECT COUNT(*) FROM subscription_queues").Scan(&queues)
	if subs != 2 || queues != 2 {
		t.Errorf("database holds %d subscriptions and %d queues, want 2 and 2", subs, queues)
	}
}

// TestSubscriptionLifecycle repeats a creation (idempotent), adds and
// removes a queue, and deletes the subscription and the token: each
// change reaches the fake SMP server's side (no connection is left).
func TestSubscriptionLifecycle(t *testing.T) {
	fakes := newPushFakes(t)
	smp := newSMPServer(t, smptest.Config{})
	s := startServer(t, append(append([]string{"--push-config", fakes.config}, noTokenLimits...), fastSMP...)...)
	d := activeDevice(t, s, fakes, "apns", pushtest.APNsToken("lifecycle"))
	a, b := newSMPQueue(t, smp), newSMPQueue(t, smp)
	sid := d.subscribe(t, s, a)
	if again := d.subscribe(t, s, a); again != sid {
		t.Errorf("repeated create = %s, want the same subscription %s", again, sid)
	}
	status, m := d.call(t, s, http.MethodPost, "/subscriptions/"+sid+"/queues", b.json(""))
	if status != http.StatusOK || len(m["queues"].([]any)) != 2 {
		t.Fatalf("add queue = %d %v", status, m)
	}
	if status, m := d.call(t, s, http.MethodPost, "/subscriptions/"+sid+"/queues", b.json("")); status != http.StatusOK || len(m["queues"].([]any)) != 2 {
		t.Errorf("repeated add queue = %d %v, want 200 with the same 2 queues", status, m)
	}
	d.waitQueues(t, s, sid, "active", "active")
	resp, body := s.do(t, http.MethodGet, "/v1/tokens/"+d.id+"/subscriptions/"+sid, "", "Authorization", "Bearer "+d.secret)
	if k := base64.RawURLEncoding.EncodeToString(a.q.Key.MarshalPKCS8()); resp.StatusCode != http.StatusOK || strings.Contains(body, k[16:]) || strings.Contains(body, "key") {
		t.Errorf("GET subscription = %d %s: a notifier key is never returned", resp.StatusCode, body)
	}
	if status, _ := d.call(t, s, http.MethodDelete, "/subscriptions/"+sid+"/queues/0", ""); status != http.StatusOK {
		t.Fatalf("remove queue 0 = %d", status)
	}
	d.waitQueues(t, s, sid, "active")
	if status, _ := d.call(t, s, http.MethodDelete, "", ""); status != http.StatusNoContent {
		t.Fatalf("delete token = %d", status)
	}
	if !waitCond(5e9, func() bool { return smp.ConnCount() == 0 }) {
		t.Errorf("the SMP connection stayed open after the last queue went")
	}
}
