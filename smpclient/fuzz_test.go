package smpclient

import (
	"bytes"
	"reflect"
	"testing"
)

// Fuzz targets for every decoder. Seeds come from vectors.json; run one
// with e.g. go test -fuzz FuzzParseServerHello ./smpclient.

func seedHex(f *testing.F, vector string, keys ...string) {
	f.Helper()
	v := loadVectors(f)[vector].Values
	for _, k := range keys {
		f.Add(unhex(f, v[k]))
	}
}

func FuzzParseServerHello(f *testing.F) {
	seedHex(f, "server_hello_ed25519_fixture", "content_hex")
	seedHex(f, "ntf_handshake_v3", "server_hello_content_hex")
	f.Add([]byte{0, 6, 0, 6, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseServerHello(b)
		if err != nil {
			return
		}
		enc, err := h.AppendBinary(nil)
		if err != nil {
			return // e.g. a chain that only parses because maxVersion < 7
		}
		h2, err := ParseServerHello(enc)
		if err != nil || !reflect.DeepEqual(normHello(h), normHello(h2)) {
			t.Fatalf("round trip: %+v, %v", h2, err)
		}
		if !bytes.HasPrefix(b, enc) {
			t.Fatalf("re-encoded hello is not a prefix of the input")
		}
		ParseSignedKey(h.SignedKey)
	})
}

func normHello(h ServerHello) ServerHello {
	if len(h.SessionID) == 0 {
		h.SessionID = nil
	}
	for i, c := range h.CertChain {
		if len(c) == 0 {
			h.CertChain[i] = nil
		}
	}
	if len(h.SignedKey) == 0 {
		h.SignedKey = nil
	}
	return h
}

func FuzzParseClientHello(f *testing.F) {
	seedHex(f, "client_hello_v18_nokey", "content_hex")
	seedHex(f, "client_hello_v18_withkey", "content_hex")
	seedHex(f, "client_hello_v15_nokey", "content_hex")
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseClientHello(b)
		if err != nil {
			return
		}
		enc := h.AppendBinary(nil)
		if !bytes.HasPrefix(b, enc) {
			t.Fatalf("re-encoded client hello %x is not a prefix of %x", enc, b)
		}
	})
}

func FuzzParseBatch(f *testing.F) {
	seedHex(f, "nsub_ed25519_v18", "block_content_hex")
	seedHex(f, "ping_v18", "block_content_hex")
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseBatch(b, nil)
		if err != nil {
			return
		}
		if len(ts) == 0 || len(ts) > MaxBatchCount {
			t.Fatalf("ParseBatch returned %d transmissions", len(ts))
		}
		var enc []byte
		enc = append(enc, byte(len(ts)))
		for _, tr := range ts {
			enc = appendLarge(enc, tr)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("round trip differs")
		}
	})
}

// FuzzBlock feeds a whole wire block through what the reader does with
// it: unpad, split the batch, parse each transmission and command.
func FuzzBlock(f *testing.F) {
	v := loadVectors(f)
	for _, k := range []string{"SOK_0_v18_hex", "ERR_AUTH_hex", "END_event_hex"} {
		content, _ := EncodeBatch(unhex(f, v["server_responses"].Values[k]))
		f.Add(content)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var block [BlockSize]byte
		if len(b) > MaxContentSize {
			b = b[:MaxContentSize]
		}
		padInto(block[:], b)
		var bc blockCodec
		content, err := bc.open(&block)
		if err != nil {
			t.Fatalf("open of a padded block: %v", err)
		}
		ts, err := ParseBatch(content, nil)
		if err != nil {
			return
		}
		for _, tr := range ts {
			p, err := ParseTransmission(tr, 18)
			if err != nil {
				continue
			}
			parseResponse(p.Command)
		}
	})
}

