package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/rendezvous"
)

// paramError is a client mistake in a header, parameter or body: 400.
type paramError struct {
	code string // api.CodeInvalidParam or api.CodeMissingParam
	msg  string
}

func (e *paramError) Error() string { return e.msg }

func invalidParam(msg string) error { return &paramError{code: api.CodeInvalidParam, msg: msg} }
func missingParam(msg string) error { return &paramError{code: api.CodeMissingParam, msg: msg} }

// limitedError is a refusal for rate or capacity: 429 with a retry time.
type limitedError struct {
	msg        string
	retryAfter time.Duration
}

func (e *limitedError) Error() string { return e.msg }

// statusError answers with a fixed status and code.
type statusError struct {
	status int
	code   string
	msg    string
}

func (e *statusError) Error() string { return e.msg }

var (
	errBodyTooLarge   = errors.New("request body too large")
	errBodyUnreadable = errors.New("request body unreadable")
	errForbidden      = &statusError{http.StatusForbidden, api.CodeForbidden, "top-level navigation refused"}
	errUnrecognized   = &statusError{http.StatusNotFound, api.CodeUnrecognized, "unrecognized request"}
	// errNoExternalSender: this DS signs nothing (it runs without a
	// signing secret), so no group can list it.
	errNoExternalSender = &statusError{http.StatusNotFound, api.CodeNotFound, "this Delivery Service issues no proposals"}
)

// fullRetryAfter is what a client refused for lack of room is told to wait:
// sessions are short-lived, so room frees up within seconds.
const fullRetryAfter = 5 * time.Second

// errorResponse maps an error to its status and envelope. It is the one
// place that knows which error means which status.
func errorResponse(err error) (int, api.Error) {
	if pe, ok := errors.AsType[*paramError](err); ok {
		return http.StatusBadRequest, api.Error{ErrCode: pe.code, Error: pe.msg}
	}
	if le, ok := errors.AsType[*limitedError](err); ok {
		return http.StatusTooManyRequests, api.Error{ErrCode: api.CodeLimitExceeded, Error: le.msg, RetryAfterMs: retryMillis(le.retryAfter)}
	}
	if se, ok := errors.AsType[*statusError](err); ok {
		return se.status, api.Error{ErrCode: se.code, Error: se.msg}
	}
	if status, body, ok := tokenErrorResponse(err); ok {
		return status, body
	}
	if status, body, ok := deliveryErrorResponse(err); ok {
		return status, body
	}
	switch {
	case errors.Is(err, rendezvous.ErrNotFound):
		return http.StatusNotFound, api.Error{ErrCode: api.CodeNotFound, Error: "rendezvous session not found or expired"}
	case errors.Is(err, rendezvous.ErrContentType):
		return http.StatusBadRequest, api.Error{ErrCode: api.CodeInvalidParam, Error: fmt.Sprintf("Content-Type is longer than %d bytes", rendezvous.MaxContentType)}
	case errors.Is(err, rendezvous.ErrTooLarge), errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, api.Error{ErrCode: api.CodeTooLarge, Error: "payload too large"}
	case errors.Is(err, rendezvous.ErrFull):
		return http.StatusTooManyRequests, api.Error{ErrCode: api.CodeLimitExceeded, Error: "too many live rendezvous sessions", RetryAfterMs: retryMillis(fullRetryAfter)}
	case errors.Is(err, rendezvous.ErrConflict):
		return http.StatusConflict, api.Error{ErrCode: api.CodeConcurrentWrite, Error: "the session was changed by another write"}
	case errors.Is(err, errBodyUnreadable):
		return http.StatusBadRequest, api.Error{ErrCode: api.CodeInvalidParam, Error: "request body could not be read"}
	case errors.Is(err, rendezvous.ErrUnavailable):
		return http.StatusServiceUnavailable, api.Error{ErrCode: api.CodeUnavailable, Error: "storage temporarily unavailable"}
	}
	return http.StatusInternalServerError, api.Error{ErrCode: api.CodeUnknown, Error: "internal error"}
}

// pushRetryAfter is what a client refused because the push queue is full
// is told to wait: the dispatcher drains a full queue within seconds.
const pushRetryAfter = 5 * time.Second

// burntCodeRetryAfter is the wait a 429 for a burnt verification code
// names: retrying the code never helps (a replace does), so it is the
// per-token limit's period rather than a short pause.
const burntCodeRetryAfter = time.Minute

