// Package flat is the exact (brute-force) index: it compares a query with
// every stored vector and returns the true k nearest neighbours. It is the
// ground truth the approximate indexes are measured against, and the right
// index for up to a few hundred thousand vectors when exact answers matter.
//
// Vectors live in one contiguous row-major []float32, so a search is a
// sequential scan through the distance package's batch kernels; SearchBatch
// tiles queries × rows so each block of rows is read from memory once per
// block of queries rather than once per query. Results come in ascending
// distance (smaller is closer for every metric, see distance.Metric), ties
// by ascending ID, and are exactly those of a brute-force comparison with
// the same kernels, filters included.
//
// An Index is safe for concurrent use, and saves to a versioned,
// checksummed file (WriteTo, Save; Read, Load).
package flat

import (
	"context"
	"fmt"
	"iter"
	"math"
	"runtime"
	"sync"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
)

// Config describes an index. The zero Metric is L2.
type Config struct {
	// Dim is the vector dimension; it must be positive.
	Dim int
	// Metric is the distance metric (distance.L2 by default).
	Metric distance.Metric
}

// maxDim bounds the dimension, so a corrupt file cannot claim an absurd
// one.
const maxDim = 1 << 20

// maxLen is the largest number of vectors: slots are uint32 (and counts
// ints, on 32-bit platforms).
const maxLen = min(1<<32-1, math.MaxInt)

// Index is an exact nearest-neighbour index.
//
// All methods are safe for concurrent use: searches (Search, SearchBatch,
// Vector, All, WriteTo, ...) share a read lock and run in parallel with one
// another, while Add, AddBatch and Delete take the lock exclusively.
type Index struct {
	mu      sync.RWMutex
	dim     int
	metric  distance.Metric
	kernels distance.Kernels

	data  []float32         // row-major, len(ids)*dim values
	ids   []uint64          // slot → user ID
	slots map[uint64]uint32 // user ID → slot

	pool sync.Pool // *scratch
}

var (
	_ nearkit.Index         = (*Index)(nil)
	_ nearkit.StatsSearcher = (*Index)(nil)
)

// New returns an empty index. It returns an error wrapping
// nearkit.ErrInvalidConfig when cfg.Dim is not positive (or absurdly large)
// or cfg.Metric is not a defined metric.
func New(cfg Config) (*Index, error) {
	if cfg.Dim <= 0 || cfg.Dim > maxDim {
		return nil, fmt.Errorf("%w: flat: Dim=%d, want 1..%d", nearkit.ErrInvalidConfig, cfg.Dim, maxDim)
	}
	if !cfg.Metric.Valid() {
		return nil, fmt.Errorf("%w: flat: metric %v", nearkit.ErrInvalidConfig, cfg.Metric)
	}
	return newIndex(cfg.Dim, cfg.Metric), nil
}

func newIndex(dim int, m distance.Metric) *Index {
	return &Index{
		dim:     dim,
		metric:  m,
		kernels: m.Kernels(),
		slots:   make(map[uint64]uint32),
	}
}

