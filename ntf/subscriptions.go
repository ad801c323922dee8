package ntf

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/trystgw/tryst/smpclient"
)

// Errors of subscriptions. Callers test for them with errors.Is.
var (
	// ErrSubscriptionNotFound: the token has no subscription with this id.
	ErrSubscriptionNotFound = errors.New("ntf: subscription not found")
	// ErrQueueNotFound: no such queue (index, or server and notifier id).
	ErrQueueNotFound = errors.New("ntf: queue not found")
	// ErrQueueTaken: the notifier queue is in a subscription already, with
	// other credentials or for another token or subscription.
	ErrQueueTaken = errors.New("ntf: queue already subscribed with other credentials")
)

// MaxQueuesPerSubscription bounds a subscription: the queues of one
// connection during a rotation, or on a few servers for redundancy.
const MaxQueuesPerSubscription = 8

// SubscriptionID identifies a subscription: 16 random bytes, base64url
// without padding.
type SubscriptionID string

// NewSubscriptionID returns a fresh random id.
func NewSubscriptionID() SubscriptionID {
	return SubscriptionID(base64.RawURLEncoding.EncodeToString(randomBytes(tokenIDBytes)))
}

// ParseSubscriptionID checks that s has the form of a subscription id.
func ParseSubscriptionID(s string) (SubscriptionID, error) {
	if _, err := ParseTokenID(s); err != nil {
		return "", errors.New("not a subscription id")
	}
	return SubscriptionID(s), nil
}

// QueueStatus is where a notifier queue's SMP subscription stands.
type QueueStatus string

// The queue statuses (gateway-api.md §2).
const (
	QueuePending  QueueStatus = "pending"  // stored, NSUB not yet confirmed
	QueueActive   QueueStatus = "active"   // the SMP server confirmed NSUB
	QueueInactive QueueStatus = "inactive" // the connection is down; retrying
	QueueEnded    QueueStatus = "ended"    // another subscriber took it (END)
	QueueDeleted  QueueStatus = "deleted"  // the queue or its notifier credentials were deleted (DELD)
	QueueAuth     QueueStatus = "auth"     // the server refused the credentials (ERR AUTH)
	QueueError    QueueStatus = "error"    // another final error; see the queue's Error
)

// ParseQueueStatus parses a stored status.
func ParseQueueStatus(s string) (QueueStatus, error) {
	switch st := QueueStatus(s); st {
	case QueuePending, QueueActive, QueueInactive, QueueEnded, QueueDeleted, QueueAuth, QueueError:
		return st, nil
	}
	return "", fmt.Errorf("unknown queue status %q", s)
}

// Final reports whether the queue is never subscribed again by the
// gateway itself: the app recreates it with fresh credentials.
func (s QueueStatus) Final() bool {
	return s == QueueEnded || s == QueueDeleted || s == QueueAuth || s == QueueError
}

// QueueRef names a notifier queue: its server (the address text, see
// ServerText) and notifier id. A queue is in at most one subscription.
type QueueRef struct {
	Server     string
	NotifierID []byte
}

// String is the queue's address, <server>/<notifier id>, for logs.
func (r QueueRef) String() string {
	return r.Server + "/" + base64.URLEncoding.EncodeToString(r.NotifierID)
}

// sealAD is the associated data the notifier key is sealed with: the
// queue it belongs to, so a sealed key copied to another row does not open.
func (r QueueRef) sealAD() []byte { return []byte("notifier-key:" + r.String()) }

// Queue is one notifier queue of a subscription.
type Queue struct {
	QueueRef
	// KeySealed is the notifier private key (PKCS#8 DER) sealed with the
	// master key; it is never returned or logged.
	KeySealed []byte
	Status    QueueStatus
	// Error says why, when Status is QueueError.
	Error string
	// Rotate marks a queue added to replace the ones before it: its first
	// notification retires them.
	Rotate  bool
	AddedAt time.Time
}

// Subscription is a set of notifier queues whose messages are pushed to
// one token.
type Subscription struct {
	ID        SubscriptionID
	Token     TokenID
	Queues    []Queue
	CreatedAt time.Time
}

