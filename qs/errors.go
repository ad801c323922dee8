package qs

import "errors"

// Errors returned by Service and Store methods; test with errors.Is.
var (
	// ErrNotFound: no queue has this id (Store only; the Service answers
	// ErrUnknownQueue so ids cannot be probed).
	ErrNotFound = errors.New("qs: queue not found")
	// ErrExists: a queue with this id exists already.
	ErrExists = errors.New("qs: queue exists")
	// ErrUnknownQueue: the id is unknown or malformed, or the secret is
	// wrong or missing.
	ErrUnknownQueue = errors.New("qs: unknown queue or wrong secret")
	// ErrTokenNotActive: the push token to link has not been verified.
	ErrTokenNotActive = errors.New("qs: push token is not active")
)
