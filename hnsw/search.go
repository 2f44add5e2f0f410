package hnsw

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/heap"
	"github.com/nearkit/nearkit/internal/prefetch"
)

// prefetchBytes is how much of each neighbour's vector is prefetched
// before scoring. Measured on Fashion-MNIST (784-d, 3 KB vectors): the
// first 4 lines are as good as the whole vector (the hardware prefetcher
// streams the rest once the first lines are touched) and better than
// none by about 25 % in search and a few percent in build. Prefetching
// the link line of every scored neighbour did not pay; that of each
// neighbour admitted to the frontier does (3–5 %).
const prefetchBytes = 256

// scratch is the per-operation working memory, taken from a sync.Pool so a
// search in steady state allocates nothing.
type scratch struct {
	vis   []uint16 // vis[s] == gen: slot s visited in this pass
	gen   uint16
	cand  heap.Min // frontier, nearest first
	top   heap.Max // best ef so far, farthest on top
	items []heap.Item
	ids   []uint32 // unvisited neighbours of the node being expanded
	q     []float32
	sel   [maxLevel + 1][]uint32 // insertion: chosen neighbours per level
	kept  []heap.Item
	ndist int64
}

func (x *Index) getScratch() *scratch {
	sc := x.scratch.Get().(*scratch)
	sc.ndist = 0
	return sc
}

// nextPass starts a new visited generation, sizing vis for every slot that
// exists now. Clearing happens only when the 16-bit generation wraps.
func (sc *scratch) nextPass(n int) []uint16 {
	if len(sc.vis) < n {
		sc.vis = make([]uint16, n+n/4+64)
		sc.gen = 0
	}
	sc.gen++
	if sc.gen == 0 {
		clear(sc.vis)
		sc.gen = 1
	}
	return sc.vis
}

// growVisited extends vis for slots added by concurrent inserts after the
// pass started, keeping the marks already made.
func (sc *scratch) growVisited(x *Index) []uint16 {
	n := int(x.nslots.Load())
	v := make([]uint16, n+n/4+64)
	copy(v, sc.vis)
	sc.vis = v
	return v
}

// admit reports whether slot s may appear in results.
func (x *Index) admit(d *directory, s uint32, f nearkit.Filter) bool {
	c := d.chunks[s>>x.shift]
	o := s & x.mask
	if atomic.LoadUint32(&c.meta[o])&flagDeleted != 0 {
		return false
	}
	return f == nil || f.Allowed(c.labels[o])
}

// descend walks greedily from the scored entry point ep down through
// levels top … stop+1 and returns the node it ends at. The walks share
// one visited pass (see greedy).
func (x *Index) descend(sc *scratch, q []float32, ep uint32, epD float32, top, stop int) (uint32, float32) {
	if top <= stop {
		return ep, epD
	}
	sc.nextPass(int(x.nslots.Load()))[ep] = sc.gen
	for l := top; l > stop; l-- {
		ep, epD = x.greedy(sc, q, ep, epD, l)
	}
	return ep, epD
}

// greedy walks level l from cur towards q, as long as a neighbour is
// closer. It is hnswlib's walk, except that nodes already scored in this
// descent (this level or one above, marked in sc.vis by descend's pass) are not scored again: each step moves to the nearest node it
// scored unless none beats cur, so every scored node is at least as far
// as cur from then on and can never be the next move. The path is the
// same as hnswlib's; on Fashion-MNIST a third of the upper-level distances
// are skipped this way.
func (x *Index) greedy(sc *scratch, q []float32, cur uint32, curD float32, l int) (uint32, float32) {
	d := x.dir.Load()
	vis, gen := sc.vis, sc.gen
	for changed := true; changed; {
		changed = false
		list := x.list(d, cur, l)
		n := min(int(atomic.LoadUint32(&list[0])), len(list)-1)
		ids := sc.ids[:0]
		for j := 1; j <= n; j++ {
			id := atomic.LoadUint32(&list[j])
			if int(id) >= len(vis) {
				vis = sc.growVisited(x)
			}
			if vis[id] == gen {
				continue
			}
			vis[id] = gen
			d = x.dirFor(d, id)
			prefetch.Range(unsafe.Pointer(unsafe.SliceData(x.vecOf(d, id))), min(uintptr(x.dim)*4, prefetchBytes))
			ids = append(ids, id)
		}
		sc.ids = ids
		for _, id := range ids {
			dd := x.dist(q, x.vecOf(d, id))
			sc.ndist++
			if dd < curD {
				curD, cur, changed = dd, id, true
				x.prefetchLists(d, id, l)
			}
		}
	}
	return cur, curD
}

// prefetchLists asks for the lists of slot s at levels l and l-1, which
// the walk reads next if s stays the nearest node: its next step on level
// l, or the first step on the level below. Found lists are otherwise
// read only after the step's last distance, a dependent miss per step.
func (x *Index) prefetchLists(d *directory, s uint32, l int) {
	c := d.chunks[s>>x.shift]
	o := s & x.mask
	if l == 1 {
		prefetch.Line(unsafe.Pointer(unsafe.SliceData(c.links0[int(o)*x.lstride:])))
	}
	// Levels l-1 and l are adjacent (level 1 and 2 when l is 1; the hint
	// may run past the node's words, which is harmless for a prefetch).
	list := x.upperList(x.pool.Load(), atomic.LoadUint32(&c.upper[o]), max(l-1, 1))
	prefetch.Range(unsafe.Pointer(unsafe.SliceData(list)), uintptr(2*x.strideU)*4)
}

