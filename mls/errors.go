package mls

import (
	"errors"
	"fmt"
	"strings"
)

// Error kinds. Every error returned by this package is an *Error whose Kind
// is one of these; use errors.Is(err, mls.ErrInvalidSignature) and so on.
var (
	// ErrMalformed: the bytes are not a valid encoding (truncated, trailing
	// bytes, non-minimal length, unknown enum value where one cannot be
	// skipped, ...).
	ErrMalformed = errors.New("mls: malformed encoding")
	// ErrUnsupported: a protocol version, cipher suite or credential type this
	// package does not implement.
	ErrUnsupported = errors.New("mls: unsupported")
	// ErrInvalidSignature: a signature does not verify.
	ErrInvalidSignature = errors.New("mls: invalid signature")
	// ErrInvalidTree: a ratchet tree is inconsistent (tree hash, parent hash,
	// unmerged leaves, duplicate keys, shape).
	ErrInvalidTree = errors.New("mls: invalid ratchet tree")
	// ErrInvalidLeafNode: a LeafNode fails validation (RFC 9420 7.3).
	ErrInvalidLeafNode = errors.New("mls: invalid leaf node")
	// ErrInvalidKeyPackage: a KeyPackage fails validation (RFC 9420 10.1).
	ErrInvalidKeyPackage = errors.New("mls: invalid key package")
	// ErrInvalidProposal: a proposal or a proposal list fails validation
	// (RFC 9420 12.1, 12.2).
	ErrInvalidProposal = errors.New("mls: invalid proposal")
	// ErrInvalidCommit: a commit fails validation (RFC 9420 12.4).
	ErrInvalidCommit = errors.New("mls: invalid commit")
	// ErrInvalidMessage: a framed message is well-formed but not acceptable
	// (wrong group, wrong sender, wrong content type for the wire format...).
	ErrInvalidMessage = errors.New("mls: invalid message")
	// ErrWrongEpoch: the message is for another epoch.
	ErrWrongEpoch = errors.New("mls: wrong epoch")
	// ErrUnknownProposal: a commit references a proposal this group has not
	// seen in the current epoch.
	ErrUnknownProposal = errors.New("mls: unknown proposal reference")
	// ErrGroupInfoMismatch: a GroupInfo does not match the state this package
	// computed.
	ErrGroupInfoMismatch = errors.New("mls: group info does not match computed state")
	// ErrStaleCommit: a staged commit no longer applies (the group moved on).
	ErrStaleCommit = errors.New("mls: staged commit is stale")
)

// Error is the error type of this package.
type Error struct {
	Kind error  // one of the Err* kinds above
	Op   string // what was being done, e.g. "decode KeyPackage"
	Msg  string // detail
	Err  error  // underlying cause, if any
}

func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Op != "" {
		s += ": " + e.Op
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		inner := e.Err.Error()
		if ie, ok := e.Err.(*Error); ok && ie.Kind == e.Kind {
			// Avoid repeating the kind.
			inner = strings.TrimPrefix(inner, e.Kind.Error()+": ")
		}
		s += ": " + inner
	}
	return s
}

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

func errorf(kind error, op, format string, args ...any) *Error {
	return &Error{Kind: kind, Op: op, Msg: fmt.Sprintf(format, args...)}
}

// wrap adds a layer of context to err: the result matches kind and,
// through the chain, every kind below it.
func wrap(kind error, op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: kind, Op: op, Err: err}
}
