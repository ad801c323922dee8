package mls

// Exported access to this package's TLS presentation-language codec, for
// protocols layered on MLS (the MIMI DS envelope) so that they encode
// vectors exactly as MLS does: QUIC-style minimal varint headers, no
// trailing bytes.

// Decoder reads TLS-encoded values from a byte slice. The first error
// sticks: later reads return zero values, so a caller reads a whole
// structure and checks Finish once. Slices it returns alias the input.
type Decoder struct{ r reader }

// NewDecoder returns a Decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{r: reader{buf: b}} }

// U8 reads a uint8.
func (d *Decoder) U8() uint8 { return d.r.u8() }

// U16 reads a big-endian uint16.
func (d *Decoder) U16() uint16 { return d.r.u16() }

// U32 reads a big-endian uint32.
func (d *Decoder) U32() uint32 { return d.r.u32() }

// U64 reads a big-endian uint64.
func (d *Decoder) U64() uint64 { return d.r.u64() }

// Opaque reads an opaque<V>.
func (d *Decoder) Opaque() []byte { return d.r.opaque() }

// Bytes reads n raw bytes, failing (and returning nil) if fewer remain.
func (d *Decoder) Bytes(n int) []byte { return d.r.take(n) }

// Optional reads an optional<T> presence byte.
func (d *Decoder) Optional() bool { return d.r.optional() }

// Offset is the number of bytes consumed so far.
func (d *Decoder) Offset() int { return d.r.off }

// Fail records a decoding error (kind ErrMalformed) unless one is recorded.
func (d *Decoder) Fail(format string, args ...any) { d.r.fail(format, args...) }

// Err returns the first error.
func (d *Decoder) Err() error { return d.r.err }

// Finish returns the first error, or an error if bytes remain.
func (d *Decoder) Finish() error { return d.r.finish() }

// MLSMessage reads an MLSMessage in place (not length-prefixed).
func (d *Decoder) MLSMessage() *MLSMessage {
	m := new(MLSMessage)
	m.decode(&d.r)
	return m
}

// KeyPackage reads a bare KeyPackage in place.
func (d *Decoder) KeyPackage() *KeyPackage {
	kp := new(KeyPackage)
	kp.decode(&d.r)
	return kp
}

// Encoder appends TLS-encoded values to a buffer.
type Encoder struct{ w writer }

// U8 appends a uint8.
func (e *Encoder) U8(v uint8) { e.w.u8(v) }

// U16 appends a big-endian uint16.
func (e *Encoder) U16(v uint16) { e.w.u16(v) }

// U32 appends a big-endian uint32.
func (e *Encoder) U32(v uint32) { e.w.u32(v) }

// U64 appends a big-endian uint64.
func (e *Encoder) U64(v uint64) { e.w.u64(v) }

// Opaque appends an opaque<V>.
func (e *Encoder) Opaque(b []byte) { e.w.opaque(b) }

// Raw appends b as is (an already encoded structure).
func (e *Encoder) Raw(b []byte) { e.w.raw(b) }

// Optional appends an optional<T> presence byte.
func (e *Encoder) Optional(present bool) { e.w.optional(present) }

// Bytes returns the encoding so far.
func (e *Encoder) Bytes() []byte { return e.w.buf }
