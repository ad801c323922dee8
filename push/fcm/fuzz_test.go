package fcm

import (
	"testing"

	"github.com/trystgw/tryst/push"
)

// FuzzClassify: any answer gets a class, and a token is only declared
// dead from an explicit FCM code or a complaint about the token.
func FuzzClassify(f *testing.F) {
	f.Add(404, `{"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`)
	f.Add(400, `{"error":{"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token"}]}]}}`)
	f.Add(503, `not json`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		e := Classify(status, nil, []byte(body))
		if e.Class == push.ClassNone || e.Reason == "" {
			t.Fatalf("unclassified: %+v", e)
		}
		if e.Class == push.ClassToken && status >= 500 && e.ProviderReason == "" {
			t.Fatalf("5xx without details declared the token dead: %+v", e)
		}
	})
}
