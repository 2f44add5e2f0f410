package hnsw

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/heap"
)

// Search appends to dst the (at most) k nearest neighbours of q, nearest
// first (ties by ascending ID), and returns the extended slice. opts.Ef is
// the beam width (0: the index's EfSearch; raised to k when smaller);
// opts.Filter restricts results to allowed IDs. Deleted vectors never
// appear. Searching an empty index returns dst unchanged and no error.
func (x *Index) Search(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions) ([]nearkit.Result, error) {
	return x.search(dst, q, k, opts, nil)
}

// SearchWithStats is Search that also adds its number of distance
// computations to st.Distances.
func (x *Index) SearchWithStats(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions, st *nearkit.SearchStats) ([]nearkit.Result, error) {
	return x.search(dst, q, k, opts, st)
}

func (x *Index) search(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions, st *nearkit.SearchStats) ([]nearkit.Result, error) {
	if err := check.K(k); err != nil {
		return dst, err
	}
	if err := check.Vector(q, x.dim); err != nil {
		return dst, err
	}
	if opts.Ef < 0 || opts.Ef > MaxEf {
		return dst, fmt.Errorf("%w: hnsw: Ef=%d out of range [0,%d]", nearkit.ErrInvalidConfig, opts.Ef, MaxEf)
	}
	g, err := x.enter() // Vacuum and Close wait for searches in flight
	if err != nil {
		return dst, err
	}
	defer x.leave(g)
	if x.entry.Load() == emptyEntry {
		return dst, nil
	}
	// No more results than slots exist: a huge k sizes nothing.
	k = min(k, int(x.nslots.Load()))
	ef := opts.Ef
	if ef == 0 {
		ef = x.efs
	}
	ef = max(ef, k)
	sc := x.getScratch()
	defer x.scratch.Put(sc)
	if x.metric.Normalizes() {
		sc.q = append(sc.q[:0], q...)
		distance.Normalize(sc.q)
		q = sc.q
	}
	var items []heap.Item
	if p := x.qgQuantizer(); p != nil && opts.Filter == nil {
		items = x.searchQG(sc, p, q, ef, x.ndeleted.Load() > 0)
	} else if sq := x.codec(); sq != nil {
		items = x.searchCodes(sc, sq, q, k, ef, opts.Filter)
	} else {
		// Unquantized, or an SQ8 index not trained yet.
		items, _ = searchWith(x, sc, &floatScorer{x: x, q: q}, q, k, ef, opts.Filter)
	}
	if len(items) > k {
		items = items[:k]
	}
	d := x.dir.Load()
	start := len(dst)
	for _, it := range items {
		dst = append(dst, nearkit.Result{ID: d.chunks[it.ID>>x.shift].labels[it.ID&x.mask], Distance: it.Dist})
	}
	// Slots order ties by slot; the contract orders them by the caller's ID.
	sortTies(dst[start:])
	if st != nil {
		st.Distances += sc.ndist
	}
	return dst, nil
}

// searchWith is the search through scorer s: the filtered strategies
// (filter.go) when f is set, else the greedy descent and the level-0 beam
// search of width ef. q is the query s was prepared from. It returns the
// (at most) ef best nodes, nearest first; exact reports distances that are
// float32 ones whatever s reads (the filtered exact strategy).
func searchWith[S scorers](x *Index, sc *scratch, s *S, q []float32, k, ef int, f nearkit.Filter) (items []heap.Item, exact bool) {
	if f != nil {
		return filteredSearch(x, sc, s, q, k, ef, f)
	}
	cur, curD := enterGraph(x, sc, s)
	searchLayer(x, sc, s, cur, curD, 0, ef, x.ndeleted.Load() > 0, nil)
	sc.items = sc.top.DrainSorted(sc.items[:0])
	return sc.items, false
}

// sortTies reorders runs of equal distance by ascending ID (insertion
// sort: runs are short and already sorted by distance).
func sortTies(rs []nearkit.Result) {
	for i := 1; i < len(rs); i++ {
		r := rs[i]
		j := i
		for j > 0 && rs[j-1].Distance == r.Distance && rs[j-1].ID > r.ID {
			rs[j] = rs[j-1]
			j--
		}
		rs[j] = r
	}
}

// SearchBatch searches len(queries)/Dim() contiguous queries on
// runtime.GOMAXPROCS(0) goroutines and returns one result slice per query.
// It stops early with ctx's error when ctx is cancelled.
func (x *Index) SearchBatch(ctx context.Context, queries []float32, k int, opts nearkit.SearchOptions) ([][]nearkit.Result, error) {
	if err := check.K(k); err != nil {
		return nil, err
	}
	if err := check.Vectors(queries, x.dim); err != nil {
		return nil, err
	}
	nq := len(queries) / x.dim
	out := make([][]nearkit.Result, nq)
	// Each result slice holds at most Len results, however large k is.
	rcap := min(k, x.Len())
	var next atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	workers := min(runtime.GOMAXPROCS(0), nq)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= nq {
					return
				}
				if i%16 == 0 {
					if err := ctx.Err(); err != nil {
						errOnce.Do(func() { firstErr = err })
						return
					}
				}
				r, err := x.Search(make([]nearkit.Result, 0, rcap), queries[i*x.dim:(i+1)*x.dim], k, opts)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				out[i] = r
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}
