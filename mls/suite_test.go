package mls

import (
	"bytes"
	"errors"
	"testing"
)

func TestCryptoBasicsVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16 `json:"cipher_suite"`
		RefHash     struct {
			Label string   `json:"label"`
			Out   hexBytes `json:"out"`
			Value hexBytes `json:"value"`
		} `json:"ref_hash"`
		ExpandWithLabel struct {
			Secret  hexBytes `json:"secret"`
			Label   string   `json:"label"`
			Context hexBytes `json:"context"`
			Length  int      `json:"length"`
			Out     hexBytes `json:"out"`
		} `json:"expand_with_label"`
		DeriveSecret struct {
			Secret hexBytes `json:"secret"`
			Label  string   `json:"label"`
			Out    hexBytes `json:"out"`
		} `json:"derive_secret"`
		DeriveTreeSecret struct {
			Secret     hexBytes `json:"secret"`
			Label      string   `json:"label"`
			Generation uint32   `json:"generation"`
			Length     int      `json:"length"`
			Out        hexBytes `json:"out"`
		} `json:"derive_tree_secret"`
		SignWithLabel struct {
			Priv      hexBytes `json:"priv"`
			Pub       hexBytes `json:"pub"`
			Content   hexBytes `json:"content"`
			Label     string   `json:"label"`
			Signature hexBytes `json:"signature"`
		} `json:"sign_with_label"`
		EncryptWithLabel struct {
			Priv       hexBytes `json:"priv"`
			Pub        hexBytes `json:"pub"`
			Label      string   `json:"label"`
			Context    hexBytes `json:"context"`
			Plaintext  hexBytes `json:"plaintext"`
			KEMOutput  hexBytes `json:"kem_output"`
			Ciphertext hexBytes `json:"ciphertext"`
		} `json:"encrypt_with_label"`
	}
	loadTestVector(t, "crypto-basics.json", &vs)
	seen := map[CipherSuite]bool{}
	for _, v := range vs {
		cs := mustSuite(t, v.CipherSuite)
		seen[cs] = true
		t.Run(suiteName(cs), func(t *testing.T) {
			if got := cs.RefHash(v.RefHash.Label, v.RefHash.Value); !bytes.Equal(got, v.RefHash.Out) {
				t.Errorf("RefHash = %x, want %x", got, v.RefHash.Out)
			}
			e := v.ExpandWithLabel
			if got, err := cs.ExpandWithLabel(e.Secret, e.Label, e.Context, e.Length); err != nil || !bytes.Equal(got, e.Out) {
				t.Errorf("ExpandWithLabel = %x %v, want %x", got, err, e.Out)
			}
			d := v.DeriveSecret
			if got, err := cs.DeriveSecret(d.Secret, d.Label); err != nil || !bytes.Equal(got, d.Out) {
				t.Errorf("DeriveSecret = %x %v, want %x", got, err, d.Out)
			}
			dt := v.DeriveTreeSecret
			if got, err := cs.DeriveTreeSecret(dt.Secret, dt.Label, dt.Generation, dt.Length); err != nil || !bytes.Equal(got, dt.Out) {
				t.Errorf("DeriveTreeSecret = %x %v, want %x", got, err, dt.Out)
			}

			s := v.SignWithLabel
			if err := cs.VerifyWithLabel(s.Pub, s.Label, s.Content, s.Signature); err != nil {
				t.Errorf("VerifyWithLabel(vector signature): %v", err)
			}
			k, err := cs.NewSigningKey(s.Priv)
			if err != nil {
				t.Fatalf("NewSigningKey: %v", err)
			}
			if !bytes.Equal(k.PublicKey(), s.Pub) {
				t.Errorf("derived public key %x, want %x", k.PublicKey(), s.Pub)
			}
			sig, err := k.SignWithLabel(s.Label, s.Content)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.VerifyWithLabel(s.Pub, s.Label, s.Content, sig); err != nil {
				t.Errorf("VerifyWithLabel(own signature): %v", err)
			}
			if err := cs.VerifyWithLabel(s.Pub, s.Label+"x", s.Content, s.Signature); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("wrong label accepted: %v", err)
			}

			en := v.EncryptWithLabel
			pt, err := testDecryptWithLabel(cs, en.Priv, en.Label, en.Context, en.KEMOutput, en.Ciphertext)
			if err != nil || !bytes.Equal(pt, en.Plaintext) {
				t.Errorf("DecryptWithLabel(vector) = %x %v, want %x", pt, err, en.Plaintext)
			}
			kem, ct, err := cs.EncryptWithLabel(en.Pub, en.Label, en.Context, en.Plaintext)
			if err != nil {
				t.Fatalf("EncryptWithLabel: %v", err)
			}
			pt, err = testDecryptWithLabel(cs, en.Priv, en.Label, en.Context, kem, ct)
			if err != nil || !bytes.Equal(pt, en.Plaintext) {
				t.Errorf("round trip EncryptWithLabel = %x %v", pt, err)
			}
		})
	}
	checkSuitesCovered(t, seen)
}

func suiteName(cs CipherSuite) string { return "suite" + string(rune('0'+cs)) }

func TestDeriveSigningKey(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{8}, 32)
	for cs := CipherSuite(1); cs <= 7; cs++ {
		a, err := cs.DeriveSigningKey(secret)
		if err != nil {
			t.Fatalf("suite %d: %v", cs, err)
		}
		b, _ := cs.DeriveSigningKey(secret)
		c, _ := cs.DeriveSigningKey(other)
		if !bytes.Equal(a.PublicKey(), b.PublicKey()) || bytes.Equal(a.PublicKey(), c.PublicKey()) {
			t.Errorf("suite %d: same secret gives another key, or another secret the same", cs)
		}
		sig, err := a.SignWithLabel("test", []byte("content"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.VerifyWithLabel(b.PublicKey(), "test", []byte("content"), sig); err != nil {
			t.Errorf("suite %d: signature of the derived key does not verify: %v", cs, err)
		}
	}
	if _, err := CipherSuite(1).DeriveSigningKey(secret[:31]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short secret: err = %v, want ErrMalformed", err)
	}
}
