package qs

import (
	"context"
	"time"
)

// Store persists queues and their messages. Implementations are safe for
// concurrent use and must pass qstest.TestStore.
type Store interface {
	// Create stores a new queue; an error wrapping ErrExists if the id
	// is taken.
	Create(ctx context.Context, q Queue) error
	// Get returns the queue, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id ID) (Queue, error)
	// Enqueue appends data once to each of the queues that exist but
	// except (the sender's own; "" for none), with one new sequence number
	// (greater than any given before) shared by them, atomically, and
	// returns the queues it appended to, in the given order. Duplicate ids
	// get the message once. Fan-outs to the same set of queues (a group's
	// members) are what it is optimised for.
	Enqueue(ctx context.Context, queues []ID, except ID, data []byte, at time.Time) ([]ID, error)
	// Fetch returns up to limit messages of queue id with a sequence
	// number above after, in order; an error wrapping ErrNotFound if the
	// queue does not exist. It clears the queue's PushPending.
	Fetch(ctx context.Context, id ID, after uint64, limit int) ([]Message, error)
	// Ack deletes the messages of queue id numbered up to through (for
	// that queue: Fetch no longer returns them); an error wrapping
	// ErrNotFound if the queue does not exist.
	Ack(ctx context.Context, id ID, through uint64) error
	// Sweep frees storage no queue needs: up to limit messages every
	// recipient acknowledged, and the bookkeeping of recipient sets unused
	// since before unusedBefore. It returns the number of messages freed.
	Sweep(ctx context.Context, unusedBefore time.Time, limit int) (int, error)
	// ClaimPushes sets PushPending on those of ids that are linked to a
	// token and have it clear, and returns them (as stored before the
	// change), atomically per queue: of concurrent callers exactly one
	// claims a given queue.
	ClaimPushes(ctx context.Context, ids []ID) ([]Queue, error)
	// ReleasePush clears PushPending (a wake-up push failed); no error
	// for a missing queue.
	ReleasePush(ctx context.Context, id ID) error
	// Missing returns the ids among ids that name no queue.
	Missing(ctx context.Context, ids []ID) ([]ID, error)
	// Delete removes the queue and its place in every recipient set, so
	// no fan-out reaches it again and its messages are freed once the
	// other recipients acknowledged them; an error wrapping ErrNotFound
	// if there is no such queue.
	Delete(ctx context.Context, id ID) error
}
