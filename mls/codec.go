package mls

// TLS presentation language codec (RFC 9420 section 2.1.2): fixed-size
// big-endian integers, opaque/struct vectors with a QUIC-style variable-length
// header (1, 2 or 4 bytes; the 8-byte form is not allowed; the shortest form
// is mandatory), optional<T> as a presence byte.

import (
	"encoding/binary"
	"fmt"
)

// maxVectorLen is the largest length a variable-length header can express
// (30 bits).
const maxVectorLen = 1<<30 - 1

// reader decodes from a byte slice. It records the first error; once an error
// occurred every further read returns zero values, so decoders can read a
// whole struct and check err once.
type reader struct {
	buf []byte
	off int
	err error
}

func newReader(b []byte) *reader { return &reader{buf: b} }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = &Error{Kind: ErrMalformed, Msg: fmt.Sprintf(format, args...) + fmt.Sprintf(" (at offset %d)", r.off)}
	}
}

func (r *reader) failErr(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

func (r *reader) remaining() int { return len(r.buf) - r.off }

func (r *reader) empty() bool { return r.off >= len(r.buf) }

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.remaining() {
		r.fail("truncated: need %d bytes, have %d", n, r.remaining())
		return nil
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

func (r *reader) u8() uint8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// varint reads a variable-length vector header.
func (r *reader) varint() int {
	if r.err != nil {
		return 0
	}
	if r.empty() {
		r.fail("truncated vector length")
		return 0
	}
	first := r.buf[r.off]
	prefix := first >> 6
	var n int
	switch prefix {
	case 0:
		n = 1
	case 1:
		n = 2
	case 2:
		n = 4
	default:
		r.fail("invalid vector length prefix 0b11")
		return 0
	}
	b := r.take(n)
	if b == nil {
		return 0
	}
	v := uint64(b[0] & 0x3f)
	for _, c := range b[1:] {
		v = v<<8 | uint64(c)
	}
	if n > 1 && v < 1<<(8*(n/2)-2) {
		// 2-byte form for v < 64, 4-byte form for v < 16384.
		r.fail("non-minimal vector length %d in %d bytes", v, n)
		return 0
	}
	return int(v)
}

// opaque reads an opaque<V> vector. The returned slice aliases the input.
func (r *reader) opaque() []byte {
	n := r.varint()
	return r.take(n)
}

// vector reads a <V> vector header and returns a sub-reader over its body.
func (r *reader) vector() *reader {
	body := r.opaque()
	return &reader{buf: body, err: r.err}
}

// each calls f for each element of a <V> vector of structs, stopping at the
// first error. Errors of the sub-reader propagate to r.
func (r *reader) each(f func(*reader)) {
	sub := r.vector()
	for r.err == nil && sub.err == nil && !sub.empty() {
		f(sub)
	}
	if sub.err != nil {
		r.failErr(sub.err)
	}
}

// optional reads an optional<T> presence byte.
func (r *reader) optional() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("invalid optional presence byte")
		return false
	}
}

// finish fails if there are trailing bytes.
func (r *reader) finish() error {
	if r.err == nil && !r.empty() {
		r.fail("%d trailing bytes", r.remaining())
	}
	return r.err
}

// writer encodes to a growing byte slice.
type writer struct {
	buf []byte
	// fresh makes structures that remember their received bytes encode from
	// their fields instead (used by tests to check canonical re-encoding).
	fresh bool
}

// cached writes b and reports true when b is usable as the encoding of a
// structure (non-nil and not in fresh mode).
func (w *writer) cached(b []byte) bool {
	if b == nil || w.fresh {
		return false
	}
	w.buf = append(w.buf, b...)
	return true
}

func (w *writer) u8(v uint8)   { w.buf = append(w.buf, v) }
func (w *writer) u16(v uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }
func (w *writer) u32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }
func (w *writer) u64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }
func (w *writer) raw(b []byte) { w.buf = append(w.buf, b...) }

func appendVarint(b []byte, n int) []byte {
	switch {
	case n < 0 || n > maxVectorLen:
		panic(fmt.Sprintf("mls: vector length %d out of range", n))
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|0x40, byte(n))
	default:
		return append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
	}
}

func varintLen(n int) int {
	switch {
	case n < 1<<6:
		return 1
	case n < 1<<14:
		return 2
	default:
		return 4
	}
}

func (w *writer) varint(n int) { w.buf = appendVarint(w.buf, n) }

func (w *writer) opaque(b []byte) {
	w.varint(len(b))
	w.buf = append(w.buf, b...)
}

// vector writes a <V> vector whose body is produced by f. It reserves a
// one-byte header and moves the body if a longer header is needed.
func (w *writer) vector(f func(w *writer)) {
	start := len(w.buf)
	w.buf = append(w.buf, 0)
	f(w)
	n := len(w.buf) - start - 1
	hl := varintLen(n)
	if hl > 1 {
		w.buf = append(w.buf, make([]byte, hl-1)...)
		copy(w.buf[start+hl:], w.buf[start+1:start+1+n])
	}
	appendVarint(w.buf[start:start], n)
}

func (w *writer) optional(present bool) {
	if present {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

// encoder is implemented by every structure of this package that has a wire
// encoding.
type encoder interface {
	encode(w *writer)
}

// marshal encodes v.
func marshal(v encoder) []byte {
	var w writer
	v.encode(&w)
	return w.buf
}

// DecodeVarint decodes a variable-length vector header at the start of b and
// returns the length it carries and the number of header bytes. It rejects the
// 8-byte form and non-minimal encodings.
func DecodeVarint(b []byte) (length int, headerLen int, err error) {
	r := newReader(b)
	n := r.varint()
	if r.err != nil {
		return 0, 0, r.err
	}
	return n, r.off, nil
}

// AppendVarint appends the minimal variable-length header for n.
func AppendVarint(b []byte, n int) []byte { return appendVarint(b, n) }
