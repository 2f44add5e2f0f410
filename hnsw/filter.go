package hnsw

import (
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/heap"
	"github.com/nearkit/nearkit/internal/prefetch"
)

// Filtered search.
//
// A filter that allows few vectors makes graph search a poor deal: the
// nodes the beam search would score are mostly disallowed, and the allowed
// ones are scattered, so the search either returns too few results
// (post-filtering) or wanders through most of the graph. A search with a
// filter therefore first estimates how many vectors the filter allows
// (nearkit.Counter's Count, or a stratified sample of the slots) and picks
// one of two strategies:
//
//   - Exact: score every allowed vector (an AllowList's IDs are looked up
//     in the ID map; a predicate is asked about every slot). Its cost is
//     one distance per allowed vector, so it is cheap exactly when the
//     filter is selective.
//   - Graph (ACORN-style, Patel et al., SIGMOD 2024): the beam search
//     scores only allowed nodes, and reaches them through disallowed ones:
//     when expanding a node, its allowed neighbours are candidates, and
//     while fewer than 2M are found, the neighbours of its disallowed
//     neighbours are added (a two-hop expansion), which keeps the allowed
//     subgraph connected at selectivities where its own links are too
//     sparse. When neither hop reaches an allowed node (a clustered filter
//     whose allowed region is elsewhere), the disallowed neighbours are
//     scored and walked as in hnswlib's filtered search, so the search can
//     cross a disallowed region.
//
// The graph search has a budget of distance computations equal to the
// exact strategy's cost; if it runs out, or ends with fewer than k results
// (an allowed set the graph cannot reach well), the exact strategy runs
// instead. So a filtered search returns exactly k results whenever at
// least k allowed vectors exist, and never costs much more than the exact
// scan of the allowed set.

// filterSamples is the number of slots probed to estimate the selectivity
// of a filter without a Count method.
const filterSamples = 256

// exactPerEf: the exact strategy is chosen when the allowed set holds at
// most exactPerEf·ef vectors. Measured on Fashion-MNIST (60,000 × 784,
// M=16) with bench_filter_test.go: the graph strategy costs roughly
// 2-4·ef/selectivity^0.5 distances plus the two-hop link reads, which
// cross the exact scan's cost near 1-2 % selectivity at ef=10-40.
const exactPerEf = 60

// filterPath forces a strategy in tests: 0 chooses, 1 exact, 2 graph (with
// no budget: the test sees the graph strategy's own recall).
var filterPath int

// filteredSearch returns the (at most) ef best allowed nodes, nearest
// first. exact reports that the distances are float32 distances of the
// exact strategy (no re-ranking needed) and that the list holds k items.
func (x *Index) filteredSearch(sc *scratch, es *extScratch, s *scorer, k, ef int, f nearkit.Filter) (items []heap.Item, exact bool) {
	n := int(x.nslots.Load())
	est := x.estimateAllowed(f, n)
	path := filterPath
	if path == 0 {
		path = 2
		if est <= exactPerEf*ef {
			path = 1
		}
	}
	if path == 2 {
		budget := int64(math.MaxInt64)
		if filterPath == 0 {
			// The exact scan of a predicate also asks it about every slot;
			// a predicate call is far cheaper than a distance, count it so.
			budget = int64(est) + int64(n)/64 + int64(4*ef)
		}
		if x.graphFiltered(sc, es, s, ef, f, budget) && sc.top.Len() >= k {
			return sc.top.DrainSorted(sc.items[:0]), false
		}
	}
	return x.exactFiltered(sc, es, s.q, k, f), true
}