func FuzzParseTransmission(f *testing.F) {
	for _, name := range []string{"nsub_ed25519_v18", "nsub_ed25519_v15", "nsub_ed448_v18", "nsub_x25519_authenticator_v18", "ping_v18"} {
		seedHex(f, name, "transmission_hex")
	}
	seedHex(f, "nmsg", "nmsg_transmission_hex")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []uint16{7, 15, 16, 18} {
			tr, err := ParseTransmission(b, v)
			if err != nil {
				continue
			}
			enc, err := AppendTransmission(nil, tr, v)
			if err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("v%d round trip: %x, %v", v, enc, err)
			}
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{"OK", "SOK 0", "SOK 1\x03abc", "PONG", "END", "DELD", "ERR AUTH", "ERR CMD NO_QUEUE",
		"ERR BLOCKED reason=spam,notice={\"a\":1}", "ERR STORE disk", "ERR PROXY BROKER TIMEOUT", "SOKS \x00\x00\x00\x00\x00\x00\x00\x05", "ENDS \x00\x00\x00\x00\x00\x00\x00\x01"} {
		f.Add([]byte(s))
	}
	v := loadVectors(f)["nmsg"].Values
	tr, _ := ParseTransmission(unhex(f, v["nmsg_transmission_hex"]), 18)
	f.Add(tr.Command)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		enc := m.AppendWire(nil)
		m2, err := ParseMessage(enc)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", enc, err)
		}
		if enc2 := m2.AppendWire(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable: %q then %q", enc, enc2)
		}
		if r, err := parseResponse(b); err != nil || !bytes.Equal(r.AppendWire(nil), enc) {
			t.Fatalf("parseResponse differs from ParseMessage: %v", err)
		}
	})
}

func FuzzParseServerError(f *testing.F) {
	for _, s := range []string{"AUTH", "CMD SYNTAX", "BLOCKED reason=content", "STORE x", "NEW_CODE detail", "INTERNAL"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseServerError(b)
		if err != nil {
			return
		}
		e2, err := ParseServerError([]byte(e.Wire()))
		if err != nil || e2.Wire() != e.Wire() {
			t.Fatalf("round trip of %q: %v", e.Wire(), err)
		}
	})
}

func FuzzParseSignedKey(f *testing.F) {
	seedHex(f, "server_hello_ed25519_fixture", "signed_key_der_hex")
	f.Fuzz(func(t *testing.T, b []byte) {
		sk, err := ParseSignedKey(b)
		if err != nil {
			return
		}
		if sk.Key.Algorithm() != X25519 {
			t.Fatalf("signed key of algorithm %v", sk.Key.Algorithm())
		}
	})
}

func FuzzParseKeys(f *testing.F) {
	seedHex(f, "nsub_ed25519_v18", "notifier_pub_spki_hex", "notifier_priv_pkcs8_hex")
	seedHex(f, "nsub_ed448_v18", "notifier_pub_spki_hex")
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := ParsePrivateKey(b); err == nil && !bytes.Equal(k.MarshalPKCS8(), b) {
			t.Fatalf("private key round trip differs")
		}
		if k, err := ParseKeyPair(b); err == nil && !bytes.Equal(k.MarshalKeyPair(), b) && !bytes.Equal(k.MarshalPKCS8(), b) {
			t.Fatalf("key pair round trip differs")
		}
		if k, err := ParsePublicKey(b); err == nil && !bytes.Equal(k.MarshalSPKI(), b) {
			t.Fatalf("public key round trip differs")
		}
	})
}

func FuzzParseServerAddress(f *testing.F) {
	for _, s := range []string{
		"smp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@localhost:5001",
		"smp://evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys@smp.example.com,abc.onion",
		"smp://evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys:pass@[::1]:443",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseServerAddress(s)
		if err != nil {
			return
		}
		a2, err := ParseServerAddress(a.String())
		if err != nil || !reflect.DeepEqual(a, a2) {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, a.String(), a2, err)
		}
	})
}

func FuzzDecryptNMsgMeta(f *testing.F) {
	seedHex(f, "nmsg", "enc_nmsg_meta_hex")
	secret := [32]byte{1}
	f.Fuzz(func(t *testing.T, b []byte) {
		var nonce [NonceSize]byte
		DecryptNMsgMeta(&secret, &nonce, b)
	})
}
