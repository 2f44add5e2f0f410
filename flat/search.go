package flat

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/prefetch"
)

// cand is a candidate result. The heap holds user IDs rather than slots
// (unlike internal/heap.Item): ties must break by ascending user ID, and
// slot order is not ID order once rows are appended or swap-deleted.
type cand struct {
	dist float32
	id   uint64
}

func candLess(a, b cand) bool {
	return a.dist < b.dist || (a.dist == b.dist && a.id < b.id)
}

// topk is a bounded max-heap keeping the k nearest candidates seen; c[0]
// is the farthest kept. It does not allocate once c has grown to k.
type topk struct {
	c []cand
	k int
}

func (h *topk) reset(k int) { h.c = h.c[:0]; h.k = k }

// full reports whether the heap holds k candidates, so a new one must beat
// c[0] to enter.
func (h *topk) full() bool { return len(h.c) >= h.k }

// push adds it if the heap is not full, else replaces the farthest when it
// is nearer. The caller has already checked it may be nearer.
func (h *topk) push(it cand) {
	s := h.c
	if len(s) < h.k {
		s = append(s, it)
		i := len(s) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !candLess(s[p], it) {
				break
			}
			s[i] = s[p]
			i = p
		}
		s[i] = it
		h.c = s
		return
	}
	if !candLess(it, s[0]) {
		return
	}
	h.siftDown(it)
}

