package smpclient

import "fmt"

// Transmission layout for v >= 7 (§3.2), in both directions:
//
//	authorization  shortString   empty, 64 (Ed25519), 114 (Ed448) or 80 (X25519 authenticator)
//	serviceSig     Maybe shortString  only if v >= 16 and authorization is non-empty
//	corrId         shortString   24 bytes from the client; empty for server events
//	entityId       shortString   notifier id, or empty
//	command        Tail          e.g. "NSUB", "PING", "SOK 0", "NMSG ..."
//
// What is authorized (§3.3) is shortString(sessionId) || corrId || entityId
// || command, i.e. the transmission without its authorization fields and
// with the (never transmitted) session id in front.
const (
	// CorrIDSize is the length of the correlation ids this client sends.
	CorrIDSize = 24

	authSizeEd25519 = 64
	authSizeEd448   = 114
	authSizeX25519  = 80 // 16-byte Poly1305 tag + 64-byte SHA-512 digest

	maybeNothing = '0'
	maybeJust    = '1'
)

// Transmission is one decoded transmission. Its byte slices alias the
// block it was parsed from.
type Transmission struct {
	Auth []byte // authorization; empty for server transmissions
	// ServiceSig is the service signature (v >= 16 service sessions only).
	// HasServiceSig tells "1" from "0"/absent.
	ServiceSig    []byte
	HasServiceSig bool
	CorrID        []byte
	EntityID      []byte
	Command       []byte
}

// ParseTransmission decodes t as sent at SMP version v (>= 7).
func ParseTransmission(t []byte, v uint16) (Transmission, error) {
	var tr Transmission
	if v < minSupportedVersion {
		return tr, fmt.Errorf("%w: version %d transmission layout", ErrUnsupported, v)
	}
	r := reader{b: t}
	tr.Auth = r.short("authorization")
	if r.err == nil && v >= versionServiceCerts && len(tr.Auth) > 0 {
		switch r.byte("service signature tag") {
		case maybeNothing:
		case maybeJust:
			tr.HasServiceSig = true
			tr.ServiceSig = r.short("service signature")
		default:
			r.fail("service signature tag")
		}
	}
	tr.CorrID = r.short("corrId")
	tr.EntityID = r.short("entityId")
	tr.Command = r.rest()
	if r.err != nil {
		return Transmission{}, r.err
	}
	return tr, nil
}

// AppendTransmission appends the wire form of tr at version v. At v >= 16
// a non-empty Auth is followed by the Maybe service signature ("0" unless
// HasServiceSig). It reports ErrTooLarge if a field exceeds a shortString.
func AppendTransmission(dst []byte, tr Transmission, v uint16) ([]byte, error) {
	for _, f := range []struct {
		b    []byte
		name string
	}{{tr.Auth, "authorization"}, {tr.ServiceSig, "service signature"}, {tr.CorrID, "corrId"}, {tr.EntityID, "entityId"}} {
		if err := checkShort(f.b, f.name); err != nil {
			return dst, err
		}
	}
	dst = appendShort(dst, tr.Auth)
	if v >= versionServiceCerts && len(tr.Auth) > 0 {
		if tr.HasServiceSig {
			dst = append(dst, maybeJust)
			dst = appendShort(dst, tr.ServiceSig)
		} else {
			dst = append(dst, maybeNothing)
		}
	}
	dst = appendShort(dst, tr.CorrID)
	dst = appendShort(dst, tr.EntityID)
	return append(dst, tr.Command...), nil
}

// AppendAuthorized appends the bytes that an authorization covers:
// shortString(sessionID) || shortString(corrID) || shortString(entityID) || command.
func AppendAuthorized(dst, sessionID, corrID, entityID, command []byte) []byte {
	dst = appendShort(dst, sessionID)
	dst = appendShort(dst, corrID)
	dst = appendShort(dst, entityID)
	return append(dst, command...)
}

// AuthorizedBytes returns what the authorization of tr covers, given the
// connection's session id. The server side of a connection uses it to
// check signatures.
func (tr Transmission) AuthorizedBytes(sessionID []byte) []byte {
	return AppendAuthorized(make([]byte, 0, 4+len(sessionID)+len(tr.CorrID)+len(tr.EntityID)+len(tr.Command)), sessionID, tr.CorrID, tr.EntityID, tr.Command)
}
