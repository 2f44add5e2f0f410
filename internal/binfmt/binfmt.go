// Package binfmt is the little-endian, checksummed binary encoding shared by
// nearkit's index and quantizer files.
//
// A stream is: an 8-byte magic naming the file type, a uint32 format
// version, the payload written by the caller, and a trailing CRC-32C
// (Castagnoli) of every byte before it. Readers verify the magic and version
// first and the checksum last, and check every length they read against a
// caller-given limit before allocating, so a corrupt or hostile file yields
// an error wrapping nearkit.ErrCorrupt or nearkit.ErrIncompatible, never a
// panic or a huge allocation.
package binfmt

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"unsafe"

	"github.com/nearkit/nearkit"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Checksum returns the CRC-32C of p, the checksum streams and their
// sections use.
func Checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// Writer encodes values; the first error sticks and is returned by Finish.
type Writer struct {
	w   io.Writer
	crc hash.Hash32
	sec uint32 // CRC-32C of the bytes since the last Section
	n   int64
	err error
	buf [8]byte
}

// NewWriter starts a stream with the given magic (at most 8 bytes, padded
// with zeros) and version.
func NewWriter(w io.Writer, magic string, version uint32) *Writer {
	bw := &Writer{w: w, crc: crc32.New(castagnoli)}
	var m [8]byte
	copy(m[:], magic)
	bw.write(m[:])
	bw.U32(version)
	return bw
}

func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(p)
	w.n += int64(n)
	w.crc.Write(p[:n])
	w.sec = crc32.Update(w.sec, castagnoli, p[:n])
	w.err = err
}

// Section returns the CRC-32C of the bytes written since the previous
// call (or the start of the stream, magic included) and starts the next
// section. A format that stores these lets a reader check one part of a
// file without reading the rest.
func (w *Writer) Section() uint32 {
	s := w.sec
	w.sec = 0
	return s
}

// U8 writes a byte.
func (w *Writer) U8(v uint8) { w.buf[0] = v; w.write(w.buf[:1]) }

// U32 writes a uint32.
func (w *Writer) U32(v uint32) { binary.LittleEndian.PutUint32(w.buf[:], v); w.write(w.buf[:4]) }

// U64 writes a uint64.
func (w *Writer) U64(v uint64) { binary.LittleEndian.PutUint64(w.buf[:], v); w.write(w.buf[:8]) }

// F32 writes a float32.
func (w *Writer) F32(v float32) { w.U32(math.Float32bits(v)) }

// F64 writes a float64.
func (w *Writer) F64(v float64) { w.U64(math.Float64bits(v)) }

// Bytes writes p as is (no length prefix).
func (w *Writer) Bytes(p []byte) { w.write(p) }

// Float32s writes v as is (no length prefix).
func (w *Writer) Float32s(v []float32) {
	if littleEndian {
		w.write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
		return
	}
	for _, x := range v {
		w.F32(x)
	}
}

// Uint32s writes v as is (no length prefix).
func (w *Writer) Uint32s(v []uint32) {
	if littleEndian {
		w.write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
		return
	}
	for _, x := range v {
		w.U32(x)
	}
}

// Uint64s writes v as is (no length prefix).
func (w *Writer) Uint64s(v []uint64) {
	if littleEndian {
		w.write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 8*len(v)))
		return
	}
	for _, x := range v {
		w.U64(x)
	}
}

// Finish appends the checksum and returns the bytes written and the first
// error.
func (w *Writer) Finish() (int64, error) {
	if w.err == nil {
		sum := w.crc.Sum32()
		binary.LittleEndian.PutUint32(w.buf[:], sum)
		n, err := w.w.Write(w.buf[:4])
		w.n += int64(n)
		w.err = err
	}
	return w.n, w.err
}

// Reader decodes a stream written by Writer; the first error sticks.
type Reader struct {
	r       io.Reader
	crc     hash.Hash32
	sec     uint32 // CRC-32C of the bytes since the last Section
	off     int64
	err     error
	buf     [8]byte
	Version uint32
}

// NewReader reads and checks the header: the magic must match and the
// version must be in [1, maxVersion].
func NewReader(r io.Reader, magic string, maxVersion uint32) (*Reader, error) {
	br := &Reader{r: r, crc: crc32.New(castagnoli)}
	var m, want [8]byte
	copy(want[:], magic)
	br.read(m[:])
	if br.err != nil {
		return nil, br.err
	}
	if m != want {
		return nil, fmt.Errorf("%w: not a %s file (magic %q)", nearkit.ErrIncompatible, magic, m[:])
	}
	br.Version = br.U32()
	if br.err != nil {
		return nil, br.err
	}
	if br.Version == 0 || br.Version > maxVersion {
		return nil, fmt.Errorf("%w: %s format version %d, this build reads up to %d", nearkit.ErrIncompatible, magic, br.Version, maxVersion)
	}
	return br, nil
}

func (r *Reader) read(p []byte) {
	if r.err != nil {
		return
	}
	n, err := io.ReadFull(r.r, p)
	r.crc.Write(p[:n])
	r.sec = crc32.Update(r.sec, castagnoli, p[:n])
	r.off += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			r.err = fmt.Errorf("%w: truncated at offset %d", nearkit.ErrCorrupt, r.off)
		} else {
			r.err = err
		}
	}
}

