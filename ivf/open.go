package ivf

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unsafe"

	"github.com/nearkit/nearkit"
)

// OpenOptions tune Open.
type OpenOptions struct {
	// VerifyChecksum reads the whole file once to check its CRC-32C. The
	// structure is validated either way (counts, IDs, finite vectors), so
	// without it a flipped bit in a code goes unnoticed but cannot crash a
	// search.
	VerifyChecksum bool
}

// Open maps an index file written by Save read-only and uses its IDs,
// codes and vectors in place, without copying them to the heap; the
// centroids, codebooks and tables are decoded into memory. Add, AddBatch,
// Delete, Update and Train return errors wrapping nearkit.ErrReadOnly.
// Close releases the mapping. On hosts without mmap, or big-endian ones,
// Open loads the file into memory (read-only all the same).
func Open(path string, opts OpenOptions) (*Index, error) {
	data, mapped, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("ivf: open %s: %w", path, err)
	}
	if !littleEndian {
		closeMapping(data, mapped)
		x, err := Load(path)
		if err == nil {
			x.readOnly = true
		}
		return x, err
	}
	x, err := openView(data, opts)
	if err != nil {
		closeMapping(data, mapped)
		return nil, fmt.Errorf("ivf: open %s: %w", path, err)
	}
	x.readOnly = true
	x.seen = nil // no Add will need it
	x.mapping, x.mapped = data, mapped
	return x, nil
}

// Close releases the mapping of an index from Open; the index is then
// empty. It is a no-op for other indexes.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mapping == nil {
		return nil
	}
	x.lists = make([]list, x.cfg.NList)
	x.loc, x.seen = nil, nil
	x.n = 0
	data := x.mapping
	x.mapping = nil
	return closeMapping(data, x.mapped)
}

func (x *Index) checkWritable() error {
	if x.readOnly {
		return fmt.Errorf("%w: ivf: index opened with Open", nearkit.ErrReadOnly)
	}
	return nil
}

func openView(data []byte, opts OpenOptions) (*Index, error) {
	v := &view{data: data}
	var want [8]byte
	copy(want[:], magic)
	if len(data) < 16 || [8]byte(data[:8]) != want {
		return nil, fmt.Errorf("%w: not an ivf index file", nearkit.ErrIncompatible)
	}
	if ver := binary.LittleEndian.Uint32(data[8:]); ver == 0 || ver > version {
		return nil, fmt.Errorf("%w: ivf format version %d, this build reads up to %d", nearkit.ErrIncompatible, ver, version)
	}
	v.off = 12
	v.verify = opts.VerifyChecksum
	return decode(v)
}

// view decodes from a byte slice, returning aligned arrays in place.
type view struct {
	data   []byte
	off    int
	err    error
	verify bool
}

func (v *view) take(n int) []byte {
	if v.err != nil {
		return nil
	}
	if n < 0 || n > len(v.data)-4-v.off {
		v.err = fmt.Errorf("%w: ivf: truncated at offset %d", nearkit.ErrCorrupt, v.off)
		return nil
	}
	b := v.data[v.off : v.off+n : v.off+n]
	v.off += n
	return b
}

func (v *view) U8() uint8 {
	if b := v.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (v *view) U32() uint32 {
	if b := v.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (v *view) U64() uint64 {
	if b := v.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (v *view) Count(what string, max uint64) int {
	n := v.U64()
	if v.err == nil && n > max {
		v.Fail("%s = %d exceeds the limit %d", what, n, max)
	}
	if v.err != nil {
		return 0
	}
	return int(n)
}

func (v *view) Bytes(n int) []byte { return v.take(n) }

func (v *view) Float32s(n int) []float32 {
	if n > (len(v.data)-v.off)/4 {
		v.take(len(v.data)) // records the truncation
		return nil
	}
	aligned := uintptr(unsafe.Pointer(unsafe.SliceData(v.data)))%4 == 0 && v.off%4 == 0
	b := v.take(4 * n)
	if b == nil || n == 0 {
		return nil
	}
	if aligned {
		return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n)
	}
	out := make([]float32, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), 4*n), b)
	return out
}

func (v *view) Uint64s(n int) []uint64 {
	if n > (len(v.data)-v.off)/8 {
		v.take(len(v.data))
		return nil
	}
	aligned := uintptr(unsafe.Pointer(unsafe.SliceData(v.data)))%8 == 0 && v.off%8 == 0
	b := v.take(8 * n)
	if b == nil || n == 0 {
		return nil
	}
	if aligned {
		return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
	}
	out := make([]uint64, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), 8*n), b)
	return out
}

func (v *view) Offset() int64 { return int64(v.off) }

func (v *view) Fail(format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf("%w: ivf: at offset %d: "+format, append([]any{nearkit.ErrCorrupt, v.off}, args...)...)
	}
}

func (v *view) Err() error { return v.err }

func (v *view) Finish() error {
	if v.err != nil {
		return v.err
	}
	if v.off != len(v.data)-4 {
		return fmt.Errorf("%w: ivf: %d trailing bytes", nearkit.ErrCorrupt, len(v.data)-4-v.off)
	}
	if v.verify {
		sum := crc32.Checksum(v.data[:v.off], crc32.MakeTable(crc32.Castagnoli))
		if sum != binary.LittleEndian.Uint32(v.data[v.off:]) {
			return fmt.Errorf("%w: ivf: checksum mismatch", nearkit.ErrCorrupt)
		}
	}
	return nil
}