// estimateAllowed estimates the number of slots f allows.
func (x *Index) estimateAllowed(f nearkit.Filter, n int) int {
	if c, ok := f.(nearkit.Counter); ok {
		return min(c.Count(), n)
	}
	probes := min(n, filterSamples)
	if probes == 0 {
		return 0
	}
	d := x.dir.Load()
	hits, seen := 0, 0
	for i := range probes {
		s := uint32(uint64(i) * uint64(n) / uint64(probes))
		d = x.dirFor(d, s)
		c := d.chunks[s>>x.shift]
		if isPending(c, s&x.mask) {
			continue
		}
		seen++
		if f.Allowed(c.labels[s&x.mask]) {
			hits++
		}
	}
	if seen == 0 {
		return 0
	}
	if hits == 0 {
		// Fewer than 1 in `seen`: assume half that.
		return n / (2 * seen)
	}
	return hits * n / seen
}

// exactFiltered scores every allowed vector with float32 distances and
// returns the k nearest, nearest first.
func (x *Index) exactFiltered(sc *scratch, es *extScratch, q []float32, k int, f nearkit.Filter) []heap.Item {
	d := x.dir.Load()
	n := x.nslots.Load()
	rows := es.rows[:0]
	if al, ok := f.(*nearkit.AllowList); ok && al.Count() < int(n)/8 {
		// A map lookup per allowed ID beats asking the bitset about every
		// slot when the list is short.
		x.idMu.RLock()
		for id := range al.All {
			if s, ok := x.ids[id]; ok {
				rows = append(rows, s)
			}
		}
		x.idMu.RUnlock()
		for i := 0; i < len(rows); {
			s := rows[i]
			d = x.dirFor(d, s)
			c := d.chunks[s>>x.shift]
			if isPending(c, s&x.mask) || atomic.LoadUint32(&c.meta[s&x.mask])&flagDeleted != 0 {
				rows[i] = rows[len(rows)-1]
				rows = rows[:len(rows)-1]
				continue
			}
			i++
		}
	} else {
		d = x.dirFor(d, n-1)
		for s := range n {
			c := d.chunks[s>>x.shift]
			o := s & x.mask
			if isPending(c, o) || atomic.LoadUint32(&c.meta[o])&flagDeleted != 0 {
				continue
			}
			if f.Allowed(c.labels[o]) {
				rows = append(rows, s)
			}
		}
	}
	es.rows = rows
	top := &sc.top
	top.Reset()
	const ahead = 4
	pf := min(uintptr(x.dim)*4, 1024)
	for i, s := range rows {
		if i+ahead < len(rows) {
			prefetch.Range(unsafe.Pointer(unsafe.SliceData(x.vecOf(d, rows[i+ahead]))), pf)
		}
		dd := x.dist(q, x.vecOf(d, s))
		if top.Len() < k || dd < top.Top().Dist {
			top.PushBounded(heap.Item{Dist: dd, ID: s}, k)
		}
	}
	sc.ndist += int64(len(rows))
	return top.DrainSorted(sc.items[:0])
}

