package nearkit

import (
	"context"
	"io"

	"github.com/nearkit/nearkit/distance"
)

// Index is the contract every nearkit index satisfies, so applications and
// the benchmark harness can drive any of them the same way.
//
// Unless an implementation documents otherwise, all methods are safe for
// concurrent use.
type Index interface {
	// Add inserts one vector under id. The vector is copied.
	Add(id uint64, vec []float32) error
	// AddBatch inserts len(ids) vectors stored contiguously in vecs
	// (len(vecs) == len(ids)*Dim()), in parallel on runtime.GOMAXPROCS(0)
	// goroutines. It validates every vector before inserting any.
	AddBatch(ctx context.Context, ids []uint64, vecs []float32) error
	// Search appends to dst the (at most) k nearest neighbours of q in
	// ascending distance (ties by ascending ID) and returns the extended
	// slice. Searching an empty index returns dst unchanged and no error.
	Search(dst []Result, q []float32, k int, opts SearchOptions) ([]Result, error)
	// SearchBatch searches len(queries)/Dim() contiguous queries in
	// parallel on runtime.GOMAXPROCS(0) goroutines and returns one result
	// slice per query.
	SearchBatch(ctx context.Context, queries []float32, k int, opts SearchOptions) ([][]Result, error)
	// Delete removes id; it returns an error wrapping ErrUnknownID when the
	// index does not hold it.
	Delete(id uint64) error
	// Len returns the number of vectors held (deleted ones excluded).
	Len() int
	// Dim returns the vector dimension.
	Dim() int
	// Metric returns the distance metric.
	Metric() distance.Metric
	// MemoryUsage returns the bytes held by the index's own structures.
	MemoryUsage() int64
	// WriteTo serialises the index in its versioned, checksummed format.
	io.WriterTo
}

// StatsSearcher is implemented by indexes that can count their work during a
// search (distance computations), for benchmarks.
type StatsSearcher interface {
	SearchWithStats(dst []Result, q []float32, k int, opts SearchOptions, st *SearchStats) ([]Result, error)
}
