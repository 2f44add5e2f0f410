package hnsw

import (
	"unsafe"

	"github.com/nearkit/nearkit/internal/hugepage"
)

// A float index stores each slot as one record, as hnswlib does: the
// vector, then the level-0 link list, padded to whole cache lines. Search
// scores a node (streaming its vector) long before it expands it; with the
// list right after the vector, the hardware prefetcher that streams the
// vector brings the list along, so expanding a node rarely waits for
// memory. Records are 64-byte aligned so a vector spans no more cache
// lines than it must.
//
// An SQ8 index searches codes, not vectors, so a record would put the
// list beside the wrong data; it keeps separate arrays. So does an index
// opened from a file (persist.go), whose sections are separate.

// recordWords is the record size in 4-byte words for dim and stride0.
func recordWords(dim, stride0 int) int {
	return (dim + stride0 + 15) &^ 15
}

// setLayout chooses the strides; init calls it.
func (x *Index) setLayout(records bool) {
	if records {
		x.vstride = recordWords(x.dim, x.stride0)
		x.lstride = x.vstride
		return
	}
	x.vstride, x.lstride = x.dim, x.stride0
}

// records reports whether vectors and lists share record arrays.
func (x *Index) records() bool { return x.vstride != x.dim || x.lstride != x.stride0 }

// newRecords allocates the vector and level-0 list storage of n slots.
// Large chunks ask for huge pages (see internal/hugepage).
func (x *Index) newRecords(n int) ([]float32, []uint32) {
	if !x.records() {
		return hugepage.Float32s(n * x.dim), hugepage.Uint32s(n * x.stride0)
	}
	w := hugepage.Uint32s(n * x.vstride)
	vecs := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
	return vecs, w[x.dim:]
}

// slotBytes is the storage of one slot's vector and level-0 list.
func (x *Index) slotBytes() int64 {
	if x.records() {
		return int64(x.vstride) * 4
	}
	return int64(x.dim)*4 + int64(x.stride0)*4
}

// chunkBytes is the most vector and list storage per chunk; chunks hold a
// power of two of slots, so they land between half of it and all of it.
// At 4 MB and up a chunk gets huge pages (internal/hugepage), so 8 MB
// makes every chunk qualify. An index with Config.Capacity below a chunk
// gets a chunk of its capacity instead.
const chunkBytes = 8 << 20
