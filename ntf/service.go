package ntf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/trystgw/tryst/push"
)

// Pusher queues a notification for delivery; *push.Dispatcher is one.
// The outcome comes back later through Service.HandlePushResult.
type Pusher interface {
	Enqueue(ctx context.Context, n *push.Notification) error
}

// Sealer encrypts secrets at rest, binding each to associated data (the
// token id); *masterkey.Key is one.
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// DefaultMaxFailedAttempts bounds wrong codes per verification code. A
// code is 256 random bits, so guessing is hopeless anyway; the cap keeps
// a leaked secret from being used to hammer the store.
const DefaultMaxFailedAttempts = 5

// Config tunes a Service. The zero value takes the defaults.
type Config struct {
	// MaxFailedAttempts is how many wrong codes burn the current code.
	// Default DefaultMaxFailedAttempts.
	MaxFailedAttempts int
	// Routes are the platform/app pairs pushes can be sent for (a route
	// with an empty App takes every app of its platform); registration
	// for others fails with an *UnknownAppError. Nil accepts every app.
	Routes []push.Route
	// Now defaults to time.Now.
	Now func() time.Time
}

// Service registers, verifies and maintains push tokens. It is safe for
// concurrent use.
type Service struct {
	store  TokenStore
	sealer Sealer
	pusher Pusher
	log    *slog.Logger
	cfg    Config
	// dummyHash is compared against when the id is unknown, so an unknown
	// id costs the same work as a wrong secret.
	dummyHash Hash
	// absentID is looked up in place of a malformed id, so a malformed id
	// costs the store work of an unknown one. It is random: no token has
	// it.
	absentID TokenID
}

// NewService returns a Service over store, sealing server keys with
// sealer and sending verification pushes through pusher.
func NewService(store TokenStore, sealer Sealer, pusher Pusher, logger *slog.Logger, cfg Config) *Service {
	if cfg.MaxFailedAttempts <= 0 {
		cfg.MaxFailedAttempts = DefaultMaxFailedAttempts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: store, sealer: sealer, pusher: pusher, log: logger, cfg: cfg, dummyHash: NewSecret().Hash(), absentID: NewTokenID()}
}

// checkApp returns an *UnknownAppError unless a route serves the app.
func (s *Service) checkApp(p push.Platform, app AppID) error {
	if s.cfg.Routes == nil {
		return nil
	}
	var configured []AppID
	for _, r := range s.cfg.Routes {
		if r.Platform != p {
			continue
		}
		if r.App == "" || AppID(r.App) == app {
			return nil
		}
		configured = append(configured, AppID(r.App))
	}
	slices.Sort(configured)
	return &UnknownAppError{Platform: p, App: app, Configured: configured}
}

// Registration is what an app registers: a parsed request.
type Registration struct {
	Platform    push.Platform
	App         AppID
	Environment push.Environment
	DeviceToken push.DeviceToken
	DHKey       DHKey
}

// Credentials are what a request presents: the token id from the path and
// the bearer secret, both as received.
type Credentials struct {
	ID     string
	Secret string
}

// FieldError is a request field that does not parse, found by the
// service because parsing needs the stored token (a device token's form
// depends on the token's platform).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Register stores a new token in status registered and queues its
// verification push. It returns the token and its bearer secret, which
// is not kept and cannot be shown again. Errors: ErrUnknownApp,
// ErrPushUnavailable (nothing is stored then), or a store error.
func (s *Service) Register(ctx context.Context, r Registration) (Token, Secret, error) {
	if err := s.checkApp(r.Platform, r.App); err != nil {
		return Token{}, "", err
	}
	now := s.cfg.Now()
	serverPub, serverPriv := newKeyPair()
	id, secret, code := NewTokenID(), NewSecret(), newCode()
	t := Token{
		ID: id, Platform: r.Platform, App: r.App, Environment: r.Environment, DeviceToken: r.DeviceToken,
		DHKey: r.DHKey, ServerPublicKey: serverPub, ServerKeySealed: s.sealer.Seal(serverPriv[:], []byte(id)),
		SecretHash: secret.Hash(), CodeHash: code.Hash(), Status: StatusRegistered, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.Create(ctx, t); err != nil {
		return Token{}, "", fmt.Errorf("register: %w", err)
	}
	if err := s.sendVerification(ctx, t, code); err != nil {
		if derr := s.store.Delete(context.WithoutCancel(ctx), id); derr != nil {
			s.log.WarnContext(ctx, "token left behind after failed verification push", "token_id", id, "err", derr)
		}
		return Token{}, "", fmt.Errorf("register: %w", err)
	}
	return t, secret, nil
}

// Authenticate returns the token c names if c's secret is right, and an
// error wrapping ErrUnknownToken otherwise. A malformed id, an unknown id
// and a wrong secret do the same work and fail alike.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (Token, error) {
	presented := Secret(c.Secret).Hash()
	t, err := s.lookup(ctx, c.ID)
	want := s.dummyHash
	if err == nil {
		want = t.SecretHash
	}
	ok := presented.equal(want) // compared whatever the lookup found
	switch {
	case errors.Is(err, ErrTokenNotFound):
		return Token{}, ErrUnknownToken
	case err != nil:
		return Token{}, fmt.Errorf("authenticate: %w", err)
	case !ok:
		return Token{}, ErrUnknownToken
	}
	return t, nil
}

