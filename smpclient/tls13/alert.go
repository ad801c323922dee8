package tls13

import (
	"errors"
	"fmt"
)

// alert is a TLS alert description (RFC 8446 §6).
type alert uint8

const (
	alertCloseNotify           alert = 0
	alertUnexpectedMessage     alert = 10
	alertBadRecordMAC          alert = 20
	alertRecordOverflow        alert = 22
	alertHandshakeFailure      alert = 40
	alertBadCertificate        alert = 42
	alertUnsupportedCert       alert = 43
	alertIllegalParameter      alert = 47
	alertDecodeError           alert = 50
	alertDecryptError          alert = 51
	alertProtocolVersion       alert = 70
	alertInternalError         alert = 80
	alertUserCanceled          alert = 90
	alertMissingExtension      alert = 109
	alertUnsupportedExtension  alert = 110
	alertNoApplicationProtocol alert = 120
)

var alertNames = map[alert]string{
	alertCloseNotify:           "close_notify",
	alertUnexpectedMessage:     "unexpected_message",
	alertBadRecordMAC:          "bad_record_mac",
	alertRecordOverflow:        "record_overflow",
	alertHandshakeFailure:      "handshake_failure",
	alertBadCertificate:        "bad_certificate",
	alertUnsupportedCert:       "unsupported_certificate",
	alertIllegalParameter:      "illegal_parameter",
	alertDecodeError:           "decode_error",
	alertDecryptError:          "decrypt_error",
	alertProtocolVersion:       "protocol_version",
	alertInternalError:         "internal_error",
	alertUserCanceled:          "user_canceled",
	alertMissingExtension:      "missing_extension",
	alertUnsupportedExtension:  "unsupported_extension",
	alertNoApplicationProtocol: "no_application_protocol",
}

func (a alert) String() string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return fmt.Sprintf("alert(%d)", uint8(a))
}

// AlertError is a fatal alert the server sent.
type AlertError struct {
	Code uint8
}

func (e *AlertError) Error() string {
	msg := "tls13: server sent alert " + alert(e.Code).String()
	if alert(e.Code) == alertProtocolVersion {
		msg += ": it does not speak TLS 1.3"
	}
	return msg
}

// Unwrap makes a protocol_version alert match ErrNotTLS13: the server
// refused the only version offered.
func (e *AlertError) Unwrap() error {
	if alert(e.Code) == alertProtocolVersion {
		return ErrNotTLS13
	}
	return nil
}

// Errors a caller may want to tell apart. Each is wrapped with details.
var (
	// ErrNotTLS13 means the server answered with TLS 1.2 or older.
	ErrNotTLS13 = errors.New("tls13: server does not speak TLS 1.3")
	// ErrBadCertificateVerify means the handshake signature did not
	// verify with the leaf certificate's key.
	ErrBadCertificateVerify = errors.New("tls13: server CertificateVerify signature does not verify")
	// ErrBadFinished means the server Finished MAC was wrong.
	ErrBadFinished = errors.New("tls13: server Finished does not verify")
	// ErrRecordOverflow means a record was longer than TLS allows.
	ErrRecordOverflow = errors.New("tls13: record too long")
	// ErrBadRecordMAC means a record did not decrypt.
	ErrBadRecordMAC = errors.New("tls13: record does not decrypt")
	// ErrTruncated means the connection ended in the middle of a record.
	ErrTruncated = errors.New("tls13: connection ended in the middle of a record")
	// ErrUnsupportedKey means the leaf certificate's key is neither
	// Ed25519 nor Ed448.
	ErrUnsupportedKey = errors.New("tls13: leaf certificate key is neither Ed25519 nor Ed448")
)

// localError is a failure detected here: the alert to send the server
// and what to tell the caller.
type localError struct {
	alert alert
	err   error
}

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// fail returns a localError with a formatted message.
func fail(a alert, format string, args ...any) error {
	return &localError{alert: a, err: fmt.Errorf("tls13: "+format, args...)}
}

// failWith wraps err (a sentinel or the certificate check's error).
func failWith(a alert, err error, format string, args ...any) error {
	return &localError{alert: a, err: fmt.Errorf("%w: "+format, append([]any{err}, args...)...)}
}

// decodeError reports a malformed handshake message.
func decodeError(what string) error { return fail(alertDecodeError, "malformed %s", what) }