// graphFiltered runs the filtered beam search described above, leaving the
// (at most) ef best allowed nodes in sc.top. It returns false when it
// stopped because sc.ndist exceeded budget.
func (x *Index) graphFiltered(sc *scratch, es *extScratch, s *scorer, ef int, f nearkit.Filter, budget int64) bool {
	ep, maxL := unpackEntry(x.entry.Load())
	d := x.dirFor(x.dir.Load(), ep)
	cur, curD := ep, s.at(d, ep)
	sc.ndist++
	for l := maxL; l > 0; l-- {
		cur, curD = x.quantGreedy(sc, s, cur, curD, l)
	}
	d = x.dir.Load()
	vis := sc.nextPass(int(x.nslots.Load()))
	gen := sc.gen
	top, cand := &sc.top, &sc.cand
	top.Reset()
	cand.Reset()
	lower := float32(math.Inf(1))
	if x.admit(d, cur, f) {
		top.Push(heap.Item{Dist: curD, ID: cur})
		lower = curD
	}
	cand.Push(heap.Item{Dist: curD, ID: cur})
	vis[cur] = gen
	shift, mask := x.shift, x.mask
	linkBytes := uintptr(x.stride0) * 4
	for cand.Len() > 0 {
		c := cand.Top()
		if c.Dist > lower && top.Len() == ef {
			break
		}
		if sc.ndist > budget {
			return false
		}
		cand.Pop()
		list := x.list(d, c.ID, 0)
		cnt := min(int(atomic.LoadUint32(&list[0])), len(list)-1)
		ids, hop := sc.ids[:0], es.hop[:0]
		for j := 1; j <= cnt; j++ {
			id := atomic.LoadUint32(&list[j])
			if int(id) >= len(vis) {
				vis = sc.growVisited(x)
			}
			if vis[id] == gen {
				continue
			}
			if int(id>>shift) >= len(d.chunks) {
				d = x.dir.Load()
			}
			if x.admit(d, id, f) {
				vis[id] = gen
				s.prefetch(d, id)
				ids = append(ids, id)
			} else {
				hop = append(hop, id)
				prefetch.Range(unsafe.Pointer(unsafe.SliceData(d.chunks[id>>shift].links0[int(id&mask)*x.stride0:])), linkBytes)
			}
		}
		// Two hops: through disallowed neighbours, until 2M candidates.
		expanded := 0
		for _, h := range hop {
			if len(ids) >= x.m0 {
				break
			}
			vis[h] = gen
			expanded++
			hl := x.list(d, h, 0)
			hc := min(int(atomic.LoadUint32(&hl[0])), len(hl)-1)
			for j := 1; j <= hc; j++ {
				id := atomic.LoadUint32(&hl[j])
				if int(id) >= len(vis) {
					vis = sc.growVisited(x)
				}
				if vis[id] == gen {
					continue
				}
				if int(id>>shift) >= len(d.chunks) {
					d = x.dir.Load()
				}
				if x.admit(d, id, f) {
					vis[id] = gen
					s.prefetch(d, id)
					ids = append(ids, id)
				}
			}
		}
		bridge := len(ids) == 0
		if bridge {
			// Nothing allowed within two hops: walk on through the
			// disallowed neighbours (all expanded above), as frontier only.
			for _, h := range hop[:expanded] {
				s.prefetch(d, h)
			}
			ids = append(ids, hop[:expanded]...)
		}
		sc.ids, es.hop = ids, hop
		sc.ndist += int64(len(ids))
		for _, id := range ids {
			dd := s.at(d, id)
			if top.Len() < ef || dd < lower {
				cand.Push(heap.Item{Dist: dd, ID: id})
				if !bridge {
					top.PushBounded(heap.Item{Dist: dd, ID: id}, ef)
				}
				if top.Len() > 0 {
					lower = top.Top().Dist
				}
			}
		}
	}
	return true
}

// prefetch asks for the part of node id's vector or code the scorer reads
// first.
func (s *scorer) prefetch(d *directory, id uint32) {
	x := s.x
	c := d.chunks[id>>x.shift]
	o := int(id & x.mask)
	if s.mode == scoreFloat {
		prefetch.Range(unsafe.Pointer(unsafe.SliceData(c.vecs[o*x.dim:])), min(uintptr(x.dim)*4, prefetchBytes))
		return
	}
	prefetch.Range(unsafe.Pointer(unsafe.SliceData(c.codes[o*x.dim:])), uintptr(x.dim))
}

// markPending flags slots [base, end) as reserved but not yet written;
// allocSlots calls it before publishing the new slot count.
func (x *Index) markPending(d *directory, base, end uint32) {
	for s := base; s < end; s++ {
		c := d.chunks[s>>x.shift]
		o := s & x.mask
		atomic.OrUint64(&c.pending[o/64], 1<<(o%64))
	}
}

// clearPending publishes slot o of c as written (its vector, label and
// level); place calls it last.
func clearPending(c *chunk, o uint32) {
	if c.pending != nil {
		atomic.AndUint64(&c.pending[o/64], ^(uint64(1) << (o % 64)))
	}
}

// isPending reports whether slot o of c is reserved but not yet written.
// Chunks made without the bitmap (a loaded index) have no pending slots.
func isPending(c *chunk, o uint32) bool {
	return int(o/64) < len(c.pending) && atomic.LoadUint64(&c.pending[o/64])&(1<<(o%64)) != 0
}
