// Package smpclient is a SimpleX Messaging Protocol (SMP) client for the
// notifier role: it connects to an SMP server over TLS, pins the server's
// identity by key hash, runs the SMP handshake, subscribes notifier queues
// with NSUB and delivers the server's NMSG, END and DELD events.
//
// The wire protocol is specified in shared/spec/smp-client.md; section
// numbers in comments (§2.2) refer to it. The package imports no other
// tryst package and knows nothing about tokens, pushes or storage:
// reconnection and resubscription policy belong to the caller.
//
// # TLS
//
// Go's crypto/tls serves every server whose online (leaf) certificate
// it can verify. Servers made before February 2024 (and notification
// and file servers still) sign the TLS handshake with Ed448, which
// crypto/tls lacks; such a server refuses crypto/tls before showing its
// certificate, and Dial then uses smpclient/tls13, this module's TLS 1.3
// client, and remembers that in Config.TLSMemo. The identity checks of
// §1.2 are the same on both paths, and on both the session id in the
// server hello is checked against the client Finished ("tls-unique",
// §1.4); crypto/tls does not expose it under TLS 1.3, so it is recovered
// from crypto/tls's key log with a tls13.FinishedCapture.
//
// # Versions
//
// The client speaks SMP versions 7..18 and picks the highest version both
// sides support. What changes with the agreed version v:
//
//	 7  session id implied (signed, not sent); signed server X25519 key in the hello
//	10  queue deletion announced with DELD (before: END)
//	11  optional block encryption (client key in the hello)
//	12  ERR BLOCKED
//	14  proxyServer flag in the client hello
//	16  service field in the client hello; "0" after every non-empty
//	    authorization; NSUB answered with "SOK 0" instead of "OK"
//	18  BLOCKED may carry a client notice (current release maximum)
//
// Version 6 (legacy transmission layout, no server key) is not supported.
// A server that negotiated no ALPN offers only version 6, so Dial fails
// with a *VersionError that says so.
package smpclient

// Protocol versions (Appendix A of the spec).
const (
	minSupportedVersion      uint16 = 7  // implied session id, authenticators
	versionDELD              uint16 = 10 // DELD instead of END on deletion
	versionBlockEncryption   uint16 = 11 // optional block encryption
	versionProxyFlag         uint16 = 14 // proxyServer in client hello
	versionServiceCerts      uint16 = 16 // service field, "0" after auth, SOK
	maxSupportedVersion      uint16 = 18 // current release
	legacyVersionWithoutALPN uint16 = 6  // all a server offers without ALPN
)

// MinVersion and MaxVersion bound the SMP versions this package speaks
// (the range the spec recommends).
const (
	MinVersion = minSupportedVersion
	MaxVersion = maxSupportedVersion
)