// searchLayer is the beam search of hnswlib's searchBaseLayer(ST): it
// leaves in sc.top the (at most) ef nearest admitted nodes found from ep on
// level l. checked turns on the admission test (tombstones, filter); then,
// as in hnswlib, the search goes on until ef admitted nodes are found.
//
// A node's unvisited neighbours are collected first and their vectors
// prefetched, then scored, so their cache misses overlap.
func (x *Index) searchLayer(sc *scratch, q []float32, ep uint32, epD float32, l, ef int, checked bool, f nearkit.Filter) {
	d := x.dir.Load()
	vis := sc.nextPass(int(x.nslots.Load()))
	gen := sc.gen
	top, cand := &sc.top, &sc.cand
	top.Reset()
	cand.Reset()
	lower := float32(math.Inf(1))
	if !checked || x.admit(d, ep, f) {
		top.Push(heap.Item{Dist: epD, ID: ep})
		lower = epD
	}
	cand.Push(heap.Item{Dist: epD, ID: ep})
	vis[ep] = gen
	dim, vstride, shift, mask := x.dim, x.vstride, x.shift, x.mask
	vbytes := min(uintptr(dim)*4, prefetchBytes)
	for cand.Len() > 0 {
		c := cand.Top()
		if c.Dist > lower && (top.Len() == ef || !checked) {
			break
		}
		cand.Pop()
		list := x.list(d, c.ID, l)
		n := min(int(atomic.LoadUint32(&list[0])), len(list)-1)
		ids := sc.ids[:0]
		for j := 1; j <= n; j++ {
			id := atomic.LoadUint32(&list[j])
			if int(id) >= len(vis) {
				vis = sc.growVisited(x)
			}
			if vis[id] == gen {
				continue
			}
			vis[id] = gen
			if int(id>>shift) >= len(d.chunks) {
				d = x.dir.Load()
			}
			ch := d.chunks[id>>shift]
			prefetch.Range(unsafe.Pointer(unsafe.SliceData(ch.vecs[int(id&mask)*vstride:])), vbytes)
			ids = append(ids, id)
		}
		sc.ids = ids
		sc.ndist += int64(len(ids))
		for _, id := range ids {
			ch := d.chunks[id>>shift]
			o := int(id&mask) * vstride
			dd := x.dist(q, ch.vecs[o:o+dim:o+dim])
			if top.Len() < ef || dd < lower {
				cand.Push(heap.Item{Dist: dd, ID: id})
				if l == 0 {
					// It will be expanded later: fetch its link list now,
					// off the critical path. In a record layout (layout.go)
					// the list follows the vector and is usually on its way
					// already; the hint then costs next to nothing.
					prefetch.Line(unsafe.Pointer(unsafe.SliceData(ch.links0[int(id&mask)*x.lstride:])))
				}
				if !checked || x.admit(d, id, f) {
					top.PushBounded(heap.Item{Dist: dd, ID: id}, ef)
				}
				if top.Len() > 0 {
					lower = top.Top().Dist
				}
			}
		}
		if l == 0 && cand.Len() > 0 {
			// The next node to expand: fetch its link list meanwhile.
			nx := cand.Top().ID
			ch := d.chunks[nx>>shift]
			prefetch.Line(unsafe.Pointer(unsafe.SliceData(ch.links0[int(nx&mask)*x.lstride:])))
		}
	}
}

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
	e := x.entry.Load()
	if e == emptyEntry {
		return dst, nil
	}
	ef := opts.Ef
	if ef == 0 {
		ef = x.efs
	}
	ef = max(ef, k)
	if opts.Filter != nil || x.quant != nil {
		return x.searchSpecial(dst, q, k, ef, opts.Filter, st)
	}
	sc := x.getScratch()
	if x.metric.Normalizes() {
		sc.q = append(sc.q[:0], q...)
		distance.Normalize(sc.q)
		q = sc.q
	}
	ep, maxL := unpackEntry(e)
	d := x.dir.Load()
	sc.ndist++
	cur, curD := x.descend(sc, q, ep, x.dist(q, x.vecOf(d, ep)), maxL, 0)
	checked := opts.Filter != nil || x.ndeleted.Load() > 0
	x.searchLayer(sc, q, cur, curD, 0, ef, checked, opts.Filter)
	for sc.top.Len() > k {
		sc.top.Pop()
	}
	sc.items = sc.top.DrainSorted(sc.items[:0])
	d = x.dir.Load()
	start := len(dst)
	for _, it := range sc.items {
		dst = append(dst, nearkit.Result{ID: d.chunks[it.ID>>x.shift].labels[it.ID&x.mask], Distance: it.Dist})
	}
	// Slots order ties by slot; the contract orders them by the caller's ID.
	sortTies(dst[start:])
	if st != nil {
		st.Distances += sc.ndist
	}
	x.scratch.Put(sc)
	return dst, nil
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
				r, err := x.Search(make([]nearkit.Result, 0, k), queries[i*x.dim:(i+1)*x.dim], k, opts)
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
