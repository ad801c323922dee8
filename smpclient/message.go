package smpclient

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Server-to-client commands (§4.1), in the command (Tail) position of a
// transmission:
//
//	"OK"                                     NSUB success before v16
//	"SOK" SP Maybe(shortString serviceId)    NSUB success from v16 ("SOK 0")
//	"PONG"                                   answer to PING, empty entity
//	"NMSG" SP nonce(24) shortString(encMeta) event, entity = notifierId
//	"END"                                    event: subscription taken over
//	"DELD"                                   event (v >= 10): queue or credentials deleted
//	"ERR" SP errorType                       §4.2
//	"SOKS" SP Int64                          service subscription (tolerated)
//	"ENDS" SP Int64                          service subscription ended (tolerated)
const (
	NonceSize = 24 // CbNonce, no length prefix
	// MaxEncMetaSize bounds NMSG metadata (a shortString, so 255 at most).
	MaxEncMetaSize = MaxShortString
)

var (
	cmdOK   = []byte("OK")
	cmdSOK  = []byte("SOK")
	cmdPONG = []byte("PONG")
	cmdNMSG = []byte("NMSG")
	cmdEND  = []byte("END")
	cmdDELD = []byte("DELD")
	cmdERR  = []byte("ERR")
	cmdSOKS = []byte("SOKS")
	cmdENDS = []byte("ENDS")

	// Client commands.
	cmdNSUB = []byte("NSUB")
	cmdPING = []byte("PING")
)

// ErrUnsupported reports a well-formed message this package does not handle.
var ErrUnsupported = errors.New("smp: unsupported")

// Message is a command received from the server. The set is closed:
// OK, SOK, Pong, NMSG, END, DELD, ERR, SOKS and ENDS. Use a type switch.
type Message interface {
	isMessage()
	// AppendWire appends the command's wire form (for servers and tests).
	AppendWire(dst []byte) []byte
}

// OK answers NSUB before v16.
type OK struct{}

// SOK answers NSUB from v16. ServiceID is nil for an ordinary
// (non-service) subscription, i.e. "SOK 0".
type SOK struct{ ServiceID []byte }

// Pong answers PING.
type Pong struct{}

// NMSG is a notification: a message arrived on the subscribed queue.
// Nonce and EncMeta are opaque to the notifier: only the recipient app can
// decrypt EncMeta (see DecryptNMsgMeta).
type NMSG struct {
	Nonce   [NonceSize]byte
	EncMeta []byte
}

// END says another connection took over the subscription.
type END struct{}

// DELD says the queue or its notifier credentials were deleted.
type DELD struct{}

// ERR is an error response or an unsolicited error.
type ERR struct{ Err *ServerError }

// SOKS answers a service subscription (not sent by this client).
type SOKS struct{ Count int64 }

// ENDS says a service subscription moved to another session.
type ENDS struct{ Count int64 }

func (OK) isMessage()   {}
func (SOK) isMessage()  {}
func (Pong) isMessage() {}
func (NMSG) isMessage() {}
func (END) isMessage()  {}
func (DELD) isMessage() {}
func (ERR) isMessage()  {}
func (SOKS) isMessage() {}
func (ENDS) isMessage() {}

func (OK) AppendWire(dst []byte) []byte   { return append(dst, cmdOK...) }
func (Pong) AppendWire(dst []byte) []byte { return append(dst, cmdPONG...) }
func (END) AppendWire(dst []byte) []byte  { return append(dst, cmdEND...) }
func (DELD) AppendWire(dst []byte) []byte { return append(dst, cmdDELD...) }

func (m SOK) AppendWire(dst []byte) []byte {
	dst = append(dst, "SOK "...)
	if m.ServiceID == nil {
		return append(dst, maybeNothing)
	}
	return appendShort(append(dst, maybeJust), m.ServiceID)
}

func (m NMSG) AppendWire(dst []byte) []byte {
	dst = append(dst, "NMSG "...)
	dst = append(dst, m.Nonce[:]...)
	return appendShort(dst, m.EncMeta)
}

func (m ERR) AppendWire(dst []byte) []byte {
	return append(append(dst, "ERR "...), m.Err.Wire()...)
}

func (m SOKS) AppendWire(dst []byte) []byte {
	return binary.BigEndian.AppendUint64(append(dst, "SOKS "...), uint64(m.Count))
}

func (m ENDS) AppendWire(dst []byte) []byte {
	return binary.BigEndian.AppendUint64(append(dst, "ENDS "...), uint64(m.Count))
}

func (m ERR) String() string  { return "ERR " + m.Err.Wire() }
func (m SOKS) String() string { return "SOKS " + strconv.FormatInt(m.Count, 10) }

// splitCommand splits "TAG" or "TAG SP params".
func splitCommand(cmd []byte) (tag, params []byte, hasParams bool) {
	if i := bytes.IndexByte(cmd, ' '); i >= 0 {
		return cmd[:i], cmd[i+1:], true
	}
	return cmd, nil, false
}

// ParseMessage decodes a server command. Byte slices in the result are
// copies, so the result outlives the block buffer. Unknown commands report
// ErrUnsupported; bad parameters report ErrMalformed.
func ParseMessage(cmd []byte) (Message, error) {
	tag, params, hasParams := splitCommand(cmd)
	noParams := func(m Message) (Message, error) {
		if hasParams {
			return nil, malformed(fmt.Sprintf("%s: unexpected parameters", tag))
		}
		return m, nil
	}
	switch {
	case bytes.Equal(tag, cmdOK):
		return noParams(OK{})
	case bytes.Equal(tag, cmdPONG):
		return noParams(Pong{})
	case bytes.Equal(tag, cmdEND):
		return noParams(END{})
	case bytes.Equal(tag, cmdDELD):
		return noParams(DELD{})
	case !hasParams:
		// All remaining commands have parameters.
	case bytes.Equal(tag, cmdSOK):
		return parseSOK(params)
	case bytes.Equal(tag, cmdNMSG):
		return parseNMSG(params)
	case bytes.Equal(tag, cmdERR):
		se, err := ParseServerError(params)
		if err != nil {
			return nil, err
		}
		return ERR{Err: se}, nil
	case bytes.Equal(tag, cmdSOKS), bytes.Equal(tag, cmdENDS):
		r := reader{b: params}
		n := r.int64(string(tag))
		r.end(string(tag))
		if r.err != nil {
			return nil, r.err
		}
		if bytes.Equal(tag, cmdSOKS) {
			return SOKS{Count: n}, nil
		}
		return ENDS{Count: n}, nil
	}
	return nil, fmt.Errorf("%w: server command %q", ErrUnsupported, printable(tag, 16))
}

func parseSOK(params []byte) (Message, error) {
	r := reader{b: params}
	var m SOK
	switch r.byte("SOK service id tag") {
	case maybeNothing:
	case maybeJust:
		m.ServiceID = bytes.Clone(r.short("SOK service id"))
		if m.ServiceID == nil {
			m.ServiceID = []byte{}
		}
	default:
		r.fail("SOK service id tag")
	}
	r.end("SOK")
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

func parseNMSG(params []byte) (Message, error) {
	r := reader{b: params}
	var m NMSG
	copy(m.Nonce[:], r.bytes(NonceSize, "NMSG nonce"))
	meta := r.short("NMSG metadata")
	r.end("NMSG")
	if r.err != nil {
		return nil, r.err
	}
	m.EncMeta = bytes.Clone(meta)
	if m.EncMeta == nil {
		m.EncMeta = []byte{}
	}
	return m, nil
}

// printable returns at most n bytes of b for an error message, quoted by
// the caller with %q.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
