package smpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrorCode is the first word of an SMP "ERR" response (§4.2). The values
// are the wire words and are stable: callers may store and compare them.
type ErrorCode string

// Error codes a current server can send.
const (
	CodeBlock     ErrorCode = "BLOCK"      // malformed block or transmission (often a missing v16 "0")
	CodeSession   ErrorCode = "SESSION"    // session id mismatch
	CodeCmd       ErrorCode = "CMD"        // command error, see CmdErrorCode
	CodeProxy     ErrorCode = "PROXY"      // proxy error (not used by notifiers)
	CodeAuth      ErrorCode = "AUTH"       // unknown notifier id, deleted queue, or wrong key: final
	CodeBlocked   ErrorCode = "BLOCKED"    // queue blocked by the operator (v >= 12)
	CodeService   ErrorCode = "SERVICE"    // service signature missing or not allowed
	CodeCrypto    ErrorCode = "CRYPTO"     // server-side crypto failure
	CodeQuota     ErrorCode = "QUOTA"      // quota exceeded
	CodeStore     ErrorCode = "STORE"      // server storage error, with text
	CodeNoMsg     ErrorCode = "NO_MSG"     // no message
	CodeLargeMsg  ErrorCode = "LARGE_MSG"  // message too large
	CodeExpired   ErrorCode = "EXPIRED"    // expired
	CodeInternal  ErrorCode = "INTERNAL"   // server fault
	CodeDuplicate ErrorCode = "DUPLICATE_" // internal to the server, should never be sent
)

// CmdErrorCode is the second word of "ERR CMD ...".
type CmdErrorCode string

// Command error codes. The legacy wire word NO_QUEUE parses as CmdNoEntity.
const (
	CmdUnknown    CmdErrorCode = "UNKNOWN"
	CmdSyntax     CmdErrorCode = "SYNTAX"
	CmdProhibited CmdErrorCode = "PROHIBITED"
	CmdNoAuth     CmdErrorCode = "NO_AUTH"
	CmdHasAuth    CmdErrorCode = "HAS_AUTH"
	CmdNoEntity   CmdErrorCode = "NO_ENTITY"
)

// ServerError is an SMP "ERR" from the server. Test for a code with
// errors.Is against the sentinels (ErrAuth, ErrCmd, ...) or read Code.
type ServerError struct {
	Code ErrorCode
	// Cmd is set for CodeCmd.
	Cmd CmdErrorCode
	// Detail is the raw text after the code for STORE, BLOCKED and PROXY
	// (and for codes this package does not know).
	Detail string
	// Blocked is set for CodeBlocked when Detail parses.
	Blocked *BlockedInfo
}

// BlockedInfo is the parameter of "ERR BLOCKED": "reason=spam|content"
// and, from v18, ",notice=<json>".
type BlockedInfo struct {
	Reason string
	Notice string // raw JSON, empty if absent
}

// Sentinels for errors.Is. A sentinel with only Code set matches any
// ServerError with that code; ErrCmd* sentinels also match the subcode.
var (
	ErrBlock     = &ServerError{Code: CodeBlock}
	ErrSession   = &ServerError{Code: CodeSession}
	ErrCmd       = &ServerError{Code: CodeCmd}
	ErrProxy     = &ServerError{Code: CodeProxy}
	ErrAuth      = &ServerError{Code: CodeAuth}
	ErrBlocked   = &ServerError{Code: CodeBlocked}
	ErrService   = &ServerError{Code: CodeService}
	ErrCrypto    = &ServerError{Code: CodeCrypto}
	ErrQuota     = &ServerError{Code: CodeQuota}
	ErrStore     = &ServerError{Code: CodeStore}
	ErrNoMsg     = &ServerError{Code: CodeNoMsg}
	ErrLargeMsg  = &ServerError{Code: CodeLargeMsg}
	ErrExpired   = &ServerError{Code: CodeExpired}
	ErrInternal  = &ServerError{Code: CodeInternal}
	ErrDuplicate = &ServerError{Code: CodeDuplicate}

	ErrCmdUnknown    = &ServerError{Code: CodeCmd, Cmd: CmdUnknown}
	ErrCmdSyntax     = &ServerError{Code: CodeCmd, Cmd: CmdSyntax}
	ErrCmdProhibited = &ServerError{Code: CodeCmd, Cmd: CmdProhibited}
	ErrCmdNoAuth     = &ServerError{Code: CodeCmd, Cmd: CmdNoAuth}
	ErrCmdHasAuth    = &ServerError{Code: CodeCmd, Cmd: CmdHasAuth}
	ErrCmdNoEntity   = &ServerError{Code: CodeCmd, Cmd: CmdNoEntity}
)

func (e *ServerError) Error() string { return "smp: server error: ERR " + e.Wire() }

// Is matches sentinels by code (and command subcode when the target has one).
func (e *ServerError) Is(target error) bool {
	t, ok := target.(*ServerError)
	if !ok {
		return false
	}
	return t.Code == e.Code && (t.Cmd == "" || t.Cmd == e.Cmd) && (t.Detail == "" || t.Detail == e.Detail)
}

// Permanent reports whether retrying the same command on a new connection
// cannot help. For NSUB the reference treats every ERR as final; AUTH is
// the common case (unknown or deleted queue, or a wrong key).
func (e *ServerError) Permanent() bool { return true }

// Wire returns the errorType text as sent after "ERR ".
func (e *ServerError) Wire() string {
	switch {
	case e.Code == CodeCmd:
		return string(e.Code) + " " + string(e.Cmd)
	case e.Detail != "":
		return string(e.Code) + " " + e.Detail
	}
	return string(e.Code)
}

