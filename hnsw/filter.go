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

// filterSeeds is the number of allowed sampled nodes added to the graph
// strategy's starting frontier besides the greedy descent's end point.
// With a filter correlated with the space, the region near the query may
// hold no allowed node at all; the seeds let the search enter the allowed
// region and walk inside it towards the query instead of scoring every
// disallowed node between the query and the region's border.
const filterSeeds = 8

// exactPerEf: the exact strategy is chosen when the allowed set holds at
// most exactPerEf·ef vectors. Measured on Fashion-MNIST (60,000 × 784,
// M=16, ef=12, BenchmarkFashionFilter): with uniformly random filters the
// graph strategy takes 0.09 ms at 10 % selectivity (the exact scan 1 ms)
// and 7 ms at 1 % (the exact scan 0.17 ms), its cost growing about as
// selectivity^-1.9 as the two-hop expansion reads more and more link
// lists per allowed node found; the two cross near 4 %, 2,400 vectors,
// 200·ef.
const exactPerEf = 200

// Costs of the graph strategy's work other than distances, in distances:
// an admission test (visited mark, metadata, label, filter call) and a
// bridge distance, which counts for bridgeWeight because it is the sign of
// a filter correlated with the space whose allowed region is away from the
// query, where the graph strategy is hopeless against the exact scan.
const (
	checksPerDistance = 10
	bridgeWeight      = 16
)

// correlatedHits: finding no allowed node among the c nodes within two
// hops of the start is taken as the sign of a correlated filter when a
// random filter of the estimated selectivity s would have allowed
// c·s ≥ correlatedHits of them (P(none) ≈ e^-16). Below that, finding none
// is chance, as with a random filter at 1 %, and the search must bridge.
const correlatedHits = 16

// widenFactor multiplies the graph strategy's ef when the node nearest the
// query has no allowed node within two hops (see graphFiltered).
const widenFactor = 4

// Filter strategies Index.filterPath can force (a test hook; 0 chooses).
const (
	filterAuto = iota
	filterExact
	filterGraph // with no budget: a test sees the graph strategy's own recall
)

// filteredSearch returns the (at most) ef best allowed nodes, nearest
// first. exact reports that the distances are float32 distances of the
// exact strategy (no re-ranking needed) and that the list holds k items.
func filteredSearch[S scorers](x *Index, sc *scratch, s *S, q []float32, k, ef int, f nearkit.Filter) (items []heap.Item, exact bool) {
	n := int(x.nslots.Load())
	est, sampled := 0, false
	if c, ok := f.(nearkit.Counter); ok {
		est = min(c.Count(), n)
	} else {
		est, sampled = x.sampleAllowed(sc, f, n), true
	}
	path := x.filterPath
	if path == filterAuto {
		path = filterGraph
		if est <= exactPerEf*ef {
			path = filterExact
		}
	}
	if path == filterGraph {
		if !sampled {
			x.sampleAllowed(sc, f, n) // for the seeds
		}
		budget := int64(math.MaxInt64)
		if x.filterPath == filterAuto {
			// What the exact strategy would cost: a distance per allowed
			// vector, and a test of every slot or a map lookup per ID.
			budget = int64(est) + int64(max(n/checksPerDistance, 4*ef))
		}
		if graphFiltered(x, sc, s, ef, f, est, budget) && sc.top.Len() >= k {
			return sc.top.DrainSorted(sc.items[:0]), false
		}
	}
	return x.exactFiltered(sc, q, k, f), true
}

