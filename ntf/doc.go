// Package ntf is the notification service's domain: push tokens, the
// SMP subscriptions of apps, and the durable outbox between them.
//
// Tokens: an app installation registers where its pushes go (platform,
// app, device token) with an X25519 key, proves it receives them by
// echoing a code sent in an encrypted verification push, replaces the
// device token when the OS rotates it, asks for periodic background
// "check messages" pushes, and learns when the provider declared the token
// dead. A token moves registered -> confirmed (the provider accepted the
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
// the package owns its verification and check pushes, the Outbox its
// message pushes, and the Service handles every result that declares a
// device token dead, whoever sent the push, by the notification's
// Registration.
//
// Subscriptions: an app hands over the notifier credentials of its SMP
// queues (Subscriptions; keys sealed with the master key). The Supervisor
// holds one smpclient connection per SMP server, subscribes queues in
// batches, reconnects with backoff and jitter, and keeps each queue's
// status; END, DELD and ERR AUTH end a queue for good. Every NMSG is
// written to the outbox first; the Outbox then pushes the token's recent
// notifications, sealed and padded as SimpleX's apps read them
// (MessageText, SealMessage), and clears them only when the provider
// accepted the push.
//
// When several instances share one database, Ownership divides the SMP
// servers among them through leases (LeaseStore): each server's
// subscriptions are held by one instance at a time, an instance that
// cannot renew lets go before its lease can end, and a dead instance's
// servers are taken over when its leases expire.
//
// The package defines the stores it needs (TokenStore, SubscriptionStore,
// LeaseStore; ntftest holds their conformance suites) and the Pusher and
// Sealer it uses. It imports neither net/http nor a storage driver.
package ntf
