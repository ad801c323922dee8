package smpclient

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Block framing.
//
// After TLS both directions exchange only fixed-size blocks of BlockSize
// bytes. A plain block is pad(content, BlockSize):
//
//	Word16 len(content) | content | "#" * (BlockSize - 2 - len(content))
//
// With block encryption (v >= 11, only when the client hello carries a key)
// the wire block is sxBox(key, nonce, pad(content, BlockSize-16)), see
// blockcrypt.go. Handshake blocks are never encrypted.
//
// After the handshake a block's content is a batch of transmissions:
//
//	count(1 byte, 1..255) | count * Large(transmission)
//
// where Large is Word16 length + bytes. Senders keep
// sum(2 + len(t)) <= MaxBatchBytes so that the block still fits when
// encryption adds its 16-byte tag.
const (
	// BlockSize is the size of every block on the wire (smpBlockSize).
	BlockSize = 16384
	// MaxContentSize is the largest unpadded content of a plain block.
	MaxContentSize = BlockSize - 2
	// MaxBatchBytes is the budget for the Large-prefixed transmissions of
	// one block after the count byte: 16384 - 1 (count) - 2 (pad length)
	// - 16 (encryption tag, reserved even when encryption is off).
	MaxBatchBytes = BlockSize - 1 - 2 - blockTagSize
	// MaxBatchCount is the most transmissions one block may carry.
	MaxBatchCount = 255
	// MaxShortString is the longest shortString (1-byte length prefix).
	MaxShortString = 255

	padByte      = '#'
	blockTagSize = 16 // Poly1305 tag of an encrypted block
)

// Errors returned by the codec functions. They wrap with more detail;
// test with errors.Is.
var (
	// ErrMalformed reports bytes that do not parse as the expected structure.
	ErrMalformed = errors.New("smp: malformed")
	// ErrTooLarge reports content that does not fit a block or a length prefix.
	ErrTooLarge = errors.New("smp: too large")
)

func malformed(what string) error { return fmt.Errorf("%w %s", ErrMalformed, what) }

// Pad returns pad(msg, n): Word16 length, msg, and '#' filler up to n bytes.
// It reports ErrTooLarge if msg does not fit.
func Pad(msg []byte, n int) ([]byte, error) {
	out := make([]byte, n)
	if err := padInto(out, msg); err != nil {
		return nil, err
	}
	return out, nil
}

// padInto writes pad(msg, len(dst)) into dst.
func padInto(dst, msg []byte) error {
	if len(msg) > len(dst)-2 || len(msg) > 0xffff {
		return fmt.Errorf("%w: %d bytes do not fit a %d-byte padded frame", ErrTooLarge, len(msg), len(dst))
	}
	binary.BigEndian.PutUint16(dst, uint16(len(msg)))
	n := copy(dst[2:], msg)
	fill := dst[2+n:]
	for i := range fill {
		fill[i] = padByte
	}
	return nil
}

// Unpad reverses Pad: it reads the Word16 length and returns that many bytes
// of b (aliasing b). Filler bytes are not checked, as in the reference.
func Unpad(b []byte) ([]byte, error) {
	if len(b) < 2 {
		return nil, malformed("padded frame: shorter than its length prefix")
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > len(b)-2 {
		return nil, malformed(fmt.Sprintf("padded frame: length %d exceeds frame of %d", n, len(b)))
	}
	return b[2 : 2+n], nil
}

// readBlock reads exactly one BlockSize block from br into buf. EOF before
// a full block is io.ErrUnexpectedEOF (or io.EOF if nothing was read).
func readBlock(br *bufio.Reader, buf *[BlockSize]byte) error {
	_, err := io.ReadFull(br, buf[:])
	return err
}

// writeBlock writes one BlockSize block to bw. It does not flush.
func writeBlock(bw *bufio.Writer, block *[BlockSize]byte) error {
	_, err := bw.Write(block[:])
	return err
}

// reader decodes the primitive encodings of §0 from a byte slice. Every
// method checks the length before slicing, and returned slices alias the
// input. The first failure is sticky in err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = malformed(what)
	}
	r.b = nil
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail(what + ": truncated")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte(what string) byte {
	v := r.bytes(1, what)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) word16(what string) uint16 {
	v := r.bytes(2, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (r *reader) int64(what string) int64 {
	v := r.bytes(8, what)
	if v == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// short reads a shortString: 1 length byte, then that many bytes.
func (r *reader) short(what string) []byte {
	n := r.byte(what)
	return r.bytes(int(n), what)
}

// large reads a Large: Word16 length, then that many bytes.
func (r *reader) large(what string) []byte {
	n := r.word16(what)
	return r.bytes(int(n), what)
}

// rest returns the remaining bytes (Tail).
func (r *reader) rest() []byte {
	v := r.b
	r.b = nil
	return v
}

func (r *reader) end(what string) {
	if r.err == nil && len(r.b) != 0 {
		r.fail(what + ": trailing bytes")
	}
}

// appendShort appends a shortString. The caller guarantees len(b) <= 255.
func appendShort(dst, b []byte) []byte {
	dst = append(dst, byte(len(b)))
	return append(dst, b...)
}

// appendLarge appends a Large. The caller guarantees len(b) <= 65535.
func appendLarge(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

func checkShort(b []byte, what string) error {
	if len(b) > MaxShortString {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, what, len(b), MaxShortString)
	}
	return nil
}

// ParseBatch splits block content into its transmissions (aliasing content),
// appending them to dst. It requires a count of 1..255 and nothing after the
// last transmission.
func ParseBatch(content []byte, dst [][]byte) ([][]byte, error) {
	r := reader{b: content}
	n := int(r.byte("batch count"))
	if r.err == nil && n == 0 {
		return dst, malformed("batch: zero transmissions")
	}
	for i := 0; i < n && r.err == nil; i++ {
		t := r.large("batch transmission")
		if r.err == nil {
			dst = append(dst, t)
		}
	}
	r.end("batch")
	return dst, r.err
}

// batchWriter builds the content of one block: a count byte and Large
// transmissions, within MaxBatchBytes and MaxBatchCount.
type batchWriter struct {
	buf   []byte // buf[0] is the count
	count int
}

// newBatchWriter returns an empty batchWriter with room for size bytes of
// Large transmissions (at most a full block) before its buffer grows.
func newBatchWriter(size int) batchWriter {
	return batchWriter{buf: make([]byte, 1, 1+min(size, MaxBatchBytes))}
}

func (w *batchWriter) reset() {
	w.buf = append(w.buf[:0], 0)
	w.count = 0
}

// fits reports whether a transmission of n bytes still fits this block.
func (w *batchWriter) fits(n int) bool {
	return w.count < MaxBatchCount && len(w.buf)-1+2+n <= MaxBatchBytes
}

// add appends transmission t; the caller checked fits(len(t)).
func (w *batchWriter) add(t []byte) {
	w.buf = appendLarge(w.buf, t)
	w.count++
	w.buf[0] = byte(w.count)
}

// EncodeBatch returns the block content for transmissions ts. It reports
// ErrTooLarge if they do not fit one block.
func EncodeBatch(ts ...[]byte) ([]byte, error) {
	size := 0
	for _, t := range ts {
		size += 2 + len(t)
	}
	w := newBatchWriter(size)
	for _, t := range ts {
		if !w.fits(len(t)) {
			return nil, fmt.Errorf("%w: batch of %d transmissions does not fit one block", ErrTooLarge, len(ts))
		}
		w.add(t)
	}
	if w.count == 0 {
		return nil, malformed("batch: zero transmissions")
	}
	return w.buf, nil
}