// tokenErrorResponse maps the errors of package ntf.
func tokenErrorResponse(err error) (int, api.Error, bool) {
	if fe, ok := errors.AsType[*ntf.FieldError](err); ok {
		return http.StatusBadRequest, api.Error{ErrCode: api.CodeInvalidParam, Error: fe.Error()}, true
	}
	switch {
	case errors.Is(err, ntf.ErrUnknownToken):
		return http.StatusUnauthorized, api.Error{ErrCode: api.CodeUnknownToken, Error: "unknown token or wrong secret"}, true
	case errors.Is(err, ntf.ErrWrongCode):
		return http.StatusForbidden, api.Error{ErrCode: api.CodeWrongCode, Error: "wrong verification code"}, true
	case errors.Is(err, ntf.ErrTooManyAttempts):
		return http.StatusTooManyRequests, api.Error{ErrCode: api.CodeLimitExceeded, RetryAfterMs: retryMillis(burntCodeRetryAfter),
			Error: "too many wrong codes: replace the device token to get a new verification push"}, true
	case errors.Is(err, ntf.ErrTokenInvalid):
		return http.StatusConflict, api.Error{ErrCode: api.CodeConflict, Error: "the token is invalid: replace the device token"}, true
	case errors.Is(err, ntf.ErrUnknownApp):
		return http.StatusBadRequest, api.Error{ErrCode: api.CodeInvalidParam, Error: unknownAppMessage(err)}, true
	case errors.Is(err, ntf.ErrTooManyPushes):
		return http.StatusTooManyRequests, api.Error{ErrCode: api.CodeLimitExceeded, Error: "pushes to this token are still waiting", RetryAfterMs: retryMillis(pushRetryAfter)}, true
	case errors.Is(err, ntf.ErrSubscriptionNotFound):
		return http.StatusNotFound, api.Error{ErrCode: api.CodeNotFound, Error: "subscription not found"}, true
	case errors.Is(err, ntf.ErrQueueNotFound):
		return http.StatusNotFound, api.Error{ErrCode: api.CodeNotFound, Error: "queue not found"}, true
	case errors.Is(err, ntf.ErrQueueTaken):
		return http.StatusConflict, api.Error{ErrCode: api.CodeConflict, Error: "the queue is subscribed already with other credentials"}, true
	case errors.Is(err, ntf.ErrPushUnavailable):
		return http.StatusServiceUnavailable, api.Error{ErrCode: api.CodeUnavailable, Error: "push delivery is busy", RetryAfterMs: retryMillis(pushRetryAfter)}, true
	}
	return 0, api.Error{}, false
}

func retryMillis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// OverloadResponse is the whole HTTP/1.1 response written to a connection
// refused for want of capacity, just before it is closed: 503 with the
// error envelope and a retry time.
func OverloadResponse() []byte {
	body, _ := json.Marshal(api.Error{ErrCode: api.CodeLimitExceeded, Error: "server busy: too many connections", RetryAfterMs: 1000})
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nRetry-After: 1\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// writeError answers with err's status and envelope.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status, body := errorResponse(err)
	writeErrorBody(w, r, logger, status, body, err)
}

// writeErrorBody answers with an error envelope. Errors that are not the
// client's doing are logged once, with the request ID; their text is never
// shown to the client.
func writeErrorBody(w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, body api.Error, err error) {
	if status >= http.StatusInternalServerError && !errors.Is(err, context.Canceled) {
		logger.ErrorContext(r.Context(), "request failed", "err", err, "request_id", requestID(r.Context()))
	}
	if body.RetryAfterMs > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(float64(body.RetryAfterMs)/1000)), 10))
	}
	w.Header().Set("Cache-Control", "no-store, no-transform")
	encode(w, r, logger, status, body)
}

// unknownAppMessage names the apps the push configuration has for the
// platform: a token's app is the id of one of them.
func unknownAppMessage(err error) string {
	var ue *ntf.UnknownAppError
	if !errors.As(err, &ue) {
		return "app: no push credentials configured for this platform and app"
	}
	if len(ue.Configured) == 0 {
		return fmt.Sprintf("app: no %s app is configured on this gateway", ue.Platform)
	}
	ids := make([]string, len(ue.Configured))
	for i, id := range ue.Configured {
		ids[i] = strconv.Quote(string(id))
	}
	return fmt.Sprintf("app: %q is not a configured %s app; configured: %s", ue.App, ue.Platform, strings.Join(ids, ", "))
}
