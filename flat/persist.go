package flat

import (
	"fmt"
	"io"
	"math"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/binfmt"
	"github.com/nearkit/nearkit/internal/check"
)

const (
	magic   = "NKFLAT"
	version = 1
)

// WriteTo writes the index in the flat file format, version 1, through the
// checksummed little-endian framing of internal/binfmt:
//
//	magic   [8]byte  "NKFLAT\x00\x00"
//	version uint32   1
//	dim     uint32
//	metric  uint8    distance.Metric
//	count   uint64   number of vectors n
//	ids     [n]uint64 user IDs in slot order
//	vectors [n*dim]float32 row-major, as stored (normalised for Cosine)
//	crc     uint32   CRC-32C of everything before it
//
// The bytes depend only on the contents and slot order, never on map
// iteration order. WriteTo holds the read lock while writing.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	bw := binfmt.NewWriter(w, magic, version)
	bw.U32(uint32(x.dim))
	bw.U8(uint8(x.metric))
	bw.U64(uint64(len(x.ids)))
	bw.Uint64s(x.ids)
	bw.Float32s(x.data)
	n, err := bw.Finish()
	if err != nil {
		return n, fmt.Errorf("flat: write: %w", err)
	}
	return n, nil
}

// maxFileValues bounds count*dim in a file (16 GiB of float32, or what an
// int can count) so a corrupt header cannot make Read attempt an impossible
// index.
const maxFileValues = min(1<<32, math.MaxInt)

// Read decodes an index written by WriteTo. It returns an error wrapping
// nearkit.ErrIncompatible for another file type or format version, and
// nearkit.ErrCorrupt for a truncated stream, a checksum mismatch, or any
// value out of range (dimension, metric, count, non-finite vector values,
// duplicate IDs). It never panics, and allocates in proportion to the bytes
// actually present.
func Read(r io.Reader) (*Index, error) {
	br, err := binfmt.NewReader(r, magic, version)
	if err != nil {
		return nil, fmt.Errorf("flat: read: %w", err)
	}
	dim := br.U32()
	metric := distance.Metric(br.U8())
	if br.Err() == nil {
		if dim == 0 || dim > maxDim {
			br.Fail("dimension %d out of range 1..%d", dim, maxDim)
		} else if !metric.Valid() {
			br.Fail("invalid metric %d", uint8(metric))
		}
	}
	limit := uint64(maxLen)
	if dim > 0 {
		limit = min(limit, maxFileValues/uint64(dim))
	}
	n := br.Count("vector count", limit)
	ids := br.Uint64s(n)
	data := br.Float32s(n * int(dim))
	if err := br.Finish(); err != nil {
		return nil, fmt.Errorf("flat: read: %w", err)
	}
	if err := check.Stored(data, int(dim), metric); err != nil {
		return nil, fmt.Errorf("flat: read: %w", err)
	}
	x := newIndex(int(dim), metric)
	x.slots = make(map[uint64]uint32, n)
	for i, id := range ids {
		if _, dup := x.slots[id]; dup {
			return nil, fmt.Errorf("flat: read: %w: duplicate id %d", nearkit.ErrCorrupt, id)
		}
		x.slots[id] = uint32(i)
	}
	if n == 0 {
		ids, data = nil, nil
	}
	x.ids, x.data = ids, data
	return x, nil
}

// Load reads an index from the file at path (see Read).
func Load(path string) (*Index, error) {
	return binfmt.LoadFile(path, Read)
}

// Save writes the index to path crash-safely (see nearkit.SaveFile): path
// holds either its previous contents or the complete index.
func (x *Index) Save(path string) error {
	return nearkit.SaveFile(path, x)
}
