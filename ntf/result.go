package ntf

import (
	"context"
	"errors"
	"time"

	"github.com/trystgw/tryst/push"
)

// errStale aborts an update for a result about a device token the token
// no longer has.
var errStale = errors.New("ntf: result for a replaced device token")

// HandlePushResult applies the outcome of a push this package sent: an
// accepted verification push confirms the token, a permanent token error
// makes it invalid with the provider's reason. Results about a device
// token that was replaced since, or a deleted token, are ignored. It is
// meant for push.DispatcherConfig.OnResult and logs its own failures.
func (s *Service) HandlePushResult(ctx context.Context, r push.Result) {
	if r.Notification == nil {
		return
	}
	kind, id, ok := parsePushID(r.Notification.ID)
	if !ok {
		return
	}
	var fn func(*Token)
	switch {
	case r.TokenDead():
		fn = func(t *Token) {
			t.Status, t.InvalidReason, t.NextCheckAt = StatusInvalid, r.Reason, time.Time{}
		}
	case r.OK() && kind == pushVerify:
		fn = func(t *Token) {
			if t.Status == StatusRegistered {
				t.Status = StatusConfirmed
			}
		}
	case !r.OK():
		s.log.WarnContext(ctx, "token push failed", "token_id", id, "kind", kind, "class", r.Class.String(), "reason", string(r.Reason))
		return
	default:
		return
	}
	s.applyResult(ctx, id, r.Notification.Token, fn)
}

// applyResult runs fn on the token if it still has device token dt.
func (s *Service) applyResult(ctx context.Context, id TokenID, dt push.DeviceToken, fn func(*Token)) {
	_, err := s.store.Update(ctx, id, func(t *Token) error {
		if t.DeviceToken != dt {
			return errStale
		}
		fn(t)
		t.UpdatedAt = s.cfg.Now()
		return nil
	})
	if err != nil && !errors.Is(err, errStale) && !errors.Is(err, ErrNotFound) {
		s.log.ErrorContext(ctx, "recording a push result", "token_id", id, "err", err)
	}
}
