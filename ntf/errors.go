package ntf

import (
	"errors"
	"fmt"

	"github.com/trystgw/tryst/push"
)

// Errors returned by Service and TokenStore methods. Callers test for them with
// errors.Is.
var (
	// ErrTokenNotFound: no token has this id (TokenStore only; the Service answers
	// ErrUnknownToken so ids cannot be probed).
	ErrTokenNotFound = errors.New("ntf: token not found")
	// ErrTokenExists: a token with this id already exists (TokenStore.Create).
	ErrTokenExists = errors.New("ntf: token already exists")
	// ErrUnknownToken: the id is unknown or malformed, or the secret is
	// wrong or missing. The two cases are not told apart.
	ErrUnknownToken = errors.New("ntf: unknown token or wrong secret")
	// ErrWrongCode: the verification code does not match.
	ErrWrongCode = errors.New("ntf: wrong verification code")
	// ErrTooManyAttempts: the token's current verification code failed too
	// often and no longer verifies; replacing the device token (even with
	// the same value) sends a new code.
	ErrTooManyAttempts = errors.New("ntf: too many failed verification attempts")
	// ErrTokenInvalid: the provider declared the device token dead; it
	// cannot be verified until it is replaced.
	ErrTokenInvalid = errors.New("ntf: token is invalid")
	// ErrUnknownApp: no push credentials are configured for the platform
	// and app.
	ErrUnknownApp = errors.New("ntf: no push credentials for this platform and app")
	// ErrPushUnavailable: the verification push could not be queued (the
	// push queue is full or closing); the client may retry later.
	ErrPushUnavailable = errors.New("ntf: push delivery unavailable")
	// ErrTooManyPushes: the token already has its share of the push
	// queue waiting; the client may retry once those are sent.
	ErrTooManyPushes = errors.New("ntf: too many pushes waiting for this token")
)

// UnknownAppError is ErrUnknownApp with the app ids that are configured
// for the platform, so the client learns what to send instead.
type UnknownAppError struct {
	Platform   push.Platform
	App        AppID
	Configured []AppID
}

func (e *UnknownAppError) Error() string {
	return fmt.Sprintf("ntf: no push credentials for %s app %q (configured: %v)", e.Platform, e.App, e.Configured)
}

// Is makes errors.Is(err, ErrUnknownApp) hold.
func (e *UnknownAppError) Is(target error) bool { return target == ErrUnknownApp }
