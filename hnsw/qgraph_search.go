package hnsw

import (
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/nearkit/nearkit/internal/heap"
	"github.com/nearkit/nearkit/internal/prefetch"
	"github.com/nearkit/nearkit/pq"
)

// qgScratch is a QGraph search's working memory (part of scratch).
type qgScratch struct {
	table []float32 // the query's float ADC table, m×16
	mins  []float32 // per-subquantizer minimum of table
	lut   []byte    // the kernel's 8-bit table
	sums  []uint16  // kernel output, 32 per block
	blk   []byte    // race builds: the block copied with atomic loads
	res   heap.Max  // expanded nodes by exact distance
	buf   []byte    // writers: a block being built (qgStoreList)
}

// qgPrepare fills the query tables of sc for q and returns the factor
// and offset that turn a kernel sum into an estimated distance.
//
// It is the largest single cost of a QGraph search at the beam widths
// that reach recall 0.95 (CPU profiles on an AMD EPYC: a quarter of a
// GloVe-100 search at ef 40, half of a Fashion-MNIST one at ef 10),
// split about evenly between pq's LookupTable (one DotBatch or
// SquaredL2Batch call of 16 rows per subspace, 2- or 4-float rows) and
// QuantizeFastScanLUT (a float64 math.Round per entry). Computing the
// short rows inline and rounding in float32 in pq took 17–23 % off a
// Fashion-MNIST search at ef 10–40 in a paired prototype.
func (x *Index) qgPrepare(sc *qgScratch, p *pq.ProductQuantizer, q []float32) (inv, bias float32) {
	g := x.qg
	sc.table, _ = p.LookupTable(sc.table, q) // q is checked, p trained
	if cap(sc.mins) < g.m {
		sc.mins = make([]float32, g.m)
	}
	mins := sc.mins[:g.m]
	maxRange := float32(0)
	for s := range g.m {
		t := sc.table[s*16 : (s+1)*16]
		lo, hi := t[0], t[0]
		for _, v := range t {
			lo, hi = min(lo, v), max(hi, v)
		}
		mins[s] = lo
		bias += lo
		maxRange = max(maxRange, hi-lo)
	}
	scale := float32(1)
	if maxRange > 0 {
		scale = 255 / maxRange
	}
	if cap(sc.lut) < g.np*32 {
		sc.lut = make([]byte, g.np*32)
		sc.sums = make([]uint16, g.nb*32)
	}
	sc.lut = sc.lut[:g.np*32]
	pq.QuantizeFastScanLUT(sc.lut, sc.table, g.m, mins, scale)
	return 1 / scale, bias
}

// searchQG is the search of a trained QGraph index: a greedy descent
// through the upper levels by ADC estimates of the nodes' own codes
// (qgScorer), then the level-0 walk. The walk is a beam search of width
// ef ordered by estimated distances: cand (nearest estimate first) and
// top (the ef best estimates) play the roles they play in searchLayer.
// Expanding a node computes its exact distance (its vector is read once,
// here) into res and estimates all its neighbours from its blocks with
// one kernel call. Every node of the final beam has been expanded (the
// walk stops only when the nearest unexpanded estimate is beyond the
// ef-th), so res, the ef nearest expanded nodes by exact distance, holds
// the answer. checked turns on the admission test (tombstones): as in
// searchLayer, top then holds only admitted nodes, so the walk goes on
// through tombstones until ef admitted nodes are found.
//
// Its neighbour loop is its own, not collect's: a neighbour's estimate is
// found by its position in the list, which collect's compaction loses,
// and nothing of a neighbour is prefetched (its code is in the block).
func (x *Index) searchQG(sc *scratch, p *pq.ProductQuantizer, q []float32, ef int, checked bool) []heap.Item {
	g := x.qg
	qs := &sc.qg
	inv, bias := x.qgPrepare(qs, p, q)
	// An upper-level step reads a neighbour's code (⌈m/2⌉ bytes) instead
	// of its vector: on Fashion-MNIST (784-d, 98-byte codes) 2–7 % less
	// CPU time per search at ef 10–80 over two paired runs on one graph,
	// on GloVe-100 no change; where the descent ends may differ by a hop,
	// which the level-0 beam mostly absorbs (recall 0.004 lower on
	// Fashion-MNIST at ef 15, 0.009 on GloVe at ef 20, within 0.001 from
	// ef 40 on both).
	qsc := qgScorer{x: x, p: p, table: qs.table}
	ep, epE := enterGraph(x, sc, &qsc)
	d := x.dir.Load()
	vis := sc.nextPass(int(x.nslots.Load()))
	gen := sc.gen
	vis[ep] = gen
	top, cand, res := &sc.top, &sc.cand, &qs.res
	top.Reset()
	cand.Reset()
	res.Reset()
	lower := float32(math.Inf(1))
	if !checked || x.admit(d, ep, nil) {
		top.Push(heap.Item{Dist: epE, ID: ep})
		lower = epE
	}
	cand.Push(heap.Item{Dist: epE, ID: ep})
	bs := g.np * 32
	for cand.Len() > 0 {
		c := cand.Top()
		if c.Dist > lower && top.Len() == ef {
			break
		}
		cand.Pop()
		d = x.dirFor(d, c.ID)
		dc := x.dist(q, x.vecOf(d, c.ID))
		sc.ndist++
		if !checked || x.admit(d, c.ID, nil) {
			res.PushBounded(heap.Item{Dist: dc, ID: c.ID}, ef)
		}
		list, n := x.neighbours(d, c.ID, 0)
		if n == 0 {
			continue
		}
		nb := (n + 31) / 32
		blk := qgLoadBlock(qs, x.qgBlock(d, c.ID)[:nb*bs/4])
		pq.FastScanBlocks(blk, qs.lut, g.np, nb, qs.sums)
		sums := qs.sums[:n]
		ids := list[1 : 1+n]
		for j, sum := range sums {
			id := atomic.LoadUint32(&ids[j])
			if int(id) >= len(vis) {
				vis = sc.growVisited(x)
			}
			if vis[id] == gen {
				continue
			}
			vis[id] = gen
			e := float32(sum)*inv + bias
			if top.Len() < ef || e < lower {
				cand.Push(heap.Item{Dist: e, ID: id})
				if !checked || x.admit(x.dirFor(d, id), id, nil) {
					top.PushBounded(heap.Item{Dist: e, ID: id}, ef)
				}
				if top.Len() > 0 {
					lower = top.Top().Dist
				}
			}
		}
		if cand.Len() > 0 {
			// The next node to expand: its vector, list and blocks are
			// what the next step reads; fetch them meanwhile.
			nx := cand.Top().ID
			nd := x.dirFor(d, nx)
			prefetch.Range(unsafe.Pointer(unsafe.SliceData(x.vecOf(nd, nx))), min(uintptr(x.dim)*4, prefetchBytes))
			prefetch.Line(x.links0Addr(nd, nx))
			prefetch.Range(unsafe.Pointer(unsafe.SliceData(x.qgBlock(nd, nx))), uintptr(bs))
		}
	}
	sc.items = res.DrainSorted(sc.items[:0])
	return sc.items
}
