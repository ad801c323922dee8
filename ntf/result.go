package ntf

import (
	"context"
	"errors"
	"time"

	"github.com/trystgw/tryst/push"
)

// Owner kinds of the pushes this package sends; the owner id is the
// token id.
const (
	// OwnerVerification owns verification pushes: an accepted one
	// confirms the token.
	OwnerVerification push.OwnerKind = "ntf.verify"
	// OwnerCheck owns periodic "check messages" pushes.
	OwnerCheck push.OwnerKind = "ntf.check"
)

// errStale aborts an update for a result about a device token the token
// no longer has.
var errStale = errors.New("ntf: result for a replaced device token")

// RouteResults registers the service with rt: the results of its own
// pushes (OwnerVerification, OwnerCheck), and every result, whoever sent
// the push, that declares the device token of a registration dead.
func (s *Service) RouteResults(rt *push.Router) error {
	if err := rt.Handle(OwnerVerification, s.handleOwnResult); err != nil {
		return err
	}
	if err := rt.Handle(OwnerCheck, s.handleOwnResult); err != nil {
		return err
	}
	rt.HandleDeadTokens(s.HandleDeadToken)
	return nil
}

// HandlePushResult applies a result the way a Router set up by
// RouteResults does: a dead device token makes the registration invalid
// (HandleDeadToken), an accepted verification push confirms the token,
// other failures of this package's pushes are logged. Results about a
// device token that was replaced since, or a deleted token, are ignored.
// It logs its own failures.
func (s *Service) HandlePushResult(ctx context.Context, r push.Result) {
	if r.TokenDead() {
		s.HandleDeadToken(ctx, r)
		return
	}
	s.handleOwnResult(ctx, r)
}

// handleOwnResult applies the outcome of a push this package sent,
// except for a dead device token.
func (s *Service) handleOwnResult(ctx context.Context, r push.Result) {
	n := r.Notification
	if n == nil || (n.Owner.Kind != OwnerVerification && n.Owner.Kind != OwnerCheck) {
		return
	}
	id, err := ParseTokenID(n.Owner.ID)
	if err != nil {
		return
	}
	switch {
	case r.OK() && n.Owner.Kind == OwnerVerification:
		s.applyResult(ctx, id, n.Token, func(t *Token) {
			if t.Status == StatusRegistered {
				t.Status = StatusConfirmed
			}
		})
	case !r.OK() && !r.TokenDead():
		s.log.WarnContext(ctx, "token push failed", "token_id", id, "owner", string(n.Owner.Kind),
			"class", r.Class.String(), "reason", string(r.Reason))
	}
}

// HandleDeadToken makes the token named by the notification's
// Registration invalid, with the provider's reason, when the result
// declares its device token dead: a push of any owner (verification,
// outbox, client queue) that learns the token is dead stops the others.
// A result about a device token replaced since is ignored.
func (s *Service) HandleDeadToken(ctx context.Context, r push.Result) {
	n := r.Notification
	if n == nil || !r.TokenDead() {
		return
	}
	id, err := ParseTokenID(n.Registration)
	if err != nil {
		return
	}
	s.log.InfoContext(ctx, "device token dead", "token_id", id, "owner", string(n.Owner.Kind), "reason", string(r.Reason))
	s.applyResult(ctx, id, n.Token, func(t *Token) {
		t.Status, t.InvalidReason, t.NextCheckAt = StatusInvalid, r.Reason, time.Time{}
	})
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
	if err != nil && !errors.Is(err, errStale) && !errors.Is(err, ErrTokenNotFound) {
		s.log.ErrorContext(ctx, "recording a push result", "token_id", id, "err", err)
	}
}
