package ntf

import (
	"context"
	"time"
)

// TokenStore persists tokens. Implementations are safe for concurrent use, keep
// times to the millisecond at least, and must pass ntftest.TestTokenStore.
type TokenStore interface {
	// Create stores a new token. It returns an error wrapping ErrTokenExists if
	// the id is taken.
	Create(ctx context.Context, t Token) error
	// Get returns the token with id, or an error wrapping ErrTokenNotFound.
	// A missing id should cost what a present one does (Update too):
	// the time of an answer must not tell which ids exist.
	Get(ctx context.Context, id TokenID) (Token, error)
	// Update reads the token with id, calls fn on a copy and, if fn
	// returns nil, stores the copy and returns it, all atomically: no
	// other Update or ClaimDue of that token interleaves. fn's error is
	// returned as is (and nothing is stored); a missing token is an
	// error wrapping ErrTokenNotFound. fn must not change the id and may run
	// more than once.
	Update(ctx context.Context, id TokenID, fn func(*Token) error) (Token, error)
	// Delete removes the token with id; an error wrapping ErrTokenNotFound if
	// there is none.
	Delete(ctx context.Context, id TokenID) error
	// ClaimDue returns up to limit tokens whose NextCheckAt is set and not
	// after now, earliest first, and moves each one's NextCheckAt to now
	// plus its CheckInterval, atomically: concurrent callers (several
	// gateway instances) never claim the same token for the same period.
	// It must not read tokens that are not due.
	ClaimDue(ctx context.Context, now time.Time, limit int) ([]Token, error)
	// DeleteInactive deletes up to limit tokens whose Status is not
	// StatusActive and whose UpdatedAt is not after before, oldest
	// first, and returns how many it deleted. It must not read active
	// tokens nor ones updated after before (an index leads to the rest).
	DeleteInactive(ctx context.Context, before time.Time, limit int) (int, error)
}
