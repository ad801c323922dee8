// Package api holds the JSON wire types of the gateway's REST API, its
// error codes, and the rendezvous flavours with their default mounts. It
// is the contract that openapi.yaml describes, and all that a black-box
// client such as package conformance needs: error codes are never
// renamed or reused, because clients branch on them.
package api

// Error is the envelope of every error response, the Matrix convention.
type Error struct {
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
	// RetryAfterMs is set on 429 responses.
	RetryAfterMs int64 `json:"retry_after_ms,omitempty"`
	// MSC4108ErrCode repeats ErrCode on the msc4108 rendezvous flavour,
	// whose clients read the namespaced field.
	MSC4108ErrCode string `json:"org.matrix.msc4108.errcode,omitempty"`
}

// Error codes. Part of the contract: documented in openapi.yaml.
const (
	CodeNotFound        = "M_NOT_FOUND"        // unknown or expired resource
	CodeInvalidParam    = "M_INVALID_PARAM"    // a malformed header, parameter or body
	CodeMissingParam    = "M_MISSING_PARAM"    // a required header, parameter or field is absent
	CodeTooLarge        = "M_TOO_LARGE"        // the body exceeds the limit
	CodeLimitExceeded   = "M_LIMIT_EXCEEDED"   // rate limited or too many live sessions
	CodeForbidden       = "M_FORBIDDEN"        // refused by policy
	CodeConcurrentWrite = "M_CONCURRENT_WRITE" // a conditional write named a stale version
	CodeUnrecognized    = "M_UNRECOGNIZED"     // unknown route or method not allowed
	CodeUnavailable     = "M_UNAVAILABLE"      // a backing store cannot be reached
	CodeUnknown         = "M_UNKNOWN"          // an internal error
)

// ErrorCodes returns every error code of the API, the list openapi.yaml
// documents. A test in this package checks that it names every Code
// constant.
func ErrorCodes() []string {
	return []string{
		CodeNotFound, CodeInvalidParam, CodeMissingParam, CodeTooLarge, CodeLimitExceeded, CodeForbidden,
		CodeConcurrentWrite, CodeUnrecognized, CodeUnavailable, CodeUnknown,
		CodeUnknownToken, CodeWrongCode, CodeConflict,
		CodeUnknownQueue,
	}
}