// siftDown puts it at the root and restores the heap.
func (h *topk) siftDown(it cand) {
	s := h.c
	n := len(s)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && candLess(s[l], s[r]) {
			c = r
		}
		if !candLess(it, s[c]) {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = it
}

// drain appends the candidates to dst in ascending order and empties the
// heap.
func (h *topk) drain(dst []nearkit.Result) []nearkit.Result {
	n := len(h.c)
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	for i := n - 1; i >= 0; i-- {
		top := h.c[0]
		last := h.c[len(h.c)-1]
		h.c = h.c[:len(h.c)-1]
		if len(h.c) > 0 {
			h.siftDown(last)
		}
		dst[start+i] = nearkit.Result{ID: top.id, Distance: top.dist}
	}
	return dst
}

// scan offers rows [base, base+len(dists)) with their distances to h. A row
// is only looked at further, and the filter only asked, when its distance
// can enter the heap: once the heap is full almost every row is rejected by
// one compare.
func (h *topk) scan(dists []float32, ids []uint64, base int, f nearkit.Filter) {
	ids = ids[base : base+len(dists)]
	bound := float32(math.Inf(1))
	if h.full() {
		bound = h.c[0].dist
	}
	for i, d := range dists {
		// NaN (an overflowing inner product of huge finite vectors)
		// fails this test and is ranked as +Inf below.
		if d > bound {
			continue
		}
		if d != d {
			d = float32(math.Inf(1))
			if bound < d {
				continue
			}
		}
		id := ids[i]
		if f != nil && !f.Allowed(id) {
			continue
		}
		h.push(cand{d, id})
		if h.full() {
			bound = h.c[0].dist
		}
	}
}

// scanRows is scan for gathered rows, which the filter already allowed.
func (h *topk) scanRows(dists []float32, rows []uint32, ids []uint64) {
	rows = rows[:len(dists)]
	bound := float32(math.Inf(1))
	if h.full() {
		bound = h.c[0].dist
	}
	for i, d := range dists {
		if d > bound {
			continue
		}
		if d != d {
			d = float32(math.Inf(1))
			if bound < d {
				continue
			}
		}
		h.push(cand{d, ids[rows[i]]})
		if h.full() {
			bound = h.c[0].dist
		}
	}
}

// scanBlock is the number of rows one single-query kernel call scores.
const scanBlock = 1024 // a multiple of 4: see SearchBatch's row blocks

// scratch is the per-search working memory, pooled so that steady-state
// searches allocate nothing.
type scratch struct {
	q     []float32
	dists []float32
	rows  []uint32
	heap  topk
}

func (x *Index) getScratch() *scratch {
	if s, ok := x.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{dists: make([]float32, scanBlock)}
}

// Search appends to dst the min(k, Len()) stored vectors nearest to q, in
// ascending distance with ties broken by ascending ID, and returns the
// extended slice. Distances are smaller-is-closer (see distance.Metric);
// rows whose distance overflows to NaN rank last. opts.Filter, when set,
// restricts the answer to allowed IDs: during a scan it is asked only about
// rows near enough to enter the current top k, and a *nearkit.AllowList
// allowing few of the stored IDs is not scanned at all, only its IDs'
// vectors are scored. The other options are ignored.
//
// It returns an error wrapping nearkit.ErrDimension, ErrInvalidVector or
// ErrInvalidK for bad input. Searching an empty index returns dst
// unchanged. With cap(dst)-len(dst) >= k, Search does not allocate.
func (x *Index) Search(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions) ([]nearkit.Result, error) {
	return x.search(dst, q, k, opts, nil)
}

// SearchWithStats is Search that also adds the number of distance
// computations to st.Distances: one per stored vector, or one per allowed
// stored ID when a selective AllowList avoided the scan.
func (x *Index) SearchWithStats(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions, st *nearkit.SearchStats) ([]nearkit.Result, error) {
	return x.search(dst, q, k, opts, st)
}

func (x *Index) search(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions, st *nearkit.SearchStats) ([]nearkit.Result, error) {
	if err := check.Vector(q, x.dim); err != nil {
		return dst, fmt.Errorf("flat: search: %w", err)
	}
	if err := check.K(k); err != nil {
		return dst, fmt.Errorf("flat: search: %w", err)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.ids)
	if n == 0 {
		return dst, nil
	}
	s := x.getScratch()
	defer x.pool.Put(s)
	if x.metric.Normalizes() {
		s.q = append(s.q[:0], q...)
		normalize(s.q)
		q = s.q
	}
	s.heap.reset(min(k, n))
	scored := x.searchInto(s, q, opts.Filter)
	if st != nil {
		st.Distances += int64(scored)
	}
	return s.heap.drain(dst), nil
}

// An AllowList is searched by scoring only its IDs' rows (a map lookup and
// a Gather each) rather than scanning every row when that is cheaper. The
// cost model, in rough nanoseconds on an AVX-512 core with the data in
// cache: a scanned row costs dim/4, a gathered one 32 + dim/4, and the
// gather must win by 2× to be chosen. Measured (Search, k=10, one core):
// the crossover is near 1/8 of the rows allowed at dim 16 and beyond 1/3 at
// dim 128; at dim 784 the gather was 2× faster with 39% allowed and 90×
// with 1.6%.
func (x *Index) selective(f nearkit.Filter) *nearkit.AllowList {
	al, ok := f.(*nearkit.AllowList)
	if !ok {
		return nil
	}
	d := int64(x.dim)
	if int64(al.Count())*(64+d/2) < int64(len(x.ids))*(d/4) {
		return al
	}
	return nil
}

// searchInto offers the rows allowed by f to s.heap (already reset) and
// returns the number of distances computed. The caller holds the read
// lock.
func (x *Index) searchInto(s *scratch, q []float32, f nearkit.Filter) int {
	if al := x.selective(f); al != nil {
		s.rows = x.allowedRows(al, s.rows[:0])
		x.gatherInto(&s.heap, q, s.rows, s.dists)
		return len(s.rows)
	}
	n := len(x.ids)
	d := x.dim
	for lo := 0; lo < n; lo += scanBlock {
		hi := min(lo+scanBlock, n)
		dists := s.dists[:hi-lo]
		x.kernels.Batch(q, x.data[lo*d:hi*d], d, dists)
		s.heap.scan(dists, x.ids, lo, f)
	}
	return n
}

// allowedRows appends the slots of al's IDs present in the index to rows,
// sorted so the gathers walk memory forwards.
func (x *Index) allowedRows(al *nearkit.AllowList, rows []uint32) []uint32 {
	al.All(func(id uint64) bool {
		if slot, ok := x.slots[id]; ok {
			rows = append(rows, slot)
		}
		return true
	})
	slices.Sort(rows)
	return rows
}

// gatherInto scores q against the given rows, scanBlock at a time, and
// offers them to h. len(dists) must be at least scanBlock.
func (x *Index) gatherInto(h *topk, q []float32, rows []uint32, dists []float32) {
	for lo := 0; lo < len(rows); lo += scanBlock {
		part := rows[lo:min(lo+scanBlock, len(rows))]
		ds := dists[:len(part)]
		x.kernels.Gather(q, x.data, x.dim, part, ds)
		h.scanRows(ds, part, x.ids)
	}
}

// normalize scales v to unit length for the Cosine metric, for stored
// vectors and queries alike. It works in float64, unlike
// distance.Normalize, so vectors whose squared norm overflows float32 (any
// element above about 1.8e19) are normalised too. A zero vector has no
// direction and stays zero: its cosine distance to anything is then 1.
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}

