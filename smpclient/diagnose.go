package smpclient

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Diagnosing a refused TLS handshake.
//
// A reference server whose online (leaf) certificate is Ed448 can only
// sign the TLS handshake with Ed448, which Go never offers, so it aborts
// with a handshake_failure alert before sending its certificate. To say
// exactly that instead of "handshake failure", the client then opens a
// second connection and sends a hand-written TLS 1.2 ClientHello that
// offers Ed448. In TLS 1.2 the server's Certificate message travels in
// the clear, so the leaf key type can be read without completing the
// handshake. The connection is then dropped.
//
// TLS record: type(1) version(2) length(2) fragment; handshake message:
// type(1) length(3) body. Certificate body: length(3) *(length(3) DER).
const (
	tlsRecordHandshake = 0x16
	tlsRecordAlert     = 0x15
	tlsHandshakeSH     = 2
	tlsHandshakeCert   = 11
	tlsHandshakeSHDone = 14
	// maxDiagBytes bounds what the diagnostic reads from the server.
	maxDiagBytes = 64 << 10
	// maxTLSRecord bounds one record's fragment (RFC 8446 limit + slack).
	maxTLSRecord = 1<<14 + 2048
	// diagTimeout bounds the diagnostic when ctx has no earlier deadline.
	diagTimeout = 10 * time.Second
)

// diagClientHello builds a TLS 1.2 ClientHello offering Ed448, without SNI.
func diagClientHello() []byte {
	var random [32]byte
	binary.BigEndian.PutUint64(random[:], uint64(time.Now().UnixNano()))
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, body []byte) []byte { return append(u16(u16(b, typ), len(body)), body...) }

	var exts []byte
	groups := []byte{0x00, 0x1d, 0x00, 0x1e, 0x00, 0x17} // x25519, x448, P-256
	exts = ext(exts, 0x000a, append(u16(nil, len(groups)), groups...))
	exts = ext(exts, 0x000b, []byte{1, 0}) // ec_point_formats: uncompressed
	sigs := []byte{0x08, 0x07, 0x08, 0x08, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01}
	exts = ext(exts, 0x000d, append(u16(nil, len(sigs)), sigs...))
	proto := append([]byte{byte(len(ALPN))}, ALPN...)
	exts = ext(exts, 0x0010, append(u16(nil, len(proto)), proto...))
	exts = ext(exts, 0x0017, nil)          // extended_master_secret
	exts = ext(exts, 0xff01, []byte{0x00}) // renegotiation_info (initial)

	body := []byte{0x03, 0x03}
	body = append(body, random[:]...)
	body = append(body, 0) // no session id
	suites := []int{0xcca9, 0xc02b, 0xc02c, 0xcca8, 0xc02f, 0xc030}
	body = u16(body, 2*len(suites))
	for _, s := range suites {
		body = u16(body, s)
	}
	body = append(body, 1, 0) // compression: null
	body = u16(body, len(exts))
	body = append(body, exts...)

	hs := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	rec := []byte{tlsRecordHandshake, 0x03, 0x01}
	rec = u16(rec, len(hs))
	return append(rec, hs...)
}

// errNoCertificate: the diagnostic saw no certificate (e.g. the server
// only speaks TLS 1.3 and refused the TLS 1.2 hello).
var errNoCertificate = errors.New("no certificate in the TLS 1.2 diagnostic handshake")

// diagnoseChain runs the diagnostic handshake on conn and returns the
// server's raw certificate chain. It closes nothing; the caller closes conn.
func diagnoseChain(ctx context.Context, conn net.Conn) ([][]byte, error) {
	deadline := time.Now().Add(diagTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(diagClientHello()); err != nil {
		return nil, err
	}
	br := bufio.NewReader(io.LimitReader(conn, maxDiagBytes))
	var hs []byte // handshake bytes collected from records
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoCertificate, err)
		}
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if n > maxTLSRecord {
			return nil, fmt.Errorf("%w: record of %d bytes", errNoCertificate, n)
		}
		frag := make([]byte, n)
		if _, err := io.ReadFull(br, frag); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoCertificate, err)
		}
		switch hdr[0] {
		case tlsRecordAlert:
			return nil, fmt.Errorf("%w: server sent alert %v", errNoCertificate, frag)
		case tlsRecordHandshake:
			hs = append(hs, frag...)
		default:
			return nil, fmt.Errorf("%w: record type %d", errNoCertificate, hdr[0])
		}
		chain, done, err := parseDiagHandshake(hs)
		if err != nil || done {
			return chain, err
		}
	}
}

// parseDiagHandshake scans complete handshake messages in hs. It returns
// done with the chain once a Certificate message is complete.
func parseDiagHandshake(hs []byte) (chain [][]byte, done bool, err error) {
	for len(hs) >= 4 {
		typ := hs[0]
		n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
		if len(hs) < 4+n {
			return nil, false, nil // wait for more records
		}
		body := hs[4 : 4+n]
		hs = hs[4+n:]
		switch typ {
		case tlsHandshakeCert:
			chain, err := parseCertificateMsg(body)
			return chain, true, err
		case tlsHandshakeSHDone:
			return nil, true, errNoCertificate
		}
	}
	return nil, false, nil
}

func parseCertificateMsg(body []byte) ([][]byte, error) {
	u24 := func(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }
	if len(body) < 3 || u24(body) != len(body)-3 {
		return nil, fmt.Errorf("%w: bad Certificate message", errNoCertificate)
	}
	body = body[3:]
	var chain [][]byte
	for len(body) > 0 {
		if len(body) < 3 || u24(body) > len(body)-3 || len(chain) == MaxCertChain+1 {
			return nil, fmt.Errorf("%w: bad Certificate message", errNoCertificate)
		}
		n := u24(body)
		chain = append(chain, body[3:3+n])
		body = body[3+n:]
	}
	if len(chain) == 0 {
		return nil, errNoCertificate
	}
	return chain, nil
}
