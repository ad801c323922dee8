package handlers_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/mls"
)

// cfgSender returns DS signing keys from a fresh random secret.
func cfgSender(t testing.TB) *ds.SenderKeys {
	t.Helper()
	secret := make([]byte, ds.SenderSecretSize)
	rand.Read(secret)
	k, err := ds.NewSenderKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// getExternalSenders fetches and decodes GET /v1/ds/external-senders.
func (f *deliveryFixture) getExternalSenders(t testing.TB) api.ExternalSenders {
	t.Helper()
	rec := f.do(t, http.MethodGet, "/v1/ds/external-senders", "", "")
	var out api.ExternalSenders
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("GET /v1/ds/external-senders = %d %s", rec.Code, rec.Body)
	}
	return out
}

// TestExternalSendersPublished: one entry per supported suite, each the
// TLS ExternalSender of the key the DS signs that suite's proposals with.
func TestExternalSendersPublished(t *testing.T) {
	f := newDeliveryFixture(t)
	out := f.getExternalSenders(t)
	if out.Identity != ds.SenderIdentity || len(out.ExternalSenders) != 7 {
		t.Fatalf("identity %q, %d entries; want %q and 7", out.Identity, len(out.ExternalSenders), ds.SenderIdentity)
	}
	for i, e := range out.ExternalSenders {
		cs := mls.CipherSuite(e.CipherSuite)
		if int(cs) != i+1 {
			t.Errorf("entry %d is for suite %d", i, cs)
		}
		var list mls.Encoder
		list.Opaque(e.ExternalSender)
		parsed, err := mls.ParseExternalSenders(list.Bytes())
		if err != nil || len(parsed) != 1 {
			t.Fatalf("suite %d: external_sender does not parse as one ExternalSender: %v", cs, err)
		}
		key, err := f.sender.Key(cs)
		if err != nil || !bytes.Equal(key.PublicKey(), e.SignatureKey) {
			t.Errorf("suite %d: signature_key %x is not the DS's signing key", cs, e.SignatureKey)
		}
		if !bytes.Equal(parsed[0].SignatureKey, e.SignatureKey) || string(parsed[0].Credential.Identity) != ds.SenderIdentity ||
			parsed[0].Credential.Type != mls.CredentialBasic {
			t.Errorf("suite %d: entry %+v does not match signature_key %x", cs, parsed[0], e.SignatureKey)
		}
	}
}

// TestExternalSendersWithoutSecret: a DS without signing keys lists none.
func TestExternalSendersWithoutSecret(t *testing.T) {
	f := newDeliveryFixtureSender(t, handlers.Config{}, nil)
	rec := f.do(t, http.MethodGet, "/v1/ds/external-senders", "", "")
	if rec.Code != http.StatusNotFound || !bytes.Contains(rec.Body.Bytes(), []byte(api.CodeNotFound)) {
		t.Errorf("GET /v1/ds/external-senders = %d %s; want 404 %s", rec.Code, rec.Body, api.CodeNotFound)
	}
}
