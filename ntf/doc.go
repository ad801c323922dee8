// Package ntf is the notification service's domain. This part holds push
// tokens: an app installation registers where its pushes go (platform,
// app, device token) with an X25519 key, proves it receives them by
// echoing a code sent in an encrypted verification push, replaces the
// device token when the OS rotates it, asks for periodic background
// "check messages" pushes, and learns when the provider declared the token
// dead.
//
// A token moves registered -> confirmed (the provider accepted the
// verification push) -> active (the code came back). A permanent token
// error from the provider makes it invalid, with the reason. Only active
// tokens get notification and periodic pushes.
//
// Every request but registration is authenticated by the token's bearer
// secret: 256 random bits, stored only as a SHA-256 hash and compared in
// constant time; an unknown id and a wrong secret fail alike
// (ErrUnknownToken) after the same work.
//
// Push results come back through a push.Router by owner (RouteResults):
// the package owns its verification and check pushes, and handles every
// result that declares a device token dead, whoever sent the push, by the
// notification's Registration.
//
// The package defines the TokenStore it needs (ntftest.TestTokenStore is its
// conformance suite) and the Pusher and Sealer it uses. It imports neither
// net/http nor a storage driver.
package ntf
