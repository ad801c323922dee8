package push

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Class groups failures by what the caller should do about them.
type Class uint8

// The classes.
const (
	// ClassNone: no error, the provider accepted the notification.
	ClassNone Class = iota
	// ClassToken: the device token is permanently unusable (see Reason:
	// bad_token, wrong_topic, expired, unregistered). Stop using it.
	ClassToken
	// ClassPayload: this notification can never be delivered as built
	// (too large, malformed field). Do not retry it.
	ClassPayload
	// ClassCredential: the app's credentials or configuration were
	// rejected (revoked key, bad certificate, wrong topic). The token is
	// fine; retry after the operator fixes the credentials.
	ClassCredential
	// ClassRetryable: a transient failure (rate limited, provider
	// unavailable, network). The dispatcher retries these itself; a
	// Result of this class means retries were exhausted.
	ClassRetryable
	// ClassExpired: the notification's Expiration passed before it was
	// delivered.
	ClassExpired
	// ClassShutdown: the dispatcher was closed before the notification
	// finished. It may or may not have been delivered; retry it after
	// restart.
	ClassShutdown
)

// String returns the class name used in logs.
func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassToken:
		return "token"
	case ClassPayload:
		return "payload"
	case ClassCredential:
		return "credential"
	case ClassRetryable:
		return "retryable"
	case ClassExpired:
		return "expired"
	case ClassShutdown:
		return "shutdown"
	}
	return "invalid"
}

// Reason is the specific failure, used as the metrics label.
type Reason string

// The reasons, by class.
const (
	// ClassToken.
	ReasonBadToken     Reason = "bad_token"    // malformed, or for the other environment
	ReasonWrongTopic   Reason = "wrong_topic"  // token belongs to another app/sender
	ReasonTokenExpired Reason = "expired"      // APNs 410 ExpiredToken
	ReasonUnregistered Reason = "unregistered" // app uninstalled / token revoked

	// ClassRetryable.
	ReasonRateLimited Reason = "rate_limited"
	ReasonUnavailable Reason = "unavailable"
	ReasonNetwork     Reason = "network"

	// ClassCredential.
	ReasonCredential  Reason = "credential"
	ReasonCircuitOpen Reason = "circuit_open"

	// ClassPayload.
	ReasonPayload         Reason = "payload"
	ReasonPayloadTooLarge Reason = "payload_too_large"

	// ClassExpired.
	ReasonNotificationExpired Reason = "notification_expired"

	// ClassShutdown.
	ReasonShutdown Reason = "shutdown"
)