// Err returns the first error.
func (r *Reader) Err() error { return r.err }

// Section returns the CRC-32C of the bytes read since the previous call
// (or the start of the stream, magic included) and starts the next
// section, mirroring Writer.Section.
func (r *Reader) Section() uint32 {
	s := r.sec
	r.sec = 0
	return s
}

// Offset returns the number of bytes consumed.
func (r *Reader) Offset() int64 { return r.off }

// Fail records a validation error (wrapping nearkit.ErrCorrupt) at the
// current offset, unless an error is already recorded.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at offset %d: %s", nearkit.ErrCorrupt, r.off, fmt.Sprintf(format, args...))
	}
}

// U8 reads a byte.
func (r *Reader) U8() uint8 { r.read(r.buf[:1]); return r.buf[0] }

// U32 reads a uint32.
func (r *Reader) U32() uint32 {
	r.read(r.buf[:4])
	if r.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint32(r.buf[:])
}

// U64 reads a uint64.
func (r *Reader) U64() uint64 {
	r.read(r.buf[:8])
	if r.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(r.buf[:])
}

// F32 reads a float32.
func (r *Reader) F32() float32 { return math.Float32frombits(r.U32()) }

// F64 reads a float64.
func (r *Reader) F64() float64 { return math.Float64frombits(r.U64()) }

// Count reads a uint64 count and checks it is at most max; beyond it the
// stream is corrupt.
func (r *Reader) Count(what string, max uint64) int {
	v := r.U64()
	if r.err == nil && v > max {
		r.Fail("%s = %d exceeds the limit %d", what, v, max)
	}
	if r.err != nil {
		return 0
	}
	return int(v)
}

// chunk bounds each allocation while reading so a corrupt count that passed
// its limit check cannot allocate far more than the stream actually holds.
const chunk = 1 << 20

// Bytes reads n bytes.
func (r *Reader) Bytes(n int) []byte {
	var out []byte
	for len(out) < n && r.err == nil {
		m := min(n-len(out), chunk)
		out = append(out, make([]byte, m)...)
		r.read(out[len(out)-m:])
	}
	if r.err != nil {
		return nil
	}
	return out
}

// Float32s reads n float32 values.
func (r *Reader) Float32s(n int) []float32 {
	var out []float32
	for len(out) < n && r.err == nil {
		m := min(n-len(out), chunk)
		start := len(out)
		out = append(out, make([]float32, m)...)
		dst := out[start:]
		if littleEndian {
			r.read(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)))
		} else {
			for i := range dst {
				dst[i] = r.F32()
			}
		}
	}
	if r.err != nil {
		return nil
	}
	return out
}

// Uint32s reads n uint32 values.
func (r *Reader) Uint32s(n int) []uint32 {
	var out []uint32
	for len(out) < n && r.err == nil {
		m := min(n-len(out), chunk)
		start := len(out)
		out = append(out, make([]uint32, m)...)
		dst := out[start:]
		if littleEndian {
			r.read(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)))
		} else {
			for i := range dst {
				dst[i] = r.U32()
			}
		}
	}
	if r.err != nil {
		return nil
	}
	return out
}

// Uint64s reads n uint64 values.
func (r *Reader) Uint64s(n int) []uint64 {
	var out []uint64
	for len(out) < n && r.err == nil {
		m := min(n-len(out), chunk)
		start := len(out)
		out = append(out, make([]uint64, m)...)
		dst := out[start:]
		if littleEndian {
			r.read(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 8*len(dst)))
		} else {
			for i := range dst {
				dst[i] = r.U64()
			}
		}
	}
	if r.err != nil {
		return nil
	}
	return out
}

// Finish reads the trailing checksum and verifies it.
func (r *Reader) Finish() error {
	if r.err != nil {
		return r.err
	}
	want := r.crc.Sum32()
	var b [4]byte
	n, err := io.ReadFull(r.r, b[:])
	r.off += int64(n)
	if err != nil {
		return fmt.Errorf("%w: truncated checksum at offset %d", nearkit.ErrCorrupt, r.off)
	}
	if got := binary.LittleEndian.Uint32(b[:]); got != want {
		return fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x)", nearkit.ErrCorrupt, got, want)
	}
	return nil
}

// ReadFloat32s fills dst; on error dst is left partly written and Err
// reports why.
func (r *Reader) ReadFloat32s(dst []float32) { readWords(r, dst) }

// ReadUint32s fills dst; on error dst is left partly written and Err
// reports why.
func (r *Reader) ReadUint32s(dst []uint32) { readWords(r, dst) }

// readWords fills dst with little-endian 32-bit words: straight into its
// memory on little-endian machines, word by word (reinterpreting the
// bits) elsewhere.
func readWords[T float32 | uint32](r *Reader, dst []T) {
	if r.err != nil {
		return
	}
	if littleEndian {
		r.read(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)))
		return
	}
	for i := range dst {
		u := r.U32()
		dst[i] = *(*T)(unsafe.Pointer(&u))
	}
}

// LoadFile opens path and hands a buffered reader to read, closing the file
// afterwards. Index packages build their Load functions on it.
func LoadFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("nearkit: load %s: %w", path, err)
	}
	defer f.Close()
	v, err := read(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return v, fmt.Errorf("nearkit: load %s: %w", path, err)
	}
	return v, nil
}
