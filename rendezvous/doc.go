// Package rendezvous is the domain of short-lived mailboxes through which two
// devices meet: sessions, their version tokens, the Store and Notifier that
// keep them, and the Service that the HTTP flavours call.
//
// A session holds one payload at a time. Every write produces a new version
// token (a per-session random salt plus a counter), so two writes of the same
// bytes are still told apart. Writes are compare-and-swap in the Store; the
// Service never reads, checks and then writes. Long-poll waiters are woken by
// the Notifier, which may span several gateway instances.
//
// The package knows nothing of HTTP or of any storage driver.
package rendezvous
