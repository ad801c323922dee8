package rendezvous

import (
	"context"
	"time"
)

// Wait returns session id as soon as its version differs from known, or,
// when it does not change within wait (capped by Config.MaxWait), the
// unchanged session. It returns an error wrapping ErrNotFound when the
// session ends (deleted or expired) before or while waiting. If ctx ends
// first, Wait returns the session as last read and ctx's error.
//
// A waiter holds no goroutine of its own: only a channel, a timer and the
// caller's stack.
func (s *Service) Wait(ctx context.Context, id ID, known string, wait time.Duration) (Session, error) {
	wait = min(wait, s.cfg.MaxWait)
	// Watch before reading, so a write between the read and the wait is
	// not missed.
	changed, stop := s.notifier.Watch(id)
	defer func() { stop() }()
	sess, err := s.Get(ctx, id)
	if err != nil || sess.Version() != known || wait <= 0 {
		return sess, err
	}
	s.stats.waiting.Add(1)
	defer s.stats.waiting.Add(-1)

	deadline := s.now().Add(wait)
	timer := time.NewTimer(min(wait, sess.ExpiresIn(s.now())))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return sess, ctx.Err()
		case <-timer.C:
			// Either the wait is over or the session expired: a fresh read
			// tells which.
			return s.Get(ctx, id)
		case <-changed:
		}
		stop()
		changed, stop = s.notifier.Watch(id)
		if sess, err = s.Get(ctx, id); err != nil || sess.Version() != known {
			return sess, err
		}
		// A notification without a change (another instance's echo):
		// keep waiting for what is left.
		timer.Reset(min(deadline.Sub(s.now()), sess.ExpiresIn(s.now())))
	}
}
