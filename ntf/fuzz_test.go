package ntf_test

import (
	"testing"

	"github.com/trystgw/tryst/ntf"
)

// FuzzParseNewQueue feeds the queue fields of a subscription request to
// the parser: it never panics, and what it accepts has a server, a
// notifier id of 1 to 255 bytes and a key that signs.
func FuzzParseNewQueue(f *testing.F) {
	f.Add("smp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@localhost:5001", "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaX",
		"MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f")
	f.Add("smp://AAAA@a,b:1", "AA", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
	f.Add("smp://@", "", "")
	f.Fuzz(func(t *testing.T, server, id, key string) {
		q, err := ntf.ParseNewQueue(server, id, key)
		if err != nil {
			return
		}
		if len(q.NotifierID) == 0 || len(q.NotifierID) > 255 || q.Key == nil || q.Ref().Server == "" {
			t.Fatalf("ParseNewQueue(%q, %q, %q) accepted %+v", server, id, key, q)
		}
		if _, err := ntf.ParseNewQueue(q.Ref().Server, id, key); err != nil {
			t.Fatalf("the server text %q does not parse again: %v", q.Ref().Server, err)
		}
	})
}