// knownCode reports whether w is one of the error codes above.
func knownCode(w []byte) (ErrorCode, bool) {
	switch c := ErrorCode(w); c {
	case CodeBlock, CodeSession, CodeCmd, CodeProxy, CodeAuth, CodeBlocked, CodeService,
		CodeCrypto, CodeQuota, CodeStore, CodeNoMsg, CodeLargeMsg, CodeExpired, CodeInternal, CodeDuplicate:
		return c, true
	}
	return "", false
}

// ParseServerError decodes the errorType text after "ERR ". Unknown codes
// are kept with their raw text (Code = first word, Detail = the rest), so
// a newer server's errors still reach the caller.
func ParseServerError(b []byte) (*ServerError, error) {
	word, rest, hasRest := splitCommand(b)
	if len(word) == 0 {
		return nil, malformed("ERR: empty error type")
	}
	e := &ServerError{Code: ErrorCode(word)}
	code, known := knownCode(word)
	switch {
	case known && code == CodeCmd:
		if !hasRest {
			return nil, malformed("ERR CMD: missing subcode")
		}
		switch c := CmdErrorCode(rest); c {
		case CmdUnknown, CmdSyntax, CmdProhibited, CmdNoAuth, CmdHasAuth, CmdNoEntity:
			e.Cmd = c
		case "NO_QUEUE":
			e.Cmd = CmdNoEntity
		default:
			return nil, malformed(fmt.Sprintf("ERR CMD: unknown subcode %q", printable(rest, 16)))
		}
	case known && (code == CodeStore || code == CodeProxy || code == CodeBlocked):
		if len(rest) == 0 {
			return nil, malformed(fmt.Sprintf("ERR %s: missing parameter", code))
		}
		e.Detail = string(rest)
		if code == CodeBlocked {
			e.Blocked = parseBlockedInfo(e.Detail)
		}
	case known:
		if hasRest {
			return nil, malformed(fmt.Sprintf("ERR %s: unexpected parameters", code))
		}
	default:
		e.Detail = string(rest)
	}
	return e, nil
}

// parseBlockedInfo parses "reason=spam[,notice=<json>]", or returns nil.
func parseBlockedInfo(s string) *BlockedInfo {
	reason, notice, hasNotice := strings.Cut(s, ",notice=")
	r, ok := strings.CutPrefix(reason, "reason=")
	if !ok {
		return nil
	}
	bi := &BlockedInfo{Reason: r}
	if hasNotice {
		bi.Notice = notice
	}
	return bi
}

// Client-side errors.
var (
	// ErrClosed is returned by methods called after Close, and wrapped by
	// ConnError when the connection was closed locally.
	ErrClosed = errors.New("smp: client closed")
	// ErrKeepaliveTimeout means the server did not answer a keepalive PING.
	ErrKeepaliveTimeout = errors.New("smp: keepalive ping timed out")
	// ErrUnexpectedResponse means a response did not fit its command
	// (wrong entity, wrong response type).
	ErrUnexpectedResponse = errors.New("smp: unexpected response")
)

// KeyHashError means the server's identity certificate does not hash to
// the key hash in the server address: a different server, or a MITM.
type KeyHashError struct {
	Want KeyHash // from the address
	Got  KeyHash // SHA-256 of the certificate the server presented as identity
}

func (e *KeyHashError) Error() string {
	return fmt.Sprintf("smp: key hash mismatch: server identity certificate hashes to %s, address expects %s", e.Got, e.Want)
}

// VersionError means the client's and server's SMP version ranges do not
// overlap.
type VersionError struct {
	ServerMin, ServerMax uint16
	ClientMin, ClientMax uint16
	ALPN                 string // negotiated ALPN protocol, "" if none
}

func (e *VersionError) Error() string {
	msg := fmt.Sprintf("smp: version mismatch: server offers SMP %d..%d, client supports %d..%d",
		e.ServerMin, e.ServerMax, e.ClientMin, e.ClientMax)
	if e.ALPN == "" && e.ServerMax <= legacyVersionWithoutALPN {
		msg += " (no ALPN was negotiated, so the server fell back to legacy v6)"
	}
	return msg
}

// HandshakeError is a failure of the SMP handshake after TLS succeeded:
// a malformed server hello, a bad signature on the server key, or a
// session id mismatch.
type HandshakeError struct {
	Reason string // short, stable: "parse", "bad_auth", "identity", "session"
	Err    error
}

func (e *HandshakeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("smp: handshake %s: %v", e.Reason, e.Err)
	}
	return "smp: handshake " + e.Reason
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// ConnError is the sticky error of a connection that stopped: every
// pending and later call returns it. Err says why (io.EOF when the server
// closed, ErrClosed after Close, ErrKeepaliveTimeout, a malformed block).
type ConnError struct{ Err error }

func (e *ConnError) Error() string { return "smp: connection lost: " + e.Err.Error() }
func (e *ConnError) Unwrap() error { return e.Err }

// IsTemporary reports whether a command that failed with err may succeed
// if retried, on this or a new connection: connection loss, timeouts,
// cancellation and network errors. Server errors (ERR ...), unexpected
// responses and bad local input (keys, ids) are final.
func IsTemporary(err error) bool {
	var (
		ce *ConnError
		de *DialError
		ne net.Error
	)
	return errors.As(err, &ce) || errors.As(err, &de) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
