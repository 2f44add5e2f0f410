package ivf

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"unsafe"

	"github.com/nearkit/nearkit"
)

// VectorSource supplies full-precision vectors by ID for re-ranking, so
// that a service can keep raw vectors in its own store. Vector returns the
// vector of id, either written into buf (len Dim) or as a view of the
// source's own storage that stays valid until the search returns, and
// false when the source does not hold id (the candidate is then dropped).
// It is called from concurrent searches and must be safe for concurrent
// use.
type VectorSource interface {
	Vector(id uint64, buf []float32) ([]float32, bool)
}

// SetVectors sets the source re-ranking reads full vectors from, for
// indexes without KeepVectors; nil unsets it. The source is not saved
// with the index. Safe for concurrent use with searches.
func (x *Index) SetVectors(src VectorSource) {
	if src == nil {
		x.vectors.Store(nil)
		return
	}
	x.vectors.Store(&sourceBox{src: src})
}

// DenseVectors is a VectorSource over row-major vectors in memory: ID i
// is row i. It does not copy the slice.
type DenseVectors struct {
	data []float32
	dim  int
}

// NewDenseVectors wraps data (len(data)/dim rows); it returns an error
// wrapping nearkit.ErrDimension when len(data) is not a multiple of dim.
func NewDenseVectors(data []float32, dim int) (*DenseVectors, error) {
	if dim < 1 || len(data)%dim != 0 {
		return nil, fmt.Errorf("%w: ivf: %d floats are not rows of %d", nearkit.ErrDimension, len(data), dim)
	}
	return &DenseVectors{data: data, dim: dim}, nil
}

// Vector returns a view of row id.
func (d *DenseVectors) Vector(id uint64, _ []float32) ([]float32, bool) {
	if id >= uint64(len(d.data)/d.dim) {
		return nil, false
	}
	i := int(id) * d.dim
	return d.data[i : i+d.dim], true
}

// VectorFile is a VectorSource over an fvecs file (per row a little-endian
// int32 dimension, then that many float32s) mapped into memory, so that
// re-ranking reads the vectors without a copy on the heap: ID i is row i.
// On hosts without mmap, or big-endian ones, the file is read into memory.
// Safe for concurrent use; Close unmaps it, after which no search may use
// it.
type VectorFile struct {
	data   []byte
	floats []float32
	dim    int
	rows   int
	mapped bool
}

// OpenVectorFile maps the fvecs file at path, whose rows must all have
// dimension dim. Errors wrap nearkit.ErrCorrupt for a file that is not
// whole rows of dim, or the os error.
func OpenVectorFile(path string, dim int) (*VectorFile, error) {
	if dim < 1 || dim > MaxDim {
		return nil, fmt.Errorf("%w: ivf: dimension %d", nearkit.ErrInvalidConfig, dim)
	}
	data, mapped, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("ivf: %w", err)
	}
	row := 4 + 4*dim
	if len(data)%row != 0 {
		closeMapping(data, mapped)
		return nil, fmt.Errorf("%w: ivf: %s: %d bytes are not rows of dimension %d", nearkit.ErrCorrupt, path, len(data), dim)
	}
	f := &VectorFile{data: data, dim: dim, rows: len(data) / row, mapped: mapped}
	// Check the first and last rows' headers; the others are checked as
	// they are read.
	if f.rows > 0 && (binary.LittleEndian.Uint32(data) != uint32(dim) || binary.LittleEndian.Uint32(data[len(data)-row:]) != uint32(dim)) {
		f.Close()
		return nil, fmt.Errorf("%w: ivf: %s: rows are not of dimension %d", nearkit.ErrCorrupt, path, dim)
	}
	if f.rows > 0 && littleEndian {
		f.floats = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(data))), len(data)/4)
	}
	return f, nil
}

// Len returns the number of rows.
func (f *VectorFile) Len() int { return f.rows }

// Vector returns row id: a view of the mapping, or decoded into buf on
// big-endian hosts. A row whose header is not the dimension is reported
// as absent.
func (f *VectorFile) Vector(id uint64, buf []float32) ([]float32, bool) {
	if id >= uint64(f.rows) {
		return nil, false
	}
	stride := 1 + f.dim
	off := int(id) * stride
	if f.floats != nil {
		if math.Float32bits(f.floats[off]) != uint32(f.dim) {
			return nil, false
		}
		return f.floats[off+1 : off+stride], true
	}
	b := f.data[4*off : 4*(off+stride)]
	if binary.LittleEndian.Uint32(b) != uint32(f.dim) || len(buf) < f.dim {
		return nil, false
	}
	for i := range f.dim {
		buf[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4+4*i:]))
	}
	return buf[:f.dim], true
}

// Close releases the mapping.
func (f *VectorFile) Close() error {
	data := f.data
	f.data, f.floats, f.rows = nil, nil, 0
	return closeMapping(data, f.mapped)
}

func closeMapping(data []byte, mapped bool) error {
	if mapped && data != nil {
		return unmapFile(data)
	}
	return nil
}

func readWhole(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	return b, false, err
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