// ServerText is the form a server address is kept and shown in: the SMP
// text form (padded key hash, hosts and port as given), without basic
// auth, which a notifier does not use.
func ServerText(a smpclient.ServerAddress) string {
	a.BasicAuth = ""
	return a.String()
}

// NewQueue is a queue an app hands over: parsed, not yet stored.
type NewQueue struct {
	Server     smpclient.ServerAddress
	NotifierID []byte
	Key        *smpclient.PrivateKey
	Rotate     bool
}

// Ref returns the queue's reference.
func (q NewQueue) Ref() QueueRef {
	return QueueRef{Server: ServerText(q.Server), NotifierID: q.NotifierID}
}

// maxNotifierIDLen is the longest entity id SMP carries (a shortString).
const maxNotifierIDLen = 255

// ParseNewQueue parses a queue of a request: the server address, the
// notifier id (base64url) and the notifier private key (base64url of an
// Ed25519, Ed448 or X25519 PKCS#8 DER key, or of a 32-byte Ed25519
// seed). It returns a *FieldError naming the bad field.
func ParseNewQueue(server, notifierID, key string) (NewQueue, error) {
	var q NewQueue
	addr, err := smpclient.ParseServerAddress(server)
	if err != nil {
		return q, &FieldError{Field: "server", Err: errors.New("not an smp:// server address")}
	}
	id, err := DecodeBase64URL(notifierID)
	if err != nil || len(id) == 0 || len(id) > maxNotifierIDLen {
		return q, &FieldError{Field: "notifier_id", Err: fmt.Errorf("must be 1 to %d bytes of base64url", maxNotifierIDLen)}
	}
	raw, err := DecodeBase64URL(key)
	if err != nil {
		return q, &FieldError{Field: "notifier_key", Err: err}
	}
	k, err := parseNotifierKey(raw)
	if err != nil {
		return q, &FieldError{Field: "notifier_key", Err: err}
	}
	return NewQueue{Server: addr, NotifierID: id, Key: k}, nil
}

// parseNotifierKey reads a PKCS#8 DER key or a 32-byte Ed25519 seed.
func parseNotifierKey(raw []byte) (*smpclient.PrivateKey, error) {
	if len(raw) == 32 {
		return smpclient.NewEd25519Key(raw), nil
	}
	k, err := smpclient.ParsePrivateKey(raw)
	if err != nil {
		return nil, errors.New("not an Ed25519, Ed448 or X25519 PKCS#8 key or a 32-byte Ed25519 seed")
	}
	return k, nil
}

// sameKey reports whether sealed (a stored queue's key) opens to key,
// comparing the DER forms in constant time (keys stored before key
// pairs were are plain PKCS#8).
func sameKey(s Sealer, ref QueueRef, sealed []byte, key *smpclient.PrivateKey) bool {
	der, err := s.Open(sealed, ref.sealAD())
	return err == nil && (constantTimeEqual(der, key.MarshalKeyPair()) || constantTimeEqual(der, key.MarshalPKCS8()))
}

// SealNotifierKey seals key as a stored queue's KeySealed, bound to the
// queue ref. The key is stored with its public half
// (smpclient.MarshalKeyPair), so loading 100,000 keys for resubscription
// does not derive 100,000 public keys.
func SealNotifierKey(s Sealer, ref QueueRef, key *smpclient.PrivateKey) []byte {
	return s.Seal(key.MarshalKeyPair(), ref.sealAD())
}

func constantTimeEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// openKey unseals a stored queue's notifier key.
func openKey(s Sealer, ref QueueRef, sealed []byte) (*smpclient.PrivateKey, error) {
	der, err := s.Open(sealed, ref.sealAD())
	if err != nil {
		return nil, fmt.Errorf("opening the notifier key of %s: %w", ref, err)
	}
	return smpclient.ParseKeyPair(der)
}