// Tiling of SearchBatch: a block of up to maxQueryBlock queries is scored
// against a block of rows small enough to stay in the L1 data cache
// (rowBlockBytes) while every query of the block reads it, and the next row
// block is prefetched meanwhile. Memory traffic per query drops by the
// query-block size; the queries themselves are re-read from L2. Measured on
// 60,000×784 (AVX-512, one core, CPU time): half of L1 beat a quarter of
// L1, a full L1 and 256 KB; 32 queries with prefetch matched 64 without,
// and were 8× the scan rate of one query at a time.
const maxQueryBlock = 32

// rowBlockBytes is half the L1 data cache (leaving room for the query and
// the distances), 16 KB when the size is unknown.
var rowBlockBytes = func() int {
	l1 := cpuid.CPU.Cache.L1D
	if l1 <= 0 {
		return 16 << 10
	}
	return min(max(l1/2, 8<<10), 64<<10)
}()

// ctxEvery is how many row blocks a SearchBatch worker scores between
// checks of its context.
const ctxEvery = 64

// SearchBatch searches the len(queries)/Dim() queries stored contiguously in
// queries and returns one result slice per query, as Search would. The work
// runs on runtime.GOMAXPROCS(0) goroutines, in blocks of queries × rows
// (each block of rows is read from memory once per block of queries); with
// fewer query blocks than goroutines the rows are split among goroutines
// too. ctx is checked between blocks; on cancellation it returns ctx's
// error.
func (x *Index) SearchBatch(ctx context.Context, queries []float32, k int, opts nearkit.SearchOptions) ([][]nearkit.Result, error) {
	return x.searchBatch(ctx, queries, k, opts, tiling{maxQueryBlock, rowBlockBytes, true})
}

// tiling sets the block sizes of searchBatch, so benchmarks can compare
// them (queries=1 is no tiling).
type tiling struct {
	queries, rowBytes int
	prefetch          bool
}

