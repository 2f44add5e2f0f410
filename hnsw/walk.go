package hnsw

import (
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/heap"
	"github.com/nearkit/nearkit/internal/prefetch"
	"github.com/nearkit/nearkit/scalar"
)

// The graph walk: greedy descent through the upper levels and the beam
// search of one level, written once for every representation a search can
// score (scorer.go). Insertion walks the float32 vectors with them; the
// filtered graph strategy (filter.go) uses the descent and its own beam
// loop, which differs in what it admits. Every walk gathers a node's
// unvisited neighbours through collect, the one neighbour loop.

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
	ids   []uint32  // unvisited neighbours of the node being expanded
	dists []float32 // their distances
	q     []float32
	sel   [maxLevel + 1][]uint32 // insertion: chosen neighbours per level
	kept  []heap.Item
	ndist int64

	// Quantized and filtered searches.
	l2    scalar.L2Query
	dot   scalar.DotQuery
	hop   []uint32 // disallowed neighbours of the node being expanded
	rows  []uint32 // exact strategy: the allowed slots
	seeds []uint32 // allowed sampled slots

	qg qgScratch // QGraph searches and block writes (qgraph_search.go)
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

// neighbours returns the link list of slot s at level l and the number of
// ids in it (the count word, bounded by the list's capacity: a concurrent
// writer may be mid-update).
func (x *Index) neighbours(d *directory, s uint32, l int) ([]uint32, int) {
	list := x.list(d, s, l)
	return list, min(int(atomic.LoadUint32(&list[0])), len(list)-1)
}

// enterGraph scores the entry point and descends greedily to level 0; it
// returns the node the level-0 search starts from.
func enterGraph[S scorers](x *Index, sc *scratch, s *S) (uint32, float32) {
	ep, maxL := unpackEntry(x.entry.Load())
	d := x.dirFor(x.dir.Load(), ep)
	sc.ndist++
	return descend(x, sc, s, ep, score(s, d, ep), maxL, 0)
}

// descend walks greedily from the scored entry point ep down through
// levels top … stop+1 and returns the node it ends at. The walks share
// one visited pass (see greedy).
func descend[S scorers](x *Index, sc *scratch, s *S, ep uint32, epD float32, top, stop int) (uint32, float32) {
	if top <= stop {
		return ep, epD
	}
	sc.nextPass(int(x.nslots.Load()))[ep] = sc.gen
	for l := top; l > stop; l-- {
		ep, epD = greedy(x, sc, s, ep, epD, l)
	}
	return ep, epD
}

// greedy walks level l from cur towards the query, as long as a neighbour
// is closer. It is hnswlib's walk, except that nodes already scored in
// this descent (this level or one above, marked in sc.vis by descend's
// pass) are not scored again: each step moves to the nearest node it
// scored unless none beats cur, so every scored node is at least as far
// as cur from then on and can never be the next move. The path is the
// same as hnswlib's; on Fashion-MNIST a third of the upper-level distances
// are skipped this way.
func greedy[S scorers](x *Index, sc *scratch, s *S, cur uint32, curD float32, l int) (uint32, float32) {
	d := x.dir.Load()
	pf := prefetchSpec(s)
	for changed := true; changed; {
		changed = false
		sc.ids = sc.ids[:0]
		d, _ = collect(x, sc, d, cur, l, pf, nil, false)
		ids := sc.ids
		sc.dists = scoreAll(s, d, ids, sc.dists)
		sc.ndist += int64(len(ids))
		for i, dd := range sc.dists {
			if dd < curD {
				curD, cur, changed = dd, ids[i], true
			}
		}
		if changed {
			x.prefetchLists(d, cur, l)
		}
	}
	return cur, curD
}