// SubscriptionStore persists subscriptions, their queues and the outbox
// of notifications. Implementations are safe for concurrent use and must
// pass ntftest.TestSubscriptionStore. Deleting a token deletes its
// subscriptions, their queues and notifications.
type SubscriptionStore interface {
	// CreateSubscription stores s with its queues. If a queue is in a
	// subscription already nothing is stored and the error wraps
	// ErrQueueTaken.
	CreateSubscription(ctx context.Context, s Subscription) error
	// GetSubscription returns the token's subscription with its queues in
	// the order they were added, or an error wrapping
	// ErrSubscriptionNotFound.
	GetSubscription(ctx context.Context, token TokenID, id SubscriptionID) (Subscription, error)
	// AddQueue appends q to the subscription. Errors wrap
	// ErrSubscriptionNotFound or ErrQueueTaken.
	AddQueue(ctx context.Context, token TokenID, id SubscriptionID, q Queue) (Subscription, error)
	// RemoveQueue removes the queue at index (in GetSubscription's order)
	// with its notification and returns it. Errors wrap
	// ErrSubscriptionNotFound or ErrQueueNotFound.
	RemoveQueue(ctx context.Context, token TokenID, id SubscriptionID, index int) (Queue, error)
	// DeleteSubscription removes the subscription and returns its queues.
	DeleteSubscription(ctx context.Context, token TokenID, id SubscriptionID) ([]Queue, error)
	// FindQueue returns the queue ref names with its token and
	// subscription, or an error wrapping ErrQueueNotFound.
	FindQueue(ctx context.Context, ref QueueRef) (TokenID, SubscriptionID, Queue, error)
	// TokenQueues returns the refs of every queue of the token.
	TokenQueues(ctx context.Context, token TokenID) ([]QueueRef, error)
	// LoadQueues returns up to limit queues whose status is not final,
	// ordered by (server, notifier id) and after the given ref (the zero
	// ref starts at the beginning): the supervisor's start-up load.
	LoadQueues(ctx context.Context, after QueueRef, limit int) ([]Queue, error)
	// SetQueueStatus sets the status (and error text) of the server's
	// queues with the given notifier ids. QueueActive and QueueInactive
	// change only queues whose status is not final, so a late
	// confirmation does not revive an ended queue.
	SetQueueStatus(ctx context.Context, server string, ids [][]byte, status QueueStatus, errText string) error
	// DeactivateServer makes the server's active queues inactive.
	DeactivateServer(ctx context.Context, server string) error
	// CountQueues returns the number of queues by status.
	CountQueues(ctx context.Context) (map[QueueStatus]int, error)

	OutboxStore
}

// OutboxStore is the durable outbox: per queue, the newest notification,
// pending until a push carrying it is accepted.
type OutboxStore interface {
	// AddNotifications records each notification as its queue's newest
	// (unless one with a larger Seq is stored), pending, in one
	// transaction. ClaimOutbox finds them from due on: the caller hands
	// them to the outbox itself, and the sweep is the fallback. A notification of a
	// queue marked Rotate retires the queues added before it in its
	// subscription (they are removed and reported in Retired) and clears
	// the mark. A notification of an unknown queue is not stored
	// (Accepted.Found is false).
	AddNotifications(ctx context.Context, ns []Notification, due time.Time) ([]Accepted, error)
	// RecentNotifications returns the token's notifications (one per
	// queue), in any order.
	RecentNotifications(ctx context.Context, token TokenID) ([]Notification, error)
	// ClearNotifications marks the token's named notifications delivered:
	// a row stays pending if its Seq changed since (a newer NMSG arrived).
	ClearNotifications(ctx context.Context, token TokenID, delivered []Notification) error
	// DeferNotifications makes the token's pending notifications due at
	// the given time and counts a failed attempt.
	DeferNotifications(ctx context.Context, token TokenID, at time.Time) error
	// DropNotifications clears the token's pending notifications: its
	// device token is dead.
	DropNotifications(ctx context.Context, token TokenID) error
	// ClaimOutbox returns up to limit tokens with pending notifications
	// due by due, and makes those notifications due again at until (a
	// lease), so that concurrent claimers (on PostgreSQL, with SKIP
	// LOCKED) do not take the same ones and a crashed claimer's work
	// comes back.
	ClaimOutbox(ctx context.Context, due, until time.Time, limit int) ([]TokenID, error)
	// OutboxStats returns the number of pending notifications and when
	// the oldest of them was received (zero when none).
	OutboxStats(ctx context.Context) (depth int, oldest time.Time, err error)
}

// Accepted is what AddNotifications did with one notification.
type Accepted struct {
	Found bool
	Token TokenID
	// Retired are the queues the notification's rotation removed.
	Retired []QueueRef
}