func (x *Index) searchBatch(ctx context.Context, queries []float32, k int, opts nearkit.SearchOptions, tl tiling) ([][]nearkit.Result, error) {
	if err := check.Vectors(queries, x.dim); err != nil {
		return nil, fmt.Errorf("flat: search batch: %w", err)
	}
	if err := check.K(k); err != nil {
		return nil, fmt.Errorf("flat: search batch: %w", err)
	}
	d := x.dim
	nq := len(queries) / d
	out := make([][]nearkit.Result, nq)
	if nq == 0 {
		return out, ctx.Err()
	}
	if x.metric.Normalizes() {
		queries = slices.Clone(queries)
		for i := range nq {
			normalize(queries[i*d : (i+1)*d])
		}
	}

	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.ids)
	if n == 0 {
		return out, ctx.Err()
	}
	kk := min(k, n)
	workers := runtime.GOMAXPROCS(0)

	if al := x.selective(opts.Filter); al != nil {
		// Few rows to score: no tiling, each query gathers them.
		rows := x.allowedRows(al, nil)
		backing := make([]nearkit.Result, 0, nq*kk)
		err := parallelChunks(ctx, nq, 1, func(lo, hi int) {
			s := x.getScratch()
			defer x.pool.Put(s)
			for i := lo; i < hi; i++ {
				s.heap.reset(kk)
				x.gatherInto(&s.heap, queries[i*d:(i+1)*d], rows, s.dists)
				out[i] = s.heap.drain(backing[i*kk : i*kk : (i+1)*kk])
			}
		})
		if err != nil {
			return nil, fmt.Errorf("flat: search batch: %w", err)
		}
		return out, nil
	}

	qb := min(tl.queries, max(1, (nq+workers-1)/workers))
	qblocks := (nq + qb - 1) / qb
	// Row blocks and parts start at multiples of 4 rows, as Search's
	// blocks do: the Batch kernels score rows four at a time and then one
	// at a time, and the two paths may round differently (they do on
	// AVX2), so a row must reach the same path here as in Search for the
	// results to be identical.
	rb := min(max(tl.rowBytes/(4*d), 1), 8192)
	rb = max(rb&^3, 4)
	// Split the rows into contiguous parts too when there are fewer query
	// blocks than workers, so small batches still use every core; each
	// part keeps the tiling, and the parts' top-k lists are merged.
	parts := 1
	if qblocks < workers {
		parts = min((workers+qblocks-1)/qblocks, (n+rb-1)/rb)
	}
	rowsPerPart := ((n+parts-1)/parts + 3) &^ 3
	parts = (n + rowsPerPart - 1) / rowsPerPart
	units := qblocks * parts

	// partial[p][q] holds part p's sorted top-k of query q when parts > 1.
	var partial [][][]nearkit.Result
	if parts > 1 {
		partial = make([][][]nearkit.Result, parts)
		for p := range partial {
			partial[p] = make([][]nearkit.Result, nq)
		}
	}
	backing := make([]nearkit.Result, 0, nq*kk*parts)

	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, units) {
		wg.Go(func() {
			dists := make([]float32, rb)
			heaps := make([]topk, qb)
			for {
				u := int(next.Add(1) - 1)
				if u >= units || ctx.Err() != nil {
					return
				}
				b, p := u/parts, u%parts
				q0, q1 := b*qb, min((b+1)*qb, nq)
				lo, hi := p*rowsPerPart, min((p+1)*rowsPerPart, n)
				for i := range q1 - q0 {
					heaps[i].reset(kk)
				}
				for blk, r0 := 0, lo; r0 < hi; blk, r0 = blk+1, r0+rb {
					if blk%ctxEvery == ctxEvery-1 && ctx.Err() != nil {
						return
					}
					r1 := min(r0+rb, hi)
					rows := x.data[r0*d : r1*d]
					ds := dists[:r1-r0]
					// Ask for the next row block a slice at a time while
					// this one is scored, so it is in cache when needed.
					// The slices stay inside x.data: a pointer past an
					// allocation must never exist, even for a hint.
					var next []float32
					pfStep := 0
					if tl.prefetch && r1 < hi {
						next = x.data[r1*d : min(r1+rb, hi)*d]
						pfStep = ((len(next)+(q1-q0)-1)/(q1-q0) + 15) &^ 15 // whole cache lines
					}
					for i := range q1 - q0 {
						if off := i * pfStep; off < len(next) {
							m := min(pfStep, len(next)-off)
							prefetch.Range(unsafe.Pointer(&next[off]), uintptr(m)*4)
						}
						q := queries[(q0+i)*d : (q0+i+1)*d]
						x.kernels.Batch(q, rows, d, ds)
						heaps[i].scan(ds, x.ids, r0, opts.Filter)
					}
				}
				for i := range q1 - q0 {
					// Each unit owns a disjoint window of backing, so
					// the appends below never touch another's results.
					off := ((q0+i)*parts + p) * kk
					res := heaps[i].drain(backing[off : off : off+kk])
					if parts > 1 {
						partial[p][q0+i] = res
					} else {
						out[q0+i] = res
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("flat: search batch: %w", err)
	}
	if parts > 1 {
		for q := range nq {
			// The parts' windows for query q are contiguous in backing:
			// merge them in place.
			all := backing[q*parts*kk : q*parts*kk]
			for p := range parts {
				all = append(all, partial[p][q]...)
			}
			nearkit.SortResults(all)
			out[q] = all[:min(kk, len(all)):min(kk, len(all))]
		}
	}
	return out, nil
}