// collect appends to sc.ids the neighbours of slot c at level l that the
// current pass (sc.vis, sc.gen) has not visited, marks them visited, and
// prefetches what the scorer reads of each (pf, from prefetchSpec). It is
// the neighbour loop of every walk: greedy, searchLayer and both hops of
// the filtered walk. It returns d, reloaded when a neighbour lives in a
// chunk added since d was loaded; sc.vis grows for slots added since the
// pass began. The second result is the number of neighbours read.
//
// With a filter f, only admitted neighbours (live, allowed) are collected
// and marked; a disallowed one stays unmarked, so another hop may still
// expand it, and when hops is set it is appended to sc.hop and its
// level-0 list prefetched. Without a filter every unvisited neighbour is
// collected, tombstones included (the walk decides what to admit).
//
// The loop is not generic: pf carries all it needs of the scorer, so the
// walk's instantiations share it, and the test of f is one predictable
// branch per neighbour.
func collect(x *Index, sc *scratch, d *directory, c uint32, l int, pf slotPrefetch, f nearkit.Filter, hops bool) (*directory, int) {
	list, n := x.neighbours(d, c, l)
	list = list[1 : 1+n]
	vis, gen := sc.vis, sc.gen
	ids, hop := sc.ids, sc.hop
	for j := range list {
		id := atomic.LoadUint32(&list[j])
		if int(id) >= len(vis) {
			vis = sc.growVisited(x)
		}
		if vis[id] == gen {
			continue
		}
		d = x.dirFor(d, id)
		if f != nil && !x.admit(d, id, f) {
			if hops {
				hop = append(hop, id)
				prefetch.Range(x.links0Addr(d, id), uintptr(x.stride0)*4)
			}
			continue
		}
		vis[id] = gen
		prefetch.Range(x.slotAddr(d, id, pf), pf.n)
		ids = append(ids, id)
	}
	sc.ids, sc.hop = ids, hop
	return d, n
}

// prefetchLists asks for the lists of slot s at levels l and l-1, which
// the walk reads next: its next step on level l, or the first step on the
// level below. Found lists are otherwise read only when the step begins,
// a dependent miss per step.
func (x *Index) prefetchLists(d *directory, s uint32, l int) {
	c := d.chunks[s>>x.shift]
	o := s & x.mask
	if l == 1 {
		prefetch.Line(x.links0Addr(d, s))
	}
	// Levels l-1 and l are adjacent (level 1 and 2 when l is 1; the hint
	// may run past the node's words, which is harmless for a prefetch).
	list := x.upperList(x.pool.Load(), atomic.LoadUint32(&c.upper[o]), max(l-1, 1))
	prefetch.Range(unsafe.Pointer(unsafe.SliceData(list)), uintptr(2*x.strideU)*4)
}

// links0Addr returns the address of slot s's level-0 list, for a
// prefetch (the walk calls prefetch.Line itself, which keeps this helper
// within the inliner's budget).
func (x *Index) links0Addr(d *directory, s uint32) unsafe.Pointer {
	c := d.chunks[s>>x.shift]
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(c.links0)), uintptr(s&x.mask)*uintptr(x.lstride)*4)
}

// searchLayer is the beam search of hnswlib's searchBaseLayer(ST): it
// leaves in sc.top the (at most) ef nearest admitted nodes found from ep on
// level l. checked turns on the admission test (tombstones, filter); then,
// as in hnswlib, the search goes on until ef admitted nodes are found.
//
// A node's unvisited neighbours are collected first and their vectors or
// codes prefetched, then scored, so their cache misses overlap.
func searchLayer[S scorers](x *Index, sc *scratch, s *S, ep uint32, epD float32, l, ef int, checked bool, f nearkit.Filter) {
	d := x.dir.Load()
	sc.nextPass(int(x.nslots.Load()))[ep] = sc.gen
	top, cand := &sc.top, &sc.cand
	top.Reset()
	cand.Reset()
	lower := float32(math.Inf(1))
	if !checked || x.admit(d, ep, f) {
		top.Push(heap.Item{Dist: epD, ID: ep})
		lower = epD
	}
	cand.Push(heap.Item{Dist: epD, ID: ep})
	pf := prefetchSpec(s)
	for cand.Len() > 0 {
		c := cand.Top()
		if c.Dist > lower && (top.Len() == ef || !checked) {
			break
		}
		cand.Pop()
		sc.ids = sc.ids[:0]
		d, _ = collect(x, sc, d, c.ID, l, pf, nil, false)
		ids := sc.ids
		sc.ndist += int64(len(ids))
		sc.dists = scoreAll(s, d, ids, sc.dists)
		for i, dd := range sc.dists {
			id := ids[i]
			if top.Len() < ef || dd < lower {
				cand.Push(heap.Item{Dist: dd, ID: id})
				if l == 0 {
					// It will be expanded later: fetch its link list now,
					// off the critical path. In a record layout (layout.go)
					// the list follows the vector and is usually on its way
					// already; the hint then costs next to nothing.
					prefetch.Line(x.links0Addr(d, id))
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
			prefetch.Line(x.links0Addr(d, cand.Top().ID))
		}
	}
}
