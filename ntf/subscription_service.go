package ntf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trystgw/tryst/smpclient"
)

// Watcher keeps the SMP subscriptions of queues; *Supervisor is one.
type Watcher interface {
	// Watch subscribes the queues (in a batch, on their servers'
	// connections, opened as needed).
	Watch(qs []WatchedQueue)
	// Forget drops the queues: their notifications are no longer taken,
	// and a connection left with no queue closes.
	Forget(refs []QueueRef)
}

// WatchedQueue is a queue with what the supervisor needs to subscribe it.
type WatchedQueue struct {
	Ref  QueueRef
	Addr smpclient.ServerAddress
	Key  *smpclient.PrivateKey
	// Active: the store records the queue active already (loaded so), so
	// its confirmation need not be written again.
	Active bool
}

// Subscriptions serves the subscription API of a token: it stores the
// queues an app hands over (notifier keys sealed with the master key) and
// tells the supervisor to watch or forget them. It is safe for concurrent
// use.
type Subscriptions struct {
	tokens  *Service
	store   SubscriptionStore
	sealer  Sealer
	watcher Watcher
	now     func() time.Time
}

// NewSubscriptions returns the subscription service. Requests are
// authenticated by tokens; queues are kept in store and watched by w.
func NewSubscriptions(tokens *Service, store SubscriptionStore, sealer Sealer, w Watcher) *Subscriptions {
	return &Subscriptions{tokens: tokens, store: store, sealer: sealer, watcher: w, now: tokens.cfg.Now}
}

// Create stores a subscription of the token with the queues and starts
// watching them. created is false when the request repeats one that
// succeeded (every queue is already in one subscription of the token,
// with the same key): the existing subscription is returned. Errors:
// ErrUnknownToken, *FieldError, ErrQueueTaken (nothing is stored).
func (s *Subscriptions) Create(ctx context.Context, c Credentials, qs []NewQueue) (sub Subscription, created bool, err error) {
	t, err := s.tokens.Authenticate(ctx, c)
	if err != nil {
		return Subscription{}, false, err
	}
	if err := checkQueueCount(qs); err != nil {
		return Subscription{}, false, err
	}
	now := s.now()
	sub = Subscription{ID: NewSubscriptionID(), Token: t.ID, CreatedAt: now}
	for _, q := range qs {
		sub.Queues = append(sub.Queues, s.newQueue(q, now))
	}
	err = s.store.CreateSubscription(ctx, sub)
	if errors.Is(err, ErrQueueTaken) {
		existing, rerr := s.retried(ctx, t.ID, "", qs)
		return existing, false, rerr
	}
	if err != nil {
		return Subscription{}, false, fmt.Errorf("create subscription: %w", err)
	}
	s.watcher.Watch(watched(qs))
	return sub, true, nil
}

// checkQueueCount refuses an empty request, too many queues and a queue
// named twice.
func checkQueueCount(qs []NewQueue) error {
	if len(qs) == 0 || len(qs) > MaxQueuesPerSubscription {
		return &FieldError{Field: "queues", Err: fmt.Errorf("must hold 1 to %d queues", MaxQueuesPerSubscription)}
	}
	for i := range qs {
		for j := range i {
			if qs[i].Ref().Server == qs[j].Ref().Server && bytes.Equal(qs[i].NotifierID, qs[j].NotifierID) {
				return &FieldError{Field: "queues", Err: errors.New("a queue is listed twice")}
			}
		}
	}
	return nil
}

// newQueue is the stored form of q: its key sealed, status pending.
func (s *Subscriptions) newQueue(q NewQueue, now time.Time) Queue {
	ref := q.Ref()
	return Queue{QueueRef: ref, KeySealed: SealNotifierKey(s.sealer, ref, q.Key), Status: QueuePending,
		Rotate: q.Rotate, AddedAt: now}
}

func watched(qs []NewQueue) []WatchedQueue {
	w := make([]WatchedQueue, len(qs))
	for i, q := range qs {
		w[i] = WatchedQueue{Ref: q.Ref(), Addr: q.Server, Key: q.Key}
	}
	return w
}

