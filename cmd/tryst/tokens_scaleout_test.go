package main

import (
	"net/http"
	"testing"

	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// TestTokensTwoInstancesPostgres runs two gateways on one PostgreSQL
// database and uses a token across them: registered on one, verified and
// replaced on the other. (Concurrent start-up migrations are tested in
// package sqlstore.)
func TestTokensTwoInstancesPostgres(t *testing.T) {
	fakes := newPushFakes(t)
	args := append([]string{"--push-config", fakes.config, "--database-url", sqlstoretest.PostgresURL(t),
		"--master-key-file", writeMasterKey(t)}, noTokenLimits...)
	a, b := startServer(t, args...), startServer(t, args...)

	d := newDevice("apns", pushtest.APNsToken("two-instances"))
	d.register(t, a)
	d.verify(t, b, d.open(t, fakes.verificationData(t, "apns", d.token)))
	rotated := pushtest.APNsToken("two-instances-rotated")
	if status, _ := d.call(t, b, http.MethodPut, "", `{"device_token":"`+rotated+`"}`); status != http.StatusOK {
		t.Fatalf("replace on the second instance = %d", status)
	}
	d.verify(t, a, d.open(t, fakes.verificationData(t, "apns", rotated)))
	if status, m := d.call(t, b, http.MethodGet, "", ""); status != http.StatusOK || m["status"] != "active" {
		t.Errorf("GET on the second instance = %d %v, want 200 active", status, m)
	}
}