// Error is a classified push failure. Adapters return *Error from Send;
// the dispatcher puts one in every failed Result.
type Error struct {
	Class  Class
	Reason Reason
	// Provider names the adapter ("apns", "fcm"); empty for errors raised
	// by the dispatcher.
	Provider string
	// ProviderReason is the provider's own code, e.g. "BadDeviceToken" or
	// "UNREGISTERED".
	ProviderReason string
	// Status is the provider's HTTP status, 0 if there was no response.
	Status int
	// Timestamp is, for APNs 410 answers, when Apple last confirmed the
	// token was invalid for the topic.
	Timestamp time.Time
	// RetryAfter is the provider's Retry-After, 0 if none.
	RetryAfter time.Duration
	// Message is the provider's human-readable message, if any.
	Message string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("push")
	if e.Provider != "" {
		b.WriteString(" ")
		b.WriteString(e.Provider)
	}
	b.WriteString(": ")
	b.WriteString(string(e.Reason))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (%d", e.Status)
		if e.ProviderReason != "" {
			b.WriteString(" ")
			b.WriteString(e.ProviderReason)
		}
		b.WriteString(")")
	} else if e.ProviderReason != "" {
		b.WriteString(" (")
		b.WriteString(e.ProviderReason)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying the same notification may succeed.
func (e *Error) Temporary() bool { return e.Class == ClassRetryable }

// Sentinel errors, matched with errors.Is.
var (
	// ErrQueueFull: the route's queue holds DispatcherConfig.QueueSize
	// unfinished notifications. Nothing was enqueued.
	ErrQueueFull = errors.New("push: queue full")
	// ErrRegistrationBusy: the notification's Registration already has
	// DispatcherConfig.MaxPerRegistration unfinished notifications on the
	// route. Nothing was enqueued.
	ErrRegistrationBusy = errors.New("push: too many unfinished notifications for this registration")
	// ErrClosed: the dispatcher is closed (or closing). Nothing was
	// enqueued.
	ErrClosed = errors.New("push: dispatcher closed")
	// ErrNoRoute: no sender is configured for the notification's platform
	// and app.
	ErrNoRoute = errors.New("push: no sender for this platform and app")
	// ErrCircuitOpen: the route's circuit breaker is open after credential
	// failures; returned (wrapped in a ClassCredential *Error) by Enqueue
	// and in Results.
	ErrCircuitOpen = errors.New("push: circuit open after credential failures")
	// ErrExpired: the notification's expiration passed.
	ErrExpired = errors.New("push: notification expired")
	// ErrShutdown: the dispatcher gave up on the notification at Close.
	ErrShutdown = errors.New("push: dispatcher shut down before delivery")
)

// AsError returns err as a *Error if it is or wraps one.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// ClassOf classifies err. nil is ClassNone; a *Error anywhere in the
// chain gives its class; the sentinels map to their classes; context
// deadline errors are retryable; anything else unknown is ClassRetryable
// (the dispatcher retries it a bounded number of times).
func ClassOf(err error) Class {
	if err == nil {
		return ClassNone
	}
	if e, ok := AsError(err); ok {
		return e.Class
	}
	if c, _, ok := sentinelKind(err); ok {
		return c
	}
	return ClassRetryable
}

// ReasonOf returns the Reason of err ("" for nil; "network" for
// unclassified errors).
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	if e, ok := AsError(err); ok {
		return e.Reason
	}
	if _, r, ok := sentinelKind(err); ok {
		return r
	}
	return ReasonNetwork
}

// sentinelKind gives the class and reason of the package's sentinel
// errors, so ClassOf and ReasonOf cannot disagree about them.
func sentinelKind(err error) (Class, Reason, bool) {
	switch {
	case errors.Is(err, ErrExpired):
		return ClassExpired, ReasonNotificationExpired, true
	case errors.Is(err, ErrShutdown), errors.Is(err, ErrClosed):
		return ClassShutdown, ReasonShutdown, true
	case errors.Is(err, ErrCircuitOpen):
		return ClassCredential, ReasonCircuitOpen, true
	}
	return ClassNone, "", false
}

// IsTokenDead reports whether err says the device token will never work
// again, so the token service should delete it.
func IsTokenDead(err error) bool { return ClassOf(err) == ClassToken }

// TokenError returns a ClassToken error.
func TokenError(reason Reason, provider, providerReason string, status int) *Error {
	return &Error{Class: ClassToken, Reason: reason, Provider: provider, ProviderReason: providerReason, Status: status}
}

// RetryableError returns a ClassRetryable error.
func RetryableError(reason Reason, provider string, retryAfter time.Duration, err error) *Error {
	return &Error{Class: ClassRetryable, Reason: reason, Provider: provider, RetryAfter: retryAfter, Err: err}
}

// ParseRetryAfter reads a provider's Retry-After header value,
// delta-seconds or an HTTP date, as a wait from now (0 if absent,
// malformed or already past).
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	for _, layout := range httpDateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	return 0
}

// httpDateLayouts are the HTTP-date forms of RFC 9110 §5.6.7 (as
// net/http's ParseTime reads them; the domain keeps clear of net/http).
var httpDateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT", // IMF-fixdate
	time.RFC850,
	time.ANSIC,
}

// CredentialError returns a ClassCredential error.
func CredentialError(provider, providerReason string, status int, err error) *Error {
	return &Error{Class: ClassCredential, Reason: ReasonCredential, Provider: provider, ProviderReason: providerReason, Status: status, Err: err}
}

// PayloadError returns a ClassPayload error.
func PayloadError(provider, providerReason string, status int, err error) *Error {
	return &Error{Class: ClassPayload, Reason: ReasonPayload, Provider: provider, ProviderReason: providerReason, Status: status, Err: err}
}

func payloadErrorf(format string, args ...any) *Error {
	return &Error{Class: ClassPayload, Reason: ReasonPayload, Err: fmt.Errorf("push: invalid notification: "+format, args...)}
}

// ContextError classifies an error from a send whose context ended: a
// deadline is a retryable network failure, a cancellation is shutdown.
func ContextError(provider string, err error) *Error {
	if errors.Is(err, context.Canceled) {
		return &Error{Class: ClassShutdown, Reason: ReasonShutdown, Provider: provider, Err: err}
	}
	return &Error{Class: ClassRetryable, Reason: ReasonNetwork, Provider: provider, Err: err}
}
