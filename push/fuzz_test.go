package push_test

import (
	"strings"
	"testing"

	"github.com/trystgw/tryst/push"
)

func FuzzParseDeviceToken(f *testing.F) {
	f.Add(uint8(1), strings.Repeat("ab", 32))
	f.Add(uint8(2), "dGVzdC10b2tlbi0xMjM0NTY3:APA91bH-x_y")
	f.Add(uint8(1), "")
	f.Fuzz(func(t *testing.T, p uint8, s string) {
		tok, err := push.ParseDeviceToken(push.Platform(p), s)
		if err != nil {
			return
		}
		again, err := push.ParseDeviceToken(tok.Platform(), tok.String())
		if err != nil || again != tok {
			t.Fatalf("%q: re-parse gave %v %v", s, again, err)
		}
		if tok.IsZero() || !strings.EqualFold(tok.String(), s) {
			t.Fatalf("%q parsed as %q", s, tok.String())
		}
	})
}
