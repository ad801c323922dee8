// Package pushtest provides fakes for testing push delivery without
// reaching Apple or Google:
//
//   - APNs: a fake Apple Push Notification service (HTTP/2 over TLS on
//     loopback, production and development hosts) that verifies provider
//     JWTs (ES256) or client certificates and the request headers like
//     Apple, answers as scripted per device token (success, every 400
//     reason, 403, 410 with timestamp, 413, 429 with Retry-After, 500,
//     503, a hang, a dropped connection) and records what it received.
//   - FCM: a fake Firebase Cloud Messaging v1 API with the OAuth2 token
//     endpoint a service account's token_uri points to, Google's error
//     format (FcmError, ErrorInfo, BadRequest details), per-token scripts
//     and recording.
//   - Recorder: a recording, scriptable push.Sender.
//   - ManualClock: a push.Clock moved by hand.
//
// Wiring the real adapters to the fakes:
//
//	fa := pushtest.NewAPNs()
//	defer fa.Close()
//	key := fa.NewKey("KEYID12345", "TEAMID1234", "com.example.app")
//	s, _ := apns.New(apns.Config{Topic: "com.example.app", Key: key, KeyID: "KEYID12345", TeamID: "TEAMID1234",
//		ProductionURL: fa.ProductionURL(), DevelopmentURL: fa.DevelopmentURL(), RootCAs: fa.RootCAs()})
//
//	ff := pushtest.NewFCM()
//	defer ff.Close()
//	f, _ := fcm.New(ctx, fcm.Config{ServiceAccountJSON: ff.ServiceAccount("my-project"),
//		Endpoint: ff.Endpoint(), RootCAs: ff.RootCAs()})
//
// A test reading a verification push waits with WaitDelivered(ctx, token).
package pushtest