// Add inserts vec under id; the vector is copied (and normalised for the
// Cosine metric). It returns an error wrapping nearkit.ErrDimension or
// nearkit.ErrInvalidVector for a bad vector and nearkit.ErrDuplicateID when
// id is already present.
func (x *Index) Add(id uint64, vec []float32) error {
	if err := check.Vector(vec, x.dim); err != nil {
		return fmt.Errorf("flat: add %d: %w", id, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.slots[id]; ok {
		return fmt.Errorf("flat: add: %w: %d", nearkit.ErrDuplicateID, id)
	}
	if len(x.ids) >= maxLen {
		return fmt.Errorf("%w: flat: the index holds the maximum of %d vectors", nearkit.ErrInvalidConfig, maxLen)
	}
	start := len(x.data)
	x.data = append(x.data, vec...)
	if x.metric.Normalizes() {
		normalize(x.data[start:])
	}
	x.slots[id] = uint32(len(x.ids))
	x.ids = append(x.ids, id)
	return nil
}

// addChunk is the number of vectors one AddBatch goroutine copies between
// context checks.
const addChunk = 4096

// AddBatch inserts len(ids) vectors stored contiguously in vecs. It checks
// every vector and ID (against the index and within the batch) before
// inserting any, so on error the index is unchanged. The copy (and, for
// Cosine, the normalisation) runs on runtime.GOMAXPROCS(0) goroutines; ctx
// is checked between chunks and a cancelled batch is rolled back.
func (x *Index) AddBatch(ctx context.Context, ids []uint64, vecs []float32) error {
	if err := check.Batch(vecs, x.dim, len(ids)); err != nil {
		return fmt.Errorf("flat: add batch: %w", err)
	}
	if len(ids) == 0 {
		return ctx.Err()
	}
	seen := make(map[uint64]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			return fmt.Errorf("flat: add batch: %w: %d appears twice in the batch", nearkit.ErrDuplicateID, id)
		}
		seen[id] = struct{}{}
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		if _, ok := x.slots[id]; ok {
			return fmt.Errorf("flat: add batch: %w: %d", nearkit.ErrDuplicateID, id)
		}
	}
	if len(x.ids)+len(ids) > maxLen {
		return fmt.Errorf("%w: flat: the index would exceed the maximum of %d vectors", nearkit.ErrInvalidConfig, maxLen)
	}

	oldRows := len(x.ids)
	oldLen := len(x.data)
	x.data = grow(x.data, len(vecs))
	dst := x.data[oldLen:]
	if err := parallelChunks(ctx, len(ids), addChunk, func(lo, hi int) {
		d := dst[lo*x.dim : hi*x.dim]
		copy(d, vecs[lo*x.dim:hi*x.dim])
		if x.metric.Normalizes() {
			for r := 0; r < hi-lo; r++ {
				normalize(d[r*x.dim : (r+1)*x.dim])
			}
		}
	}); err != nil {
		x.data = x.data[:oldLen]
		return fmt.Errorf("flat: add batch: %w", err)
	}
	x.ids = append(x.ids, ids...)
	for i, id := range ids {
		x.slots[id] = uint32(oldRows + i)
	}
	return nil
}

// grow extends s by n elements, reallocating with headroom when needed.
func grow(s []float32, n int) []float32 {
	if cap(s)-len(s) < n {
		ns := make([]float32, len(s), len(s)+n+len(s)/4)
		copy(ns, s)
		s = ns
	}
	return s[:len(s)+n]
}

// parallelChunks calls fn on [lo,hi) chunks of [0,n) from up to
// GOMAXPROCS goroutines, checking ctx before each chunk. It returns
// ctx.Err() if the context ended before all chunks ran.
func parallelChunks(ctx context.Context, n, chunk int, fn func(lo, hi int)) error {
	chunks := (n + chunk - 1) / chunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for lo := 0; lo < n; lo += chunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			fn(lo, min(lo+chunk, n))
		}
		return ctx.Err()
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
	)
	for range workers {
		wg.Go(func() {
			for {
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				c := next
				next++
				mu.Unlock()
				if c >= chunks {
					return
				}
				lo := c * chunk
				fn(lo, min(lo+chunk, n))
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// Delete removes id. The last row moves into the freed slot, so deletion is
// O(dim) and storage stays dense. It returns an error wrapping
// nearkit.ErrUnknownID when id is not present.
func (x *Index) Delete(id uint64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	s, ok := x.slots[id]
	if !ok {
		return fmt.Errorf("flat: delete: %w: %d", nearkit.ErrUnknownID, id)
	}
	last := uint32(len(x.ids) - 1)
	if s != last {
		d := x.dim
		copy(x.data[int(s)*d:int(s+1)*d], x.data[int(last)*d:int(last+1)*d])
		moved := x.ids[last]
		x.ids[s] = moved
		x.slots[moved] = s
	}
	x.ids = x.ids[:last]
	x.data = x.data[:int(last)*x.dim]
	delete(x.slots, id)
	// Give memory back after mass deletion; a quarter keeps the amortised
	// cost of alternating Add and Delete constant.
	if cap(x.ids) > 1024 && len(x.ids) < cap(x.ids)/4 {
		x.ids = append([]uint64(nil), x.ids...)
		x.data = append([]float32(nil), x.data...)
		slots := make(map[uint64]uint32, len(x.ids))
		for i, id := range x.ids {
			slots[id] = uint32(i)
		}
		x.slots = slots
	}
	return nil
}

// Len returns the number of stored vectors.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids)
}

// Dim returns the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Metric returns the distance metric.
func (x *Index) Metric() distance.Metric { return x.metric }

// MemoryUsage returns the bytes held by the vectors, the slot→ID table and
// an estimate of the ID→slot map (Go maps hold 12 bytes of key and value
// plus a control byte per slot at up to 7/8 load).
func (x *Index) MemoryUsage() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return int64(cap(x.data))*4 + int64(cap(x.ids))*8 + int64(len(x.slots))*13*8/7
}

// Vector returns a copy of the vector stored under id (normalised, for the
// Cosine metric) and whether id is present.
func (x *Index) Vector(id uint64) ([]float32, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.slots[id]
	if !ok {
		return nil, false
	}
	return append([]float32(nil), x.row(s)...), true
}

// All walks the stored vectors in slot order (an order that changes with
// deletions). The slice passed to each step is a buffer reused for the next
// step: copy it to keep it. The walk holds the read lock, so the loop body
// must not call Add, AddBatch or Delete on the index.
func (x *Index) All() iter.Seq2[uint64, []float32] {
	return func(yield func(uint64, []float32) bool) {
		x.mu.RLock()
		defer x.mu.RUnlock()
		buf := make([]float32, x.dim)
		for s, id := range x.ids {
			copy(buf, x.row(uint32(s)))
			if !yield(id, buf) {
				return
			}
		}
	}
}

func (x *Index) row(s uint32) []float32 {
	d := x.dim
	return x.data[int(s)*d : int(s+1)*d : int(s+1)*d]
}