// lookup returns the token with the raw id; a malformed id is not found,
// after the same store work as an unknown one.
func (s *Service) lookup(ctx context.Context, rawID string) (Token, error) {
	return s.store.Get(ctx, s.parseOrAbsent(rawID))
}

// parseOrAbsent returns the id rawID names, or, for a malformed one, an
// id no token has.
func (s *Service) parseOrAbsent(rawID string) TokenID {
	id, err := ParseTokenID(rawID)
	if err != nil {
		return s.absentID
	}
	return id
}

// update authenticates c and applies fn to the token atomically, checking
// the secret on the row Update reads rather than reading the token twice.
// Like Authenticate, a malformed id, an unknown id and a wrong secret do
// the same work and fail alike with ErrUnknownToken.
func (s *Service) update(ctx context.Context, c Credentials, fn func(*Token) error) (Token, error) {
	presented := Secret(c.Secret).Hash()
	t, err := s.store.Update(ctx, s.parseOrAbsent(c.ID), func(t *Token) error {
		if !presented.equal(t.SecretHash) {
			return ErrUnknownToken
		}
		if err := fn(t); err != nil {
			return err
		}
		t.UpdatedAt = s.cfg.Now()
		return nil
	})
	if errors.Is(err, ErrTokenNotFound) {
		presented.equal(s.dummyHash)
		return Token{}, ErrUnknownToken
	}
	return t, err
}

// Verify checks the code from the verification push and makes the token
// active. A repeated correct code is accepted again. Errors:
// ErrUnknownToken, ErrWrongCode (the failure is counted),
// ErrTooManyAttempts, ErrTokenInvalid.
func (s *Service) Verify(ctx context.Context, c Credentials, code Code) (Token, error) {
	wrong := false
	t, err := s.update(ctx, c, func(t *Token) error {
		wrong = false // a store may run fn more than once
		switch {
		case t.Status == StatusInvalid:
			return ErrTokenInvalid
		case t.FailedAttempts >= s.cfg.MaxFailedAttempts:
			return ErrTooManyAttempts
		case !code.Hash().equal(t.CodeHash):
			t.FailedAttempts++
			wrong = true
		case t.Status != StatusActive:
			t.Status, t.FailedAttempts = StatusActive, 0
			t.NextCheckAt = s.nextCheck(t.CheckInterval)
		}
		return nil
	})
	if err == nil && wrong {
		err = ErrWrongCode
	}
	if err != nil {
		return Token{}, fmt.Errorf("verify: %w", err)
	}
	return t, nil
}

// Replace gives the token a new device token (the OS rotated it), keeping
// its id, secret, keys and subscriptions. The token goes back to
// registered and a new verification push is queued. The code is sealed
// before anything is stored, so a server key that does not open changes
// nothing. Errors: ErrUnknownToken, a *FieldError for a malformed device
// token, ErrPushUnavailable or ErrTooManyPushes (the token is replaced;
// the client may retry).
func (s *Service) Replace(ctx context.Context, c Credentials, deviceToken string) (Token, error) {
	code := newCode()
	var data map[string]string
	t, err := s.update(ctx, c, func(t *Token) error {
		dt, err := push.ParseDeviceToken(t.Platform, deviceToken)
		if err != nil {
			return &FieldError{Field: "device_token", Err: err}
		}
		if data, err = s.sealCode(*t, code); err != nil {
			return err
		}
		t.DeviceToken, t.Status, t.InvalidReason = dt, StatusRegistered, ""
		t.CodeHash, t.FailedAttempts, t.NextCheckAt = code.Hash(), 0, time.Time{}
		return nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("replace: %w", err)
	}
	if err := s.queueVerification(ctx, t, data); err != nil {
		return Token{}, fmt.Errorf("replace: %w", err)
	}
	return t, nil
}

// SetChecks sets the period of background "check messages" pushes (0
// turns them off; see ParseCheckInterval). They flow while the token is
// active, the first one interval from now. Errors: ErrUnknownToken.
func (s *Service) SetChecks(ctx context.Context, c Credentials, interval time.Duration) (Token, error) {
	t, err := s.update(ctx, c, func(t *Token) error {
		t.CheckInterval, t.NextCheckAt = interval, time.Time{}
		if t.Status == StatusActive {
			t.NextCheckAt = s.nextCheck(interval)
		}
		return nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("set checks: %w", err)
	}
	return t, nil
}

// Delete removes the token. Errors: ErrUnknownToken.
func (s *Service) Delete(ctx context.Context, c Credentials) error {
	t, err := s.Authenticate(ctx, c)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, t.ID); err != nil {
		if errors.Is(err, ErrTokenNotFound) {
			return ErrUnknownToken
		}
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// nextCheck is when the first periodic push after now is due (zero when
// checks are off).
func (s *Service) nextCheck(interval time.Duration) time.Time {
	if interval <= 0 {
		return time.Time{}
	}
	return s.cfg.Now().Add(interval)
}
