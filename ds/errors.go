package ds

import "errors"

// Errors returned by Service.Handle for a request that is not processed
// (no DSResponse; the HTTP layer answers 4xx), and by Store methods.
// Test with errors.Is.
var (
	// ErrMalformed: the bytes are not a DSMessage or a request body of
	// its type (truncated, trailing bytes, unknown enum value, ...).
	ErrMalformed = errors.New("ds: malformed message")
	// ErrTooLarge: the DSMessage exceeds MaxMessageSize.
	ErrTooLarge = errors.New("ds: message too large")
	// ErrGroupNotFound: no group has the request's group id.
	ErrGroupNotFound = errors.New("ds: group not found")
	// ErrUnknownSender: the sender id names no member this request may
	// come from.
	ErrUnknownSender = errors.New("ds: unknown sender")
	// ErrBadSignature: the DSMessage signature does not verify.
	ErrBadSignature = errors.New("ds: bad signature")
	// ErrUnknownRequest: the request type is not one of RequestType's.
	ErrUnknownRequest = errors.New("ds: unknown request type")

	// ErrGroupExists: Store.Create for a group id in use.
	ErrGroupExists = errors.New("ds: group exists")
	// ErrConflict: Store.Update or Delete named a version that is not the
	// stored one (another instance changed the group first).
	ErrConflict = errors.New("ds: concurrent change")
)
