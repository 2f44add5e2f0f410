// Package record encodes and decodes the little-endian records that
// durable and collection write to their logs and snapshots: append-style
// encoding into a reused buffer, and a decoder over a byte slice whose
// first error sticks, that checks every length against the bytes left
// before allocating, so a damaged or forged record yields an error
// wrapping nearkit.ErrCorrupt, never a panic or a huge allocation.
package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/nearkit/nearkit"
)

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// AppendU8 appends a byte.
func AppendU8(b []byte, v uint8) []byte { return append(b, v) }

// AppendU32 appends a uint32.
func AppendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// AppendU64 appends a uint64.
func AppendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// AppendF64 appends a float64.
func AppendF64(b []byte, v float64) []byte { return AppendU64(b, math.Float64bits(v)) }

// AppendBytes appends a u32 length and p.
func AppendBytes(b []byte, p []byte) []byte { return append(AppendU32(b, uint32(len(p))), p...) }

// AppendString appends a u32 length and s.
func AppendString(b []byte, s string) []byte { return append(AppendU32(b, uint32(len(s))), s...) }

// AppendFloat32s appends v's values (no length).
func AppendFloat32s(b []byte, v []float32) []byte {
	if littleEndian {
		return append(b, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*4)...)
	}
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// AppendUint64s appends v's values (no length).
func AppendUint64s(b []byte, v []uint64) []byte {
	if littleEndian {
		return append(b, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*8)...)
	}
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b
}

// Decoder reads values from a byte slice; the first error sticks.
type Decoder struct {
	b   []byte
	off int
	err error
}

// NewDecoder decodes b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns the first error.
func (d *Decoder) Err() error { return d.err }

// Left returns the number of bytes not yet read.
func (d *Decoder) Left() int { return len(d.b) - d.off }

// Fail records an error wrapping nearkit.ErrCorrupt (unless one is
// already recorded).
func (d *Decoder) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: record offset %d: %s", nearkit.ErrCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.Fail("%d bytes wanted, %d left", n, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

// U8 reads a byte.
func (d *Decoder) U8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

// U32 reads a uint32.
func (d *Decoder) U32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

// U64 reads a uint64.
func (d *Decoder) U64() uint64 {
	if p := d.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// F64 reads a float64.
func (d *Decoder) F64() float64 { return math.Float64frombits(d.U64()) }

// Count reads a u32 count of items of at least each bytes apiece and
// checks it against the bytes left (and max).
func (d *Decoder) Count(each, max int) int {
	n := int(d.U32())
	if d.err == nil && (n > max || n*each > d.Left()) {
		d.Fail("count %d of %d-byte items exceeds the %d bytes left (or the limit %d)", n, each, d.Left(), max)
		return 0
	}
	return n
}

// Bytes reads a u32 length and that many bytes, returned as a slice of the
// decoded buffer (copy it to keep it beyond the buffer's life).
func (d *Decoder) Bytes() []byte {
	n := int(d.U32())
	return d.take(n)
}

// String reads a u32 length and that many bytes as a string.
func (d *Decoder) String() string { return string(d.Bytes()) }

// Float32s reads n float32 values into dst (len(dst) == n).
func (d *Decoder) Float32s(dst []float32) {
	p := d.take(len(dst) * 4)
	if p == nil {
		return
	}
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)*4), p)
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
}

// Uint64s reads n uint64 values into dst.
func (d *Decoder) Uint64s(dst []uint64) {
	p := d.take(len(dst) * 8)
	if p == nil {
		return
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(p[8*i:])
	}
}

// Finish returns the first error, or one wrapping nearkit.ErrCorrupt when
// bytes are left over.
func (d *Decoder) Finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.Fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}