// sampleAllowed estimates the number of slots f allows from a stratified
// sample of filterSamples slots, and keeps up to filterSeeds of the
// allowed sampled slots in sc.seeds, spread over the sample.
func (x *Index) sampleAllowed(sc *scratch, f nearkit.Filter, n int) int {
	probes := min(n, filterSamples)
	sc.seeds = sc.seeds[:0]
	if probes == 0 {
		return 0
	}
	d := x.dir.Load()
	hits, seen := 0, 0
	for i := range probes {
		s := uint32(uint64(i) * uint64(n) / uint64(probes))
		d = x.dirFor(d, s)
		c := d.chunks[s>>x.shift]
		o := s & x.mask
		if isPending(c, o) || atomic.LoadUint32(&c.meta[o])&flagDeleted != 0 {
			continue
		}
		seen++
		if f.Allowed(c.labels[o]) {
			hits++
			sc.seeds = append(sc.seeds, s)
		}
	}
	if len(sc.seeds) > filterSeeds {
		// Keep every j-th, so the seeds come from all over the slot range.
		j := (len(sc.seeds) + filterSeeds - 1) / filterSeeds
		k := 0
		for i := 0; i < len(sc.seeds); i += j {
			sc.seeds[k] = sc.seeds[i]
			k++
		}
		sc.seeds = sc.seeds[:k]
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
func (x *Index) exactFiltered(sc *scratch, q []float32, k int, f nearkit.Filter) []heap.Item {
	d := x.dir.Load()
	n := x.nslots.Load()
	rows := sc.rows[:0]
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
	sc.rows = rows
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
func graphFiltered[S scorers](x *Index, sc *scratch, s *S, ef int, f nearkit.Filter, est int, budget int64) bool {
	cur, curD := enterGraph(x, sc, s)
	d := x.dir.Load()
	sc.nextPass(int(x.nslots.Load()))[cur] = sc.gen
	top, cand := &sc.top, &sc.cand
	top.Reset()
	cand.Reset()
	lower := float32(math.Inf(1))
	if x.admit(d, cur, f) {
		top.Push(heap.Item{Dist: curD, ID: cur})
		lower = curD
	}
	cand.Push(heap.Item{Dist: curD, ID: cur})
	pf := prefetchSpec(s)
	var checks, bridged int64
	first, correlated := true, false
	for cand.Len() > 0 {
		c := cand.Top()
		if c.Dist > lower && top.Len() == ef {
			break
		}
		if sc.ndist+checks/checksPerDistance+bridged*(bridgeWeight-1) > budget {
			return false
		}
		cand.Pop()
		sc.ids, sc.hop = sc.ids[:0], sc.hop[:0]
		d, cnt := collect(x, sc, d, c.ID, 0, pf, f, true)
		checks += int64(cnt)
		// Two hops: through disallowed neighbours, until 2M candidates.
		expanded := 0
		for _, h := range sc.hop {
			if len(sc.ids) >= x.m0 {
				break
			}
			sc.vis[h] = sc.gen
			expanded++
			d, cnt = collect(x, sc, d, h, 0, pf, f, false)
			checks += int64(cnt)
		}
		ids, hop := sc.ids, sc.hop
		if first && len(ids) == 0 && float64(checks)*float64(est) >= correlatedHits*float64(x.nslots.Load()) {
			// Nothing allowed within two hops of the node nearest the
			// query: a filter correlated with the space, whose allowed
			// region lies away from the query. Scoring every disallowed
			// node between the query and the region (bridging) would
			// cost about as much as the exact scan; instead the search
			// enters the region at the sampled allowed nodes and walks
			// inside it towards the query, with a wider beam, as the
			// region's border nearest the query has many local minima
			// (measured: clustered filter at 10 %, recall 0.87 at ef=12,
			// 0.98 at 4·12).
			correlated = true
			ef = min(ef*widenFactor, MaxEf)
			for _, sd := range sc.seeds {
				if sc.vis[sd] == sc.gen || !x.admit(d, sd, f) {
					continue
				}
				sc.vis[sd] = sc.gen
				dd := score(s, d, sd)
				sc.ndist++
				cand.Push(heap.Item{Dist: dd, ID: sd})
				top.PushBounded(heap.Item{Dist: dd, ID: sd}, ef)
				lower = top.Top().Dist
			}
		}
		first = false
		// Otherwise, where nothing allowed is within two hops (visited
		// nodes aside), the search walks on through the disallowed
		// neighbours (all expanded above), as frontier only: at low
		// selectivity that is what keeps the frontier alive.
		bridge := len(ids) == 0 && (!correlated || top.Len() == 0)
		if bridge {
			for _, h := range hop[:expanded] {
				prefetch.Range(x.slotAddr(d, h, pf), pf.n)
			}
			ids = append(ids, hop[:expanded]...)
			bridged += int64(expanded)
		}
		sc.ids, sc.hop = ids, hop
		sc.ndist += int64(len(ids))
		sc.dists = scoreAll(s, d, ids, sc.dists)
		for i, dd := range sc.dists {
			id := ids[i]
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