// retried tells a repeated request from a conflicting one: every queue
// must already be in one subscription of the token (id, when given) with
// the same key. It returns that subscription, or ErrQueueTaken.
func (s *Subscriptions) retried(ctx context.Context, token TokenID, id SubscriptionID, qs []NewQueue) (Subscription, error) {
	for _, q := range qs {
		owner, sid, stored, err := s.store.FindQueue(ctx, q.Ref())
		if errors.Is(err, ErrQueueNotFound) {
			return Subscription{}, ErrQueueTaken // some queue is new: not a repeat
		}
		if err != nil {
			return Subscription{}, err
		}
		same := owner == token && (id == "" || sid == id) && sameKey(s.sealer, q.Ref(), stored.KeySealed, q.Key)
		if !same {
			return Subscription{}, ErrQueueTaken
		}
		if id == "" {
			id = sid
		}
	}
	return s.store.GetSubscription(ctx, token, id)
}

// Get returns the token's subscription with its queues' statuses.
// Errors: ErrUnknownToken, ErrSubscriptionNotFound.
func (s *Subscriptions) Get(ctx context.Context, c Credentials, rawID string) (Subscription, error) {
	t, id, err := s.authenticate(ctx, c, rawID)
	if err != nil {
		return Subscription{}, err
	}
	return s.store.GetSubscription(ctx, t.ID, id)
}

// authenticate checks the credentials, then parses the subscription id
// (a malformed one is not found).
func (s *Subscriptions) authenticate(ctx context.Context, c Credentials, rawID string) (Token, SubscriptionID, error) {
	t, err := s.tokens.Authenticate(ctx, c)
	if err != nil {
		return Token{}, "", err
	}
	id, err := ParseSubscriptionID(rawID)
	if err != nil {
		return Token{}, "", ErrSubscriptionNotFound
	}
	return t, id, nil
}

// AddQueue adds q to the subscription (a rotation when q.Rotate, else
// redundancy) and watches it. Repeating a successful request returns the
// subscription unchanged. Errors: ErrUnknownToken,
// ErrSubscriptionNotFound, *FieldError (the subscription is full),
// ErrQueueTaken.
func (s *Subscriptions) AddQueue(ctx context.Context, c Credentials, rawID string, q NewQueue) (Subscription, error) {
	t, id, err := s.authenticate(ctx, c, rawID)
	if err != nil {
		return Subscription{}, err
	}
	cur, err := s.store.GetSubscription(ctx, t.ID, id)
	if err != nil {
		return Subscription{}, err
	}
	if len(cur.Queues) >= MaxQueuesPerSubscription {
		if again, err := s.retried(ctx, t.ID, id, []NewQueue{q}); err == nil {
			return again, nil
		}
		return Subscription{}, &FieldError{Field: "queues", Err: fmt.Errorf("a subscription holds at most %d queues", MaxQueuesPerSubscription)}
	}
	sub, err := s.store.AddQueue(ctx, t.ID, id, s.newQueue(q, s.now()))
	if errors.Is(err, ErrQueueTaken) {
		return s.retried(ctx, t.ID, id, []NewQueue{q})
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("add queue: %w", err)
	}
	s.watcher.Watch(watched([]NewQueue{q}))
	return sub, nil
}

// RemoveQueue removes the queue at index and forgets it. Errors:
// ErrUnknownToken, ErrSubscriptionNotFound, ErrQueueNotFound.
func (s *Subscriptions) RemoveQueue(ctx context.Context, c Credentials, rawID string, index int) (Subscription, error) {
	t, id, err := s.authenticate(ctx, c, rawID)
	if err != nil {
		return Subscription{}, err
	}
	q, err := s.store.RemoveQueue(ctx, t.ID, id, index)
	if err != nil {
		return Subscription{}, err
	}
	s.watcher.Forget([]QueueRef{q.QueueRef})
	return s.store.GetSubscription(ctx, t.ID, id)
}

// Delete removes the subscription and forgets its queues. Errors:
// ErrUnknownToken, ErrSubscriptionNotFound.
func (s *Subscriptions) Delete(ctx context.Context, c Credentials, rawID string) error {
	t, id, err := s.authenticate(ctx, c, rawID)
	if err != nil {
		return err
	}
	qs, err := s.store.DeleteSubscription(ctx, t.ID, id)
	if err != nil {
		return err
	}
	refs := make([]QueueRef, len(qs))
	for i, q := range qs {
		refs[i] = q.QueueRef
	}
	s.watcher.Forget(refs)
	return nil
}

// DeleteToken deletes the token with its subscriptions (Service.Delete)
// and forgets their queues. Errors: ErrUnknownToken.
func (s *Subscriptions) DeleteToken(ctx context.Context, c Credentials) error {
	t, err := s.tokens.Authenticate(ctx, c)
	if err != nil {
		return err
	}
	refs, err := s.store.TokenQueues(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	if err := s.tokens.Delete(ctx, c); err != nil {
		return err
	}
	s.watcher.Forget(refs)
	return nil
}
