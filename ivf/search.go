package ivf

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/heap"
	"github.com/nearkit/nearkit/internal/prefetch"
	"github.com/nearkit/nearkit/pq"
	"github.com/nearkit/nearkit/scalar"
)

// scanRows is the number of list entries scored per kernel call: the
// distances of a chunk stay in L1 while candidates are selected.
const scanRows = 256

// fsChunk is the number of fast-scan blocks (of 32 entries) per kernel
// call.
const fsChunk = 64

// probe is a list chosen by the coarse quantizer and the query's coarse
// term: ‖q−c‖² for L2, −⟨q,c⟩ for inner product, 1−⟨q,c⟩ for cosine.
type probe struct {
	list uint32
	base float32
}

// scratch is the per-search working memory, pooled so that a search in
// steady state does not allocate.
type scratch struct {
	q, rq  []float32 // the query (normalised), and rotated for OPQ
	cd     []float32 // coarse distances
	sel    heap.Max
	items  []heap.Item
	hres   []nearkit.Result
	probes []probe
	t3     []float32 // query term of the PQ tables: M×ksub
	table  []float32 // one list's PQ table
	out    []float32 // distances of a chunk
	sums   []uint16
	ftab   []float32 // fast scan: per probe, M×16 float tables
	lut    []byte    // fast scan: per probe, quantized tables
	bias   []float32 // fast scan: per probe, base + Σ mins
	mins   []float32
	sq     scalar.SQ8Query
	cands  topk // fast scan: candidates by quantized distance
	top    topk // candidates by code distance
	fin    topk // re-ranked
	vbuf   []float32
	ncalls int64
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

func (x *Index) getScratch() *scratch {
	if s, ok := x.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

// Search appends to dst the (at most) k nearest neighbours of q among the
// entries of the opts.NProbe (default Config.NProbe) lists nearest to q,
// in ascending distance, ties by ascending ID. With a filter, only allowed
// IDs are returned, exactly k when the probed lists hold k allowed
// vectors. Compressed encodings return code distances unless re-ranking
// (opts.Rerank, default Config.Rerank) re-scores the best k×Rerank with
// full vectors.
//
// Errors wrap nearkit.ErrDimension, nearkit.ErrInvalidVector,
// nearkit.ErrInvalidK, nearkit.ErrNotTrained (on a non-empty untrained
// index this cannot happen; an untrained index is empty and returns dst)
// and nearkit.ErrInvalidConfig for a negative NProbe or Rerank, or a
// re-ranking request without vectors.
func (x *Index) Search(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions) ([]nearkit.Result, error) {
	return x.SearchWithStats(dst, q, k, opts, nil)
}

// SearchWithStats is Search that also counts distance computations
// (centroids and list entries scored) into st when st is non-nil.
func (x *Index) SearchWithStats(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions, st *nearkit.SearchStats) ([]nearkit.Result, error) {
	if err := check.K(k); err != nil {
		return dst, err
	}
	if err := check.Vector(q, x.cfg.Dim); err != nil {
		return dst, fmt.Errorf("ivf: %w", err)
	}
	if opts.NProbe < 0 || opts.Rerank < 0 {
		return dst, fmt.Errorf("%w: ivf: negative NProbe or Rerank", nearkit.ErrInvalidConfig)
	}
	s := x.getScratch()
	defer x.pool.Put(s)
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.n == 0 {
		return dst, nil
	}
	var err error
	dst, err = x.search(s, dst, q, k, opts)
	if st != nil {
		st.Distances += s.ncalls
	}
	return dst, err
}

// plan is what the options of one call decide for all its queries.
type plan struct {
	nprobe, k, pool, rerank int
	src                     VectorSource // nil: re-rank from the lists
	f                       nearkit.Filter
}

// plan resolves opts against the configuration; the caller holds the read
// lock and the index is non-empty.
func (x *Index) plan(k int, opts nearkit.SearchOptions) (plan, error) {
	p := plan{nprobe: x.cfg.NProbe, rerank: x.cfg.Rerank, f: opts.Filter}
	if opts.NProbe > 0 {
		p.nprobe = opts.NProbe
	}
	p.nprobe = min(p.nprobe, x.cfg.NList)
	if opts.Rerank > 0 {
		p.rerank = opts.Rerank
	}
	if x.cfg.Encoding == Flat {
		p.rerank = 0
	}
	if p.rerank > 0 && !x.cfg.KeepVectors {
		b := x.vectors.Load()
		if b == nil {
			return p, fmt.Errorf("%w: ivf: re-ranking needs vectors: set KeepVectors or call SetVectors", nearkit.ErrInvalidConfig)
		}
		p.src = b.src
	}
	p.k = min(k, x.n)
	p.pool = p.k
	if p.rerank > 0 {
		// k×rerank can overflow int for a caller-supplied rerank.
		p.pool = x.n
		if p.rerank < (x.n+p.k-1)/p.k {
			p.pool = p.k * p.rerank
		}
	}
	return p, nil
}

// search runs one query with s; the caller holds the read lock, the index
// is non-empty and the arguments are checked.
func (x *Index) search(s *scratch, dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions) ([]nearkit.Result, error) {
	p, err := x.plan(k, opts)
	if err != nil {
		return dst, err
	}
	x.begin(s, q, &p)
	switch x.cfg.Encoding {
	case Flat:
		x.scanFlat(s, p.f)
	case SQ8:
		x.scanSQ8(s, p.f)
	case PQ:
		x.scanPQ(s, p.f)
	case PQFastScan:
		x.scanFastScan(s, p.f, p.pool, p.rerank > 0)
	}
	return x.finish(s, dst, &p), nil
}

// begin prepares s for query q: the normalised query, its probes and an
// empty candidate heap of p.pool, and the query as the encoding scores it
// (SQ8's prepared query, the query term of the PQ lookup tables).
func (x *Index) begin(s *scratch, q []float32, p *plan) {
	s.ncalls = 0
	s.q = grow(s.q, x.cfg.Dim)
	copy(s.q, q)
	if x.cfg.Metric.Normalizes() {
		distance.Normalize(s.q)
	}
	x.probe(s, s.q, p.nprobe)
	s.top.reset(p.pool)
	switch x.cfg.Encoding {
	case SQ8:
		// The query was checked and normalised: this cannot fail.
		_ = x.sq.PrepareQuery(&s.sq, s.q)
	case PQ, PQFastScan:
		x.queryTable(s)
	}
}

// finish re-ranks s.top when p asks for it and appends the results.
func (x *Index) finish(s *scratch, dst []nearkit.Result, p *plan) []nearkit.Result {
	res := &s.top
	if p.rerank > 0 {
		x.rerank(s, p.src, p.k)
		res = &s.fin
	}
	for _, c := range res.sorted() {
		dst = append(dst, nearkit.Result{ID: c.id, Distance: c.d})
	}
	return dst
}

// probe sets s.probes to the nprobe lists nearest to q (normalised), in
// ascending coarse distance.
func (x *Index) probe(s *scratch, q []float32, nprobe int) {
	s.probes = s.probes[:0]
	if x.graph != nil {
		ef := max(nprobe, 64)
		s.hres, _ = x.graph.Search(s.hres[:0], q, nprobe, nearkit.SearchOptions{Ef: ef})
		for _, r := range s.hres {
			d := r.Distance
			if x.cfg.Metric == distance.Cosine {
				d++
			}
			s.probes = append(s.probes, probe{list: uint32(r.ID), base: d})
		}
		s.ncalls += int64(ef) * 8
		return
	}
	nlist := x.cfg.NList
	s.cd = grow(s.cd, nlist)
	distance.DotBatch(q, x.centroids, x.cfg.Dim, s.cd)
	s.ncalls += int64(nlist)
	switch x.cfg.Metric {
	case distance.L2:
		qn := distance.Dot(q, q)
		cn := x.cnorm[:len(s.cd)]
		for i, d := range s.cd {
			// Rounding can make the expansion slightly negative.
			s.cd[i] = max(qn+cn[i]-2*d, 0)
		}
	case distance.InnerProduct:
		for i, d := range s.cd {
			s.cd[i] = -d
		}
	case distance.Cosine:
		for i, d := range s.cd {
			s.cd[i] = 1 - d
		}
	}
	s.sel.Reset()
	for i, d := range s.cd {
		if s.sel.Len() < nprobe || d < s.sel.Top().Dist {
			s.sel.PushBounded(heap.Item{Dist: d, ID: uint32(i)}, nprobe)
		}
	}
	s.items = s.sel.DrainSorted(s.items[:0])
	for _, it := range s.items {
		s.probes = append(s.probes, probe{list: it.ID, base: it.Dist})
	}
}

// offer pushes entry pos of list l with distance d, unless the filter
// rejects its ID.
func offer(t *topk, f nearkit.Filter, l *list, li uint32, pos int, d float32) {
	if d > t.bound() {
		return
	}
	id := l.ids[pos]
	if f != nil && !f.Allowed(id) {
		return
	}
	t.push(cand{d: d, list: li, pos: uint32(pos), id: id})
}

// offerRows offers rows lo, lo+1, … of list li with distances out[i]+base.
// Most rows of a probed list are farther than the heap's bound: the bound
// is compared here, in the loop, and re-read only after a push, so that a
// rejected row costs one comparison and no call.
func offerRows(t *topk, f nearkit.Filter, l *list, li uint32, lo int, out []float32, base float32) {
	bound := t.bound()
	for i, d := range out {
		if d += base; d <= bound {
			offer(t, f, l, li, lo+i, d)
			bound = t.bound()
		}
	}
}

func (x *Index) scanFlat(s *scratch, f nearkit.Filter) {
	for _, p := range s.probes {
		n := len(x.lists[p.list].ids)
		s.ncalls += int64(n)
		for lo := 0; lo < n; lo += scanRows {
			x.flatRows(s, f, p.list, lo, min(lo+scanRows, n))
		}
	}
}

// flatRows scores rows [lo, hi) of Flat list li, at most scanRows of them.
func (x *Index) flatRows(s *scratch, f nearkit.Filter, li uint32, lo, hi int) {
	dim := x.cfg.Dim
	l := &x.lists[li]
	s.out = grow(s.out, scanRows)
	out := s.out[:hi-lo]
	x.kern.Batch(s.q, l.vecs[lo*dim:hi*dim], dim, out)
	offerRows(&s.top, f, l, li, lo, out, 0)
}

func (x *Index) scanSQ8(s *scratch, f nearkit.Filter) {
	for _, p := range s.probes {
		n := len(x.lists[p.list].ids)
		s.ncalls += int64(n)
		x.sq8Rows(s, f, p.list, 0, n)
	}
}

// sq8Rows scores rows [lo, hi) of SQ8 list li with the query prepared by
// begin.
func (x *Index) sq8Rows(s *scratch, f nearkit.Filter, li uint32, lo, hi int) {
	dim := x.cfg.Dim
	l := &x.lists[li]
	codes := l.codes[lo*dim : hi*dim]
	for i := range hi - lo {
		d := x.sq.DistanceUnchecked(&s.sq, codes[i*dim:(i+1)*dim])
		offer(&s.top, f, l, li, lo+i, d)
	}
}

// queryTable sets s.t3 to the query term of the PQ tables: −2⟨q_s, y⟩ for
// L2 (the rest is in precomp and the coarse term), −⟨q_s, y⟩ otherwise.
func (x *Index) queryTable(s *scratch) {
	m, ksub, dsub := x.cfg.M, x.ksub, x.dsub
	q := s.q
	if x.opq != nil {
		s.rq = grow(s.rq, x.cfg.Dim)
		x.opq.Rotate(s.rq, q)
		q = s.rq
	}
	s.t3 = grow(s.t3, m*ksub)
	cb := x.codebooks()
	for sub := range m {
		out := s.t3[sub*ksub : (sub+1)*ksub]
		distance.DotBatch(q[sub*dsub:(sub+1)*dsub], cb[sub*ksub*dsub:(sub+1)*ksub*dsub], dsub, out)
	}
	c := float32(-1)
	if x.cfg.Metric == distance.L2 {
		c = -2
	}
	for i := range s.t3 {
		s.t3[i] *= c
	}
}

// listTable returns the PQ lookup table of list l: precomp + t3 for L2,
// t3 alone otherwise (the list enters through the coarse term only).
func (x *Index) listTable(s *scratch, l uint32) []float32 {
	if x.precomp == nil {
		return s.t3
	}
	n := len(s.t3)
	s.table = grow(s.table, n)
	pre := x.precomp[int(l)*n : (int(l)+1)*n]
	t, t3 := s.table[:n], s.t3[:n]
	addVec(t, pre, t3)
	return t
}

func (x *Index) scanPQ(s *scratch, f nearkit.Filter) {
	for _, p := range s.probes {
		x.scanPQList(s, f, p)
	}
}

// scanPQList scores every entry of the PQ list of probe p.
func (x *Index) scanPQList(s *scratch, f nearkit.Filter, p probe) {
	m := x.cfg.M
	l := &x.lists[p.list]
	n := len(l.ids)
	if n == 0 {
		return
	}
	s.ncalls += int64(n)
	table := x.listTable(s, p.list)
	s.out = grow(s.out, scanRows)
	for lo := 0; lo < n; lo += scanRows {
		hi := min(lo+scanRows, n)
		out := s.out[:hi-lo]
		distance.PQLookupSumBatch(table, l.codes[lo*m:hi*m], m, out)
		offerRows(&s.top, f, l, p.list, lo, out, p.base)
	}
}

// scanFastScan scores the probed lists with 8-bit tables quantized with
// one scale for every list. Without re-ranking it keeps the 2·pool best by
// quantized distance and re-scores those with the float32 tables into
// s.top, whose distances are then returned. When full vectors re-rank
// (reranked), the quantized distances go straight into s.top: they only
// choose the candidates, as in FAISS's IndexRefine over a fast-scan
// index, and a float32 pass over twice as many would cost more than the
// few re-ranked vectors it saves.
func (x *Index) scanFastScan(s *scratch, f nearkit.Filter, pool int, reranked bool) {
	m, np := x.cfg.M, x.nPairs
	const ks = 16
	nprobe := len(s.probes)
	s.ftab = grow(s.ftab, nprobe*m*ks)
	s.mins = grow(s.mins, nprobe*m)
	s.bias = grow(s.bias, nprobe)
	s.lut = grow(s.lut, np*32)
	var maxRange float32
	for pi, p := range s.probes {
		if len(x.lists[p.list].ids) == 0 {
			continue
		}
		t := s.ftab[pi*m*ks : (pi+1)*m*ks]
		x.fastScanTable(s, t, p.list)
		r, sum := tableMins(t, s.mins[pi*m:(pi+1)*m])
		maxRange = max(maxRange, r)
		s.bias[pi] = p.base + sum
	}
	scale := float32(1)
	if maxRange > 0 {
		scale = 255 / maxRange
	}
	inv := 1 / scale
	cands := &s.cands
	if reranked {
		cands = &s.top // reset to pool by begin
	} else {
		cands.reset(max(2*pool, pool+16))
	}
	s.sums = grow(s.sums, fsChunk*32)
	bs := np * 32
	// Sums of at most 64 pairs are below 2¹⁵ (255·128), the condition of
	// the four-lane comparison in offerSWAR.
	swar := np <= 64
	for pi, p := range s.probes {
		l := &x.lists[p.list]
		n := len(l.ids)
		if n == 0 {
			continue
		}
		s.ncalls += int64(n)
		bias := s.bias[pi]
		// Every quantized distance of the list is at least its bias: once
		// the heap is full, a list whose bias is beyond the bound has no
		// candidate, and its table need not be quantized.
		if bias > cands.bound() {
			continue
		}
		lut := s.lut[:bs]
		pq.QuantizeFastScanLUT(lut, s.ftab[pi*m*ks:(pi+1)*m*ks], m, s.mins[pi*m:(pi+1)*m], scale)
		nBlocks := (n + 31) / 32
		for b0 := 0; b0 < nBlocks; b0 += fsChunk {
			nb := min(fsChunk, nBlocks-b0)
			pq.FastScanBlocks(l.codes[b0*bs:(b0+nb)*bs], lut, np, nb, s.sums)
			base := b0 * 32
			cnt := min(nb*32, n-base)
			// s.cands names a candidate's probe, s.top its list.
			li := uint32(pi)
			if reranked {
				li = p.list
			}
			sc := fsScan{t: cands, f: f, l: l, li: li, lo: base, bias: bias, scale: scale, inv: inv}
			if swar {
				sc.offerSWAR(s.sums[:nb*32], cnt)
			} else {
				sc.offer(s.sums[:cnt])
			}
		}
	}
	if reranked {
		return
	}
	for _, c := range s.cands.h {
		p := s.probes[c.list]
		l := &x.lists[p.list]
		pos := int(c.pos)
		blk := l.codes[pos/32*bs : (pos/32+1)*bs]
		d := p.base + pq.FastScanEntryDistance(s.ftab[int(c.list)*m*ks:(int(c.list)+1)*m*ks], blk, m, pos%32)
		s.top.push(cand{d: d, list: p.list, pos: c.pos, id: c.id})
	}
}

// fastScanTable writes into t (M×16) the float32 PQ table of list l,
// listTable without the intermediate copy.
func (x *Index) fastScanTable(s *scratch, t []float32, l uint32) {
	n := len(s.t3)
	if x.precomp == nil {
		copy(t, s.t3)
		return
	}
	addVec(t[:n], x.precomp[int(l)*n:(int(l)+1)*n], s.t3[:n])
}

// tableMins sets mins[s] to the least entry of subtable s of t (16
// entries each, len(mins) subtables) and returns the widest subtable
// range and the sum of the minima.
func tableMins(t, mins []float32) (maxRange, sum float32) {
	t = t[: len(mins)*16 : len(mins)*16]
	for s := range mins {
		ts := (*[16]float32)(t[s*16:])
		// Four independent chains of the builtin min and max, which
		// compile to branch-free MINSS/MAXSS: comparisons and moves
		// mispredict on table entries, which are in no order.
		var lo, hi [4]float32
		copy(lo[:], ts[:4])
		copy(hi[:], ts[:4])
		for j := 4; j < 16; j += 4 {
			lo[0], hi[0] = min(lo[0], ts[j]), max(hi[0], ts[j])
			lo[1], hi[1] = min(lo[1], ts[j+1]), max(hi[1], ts[j+1])
			lo[2], hi[2] = min(lo[2], ts[j+2]), max(hi[2], ts[j+2])
			lo[3], hi[3] = min(lo[3], ts[j+3]), max(hi[3], ts[j+3])
		}
		l := min(lo[0], lo[1], lo[2], lo[3])
		mins[s] = l
		sum += l
		maxRange = max(maxRange, max(hi[0], hi[1], hi[2], hi[3])-l)
	}
	return maxRange, sum
}

// fsScan offers the quantized sums of one kernel call: entry lo+i of
// list l (probe li) has distance bias + sums[i]·inv.
type fsScan struct {
	t          *topk
	f          nearkit.Filter
	l          *list
	li         uint32
	lo         int
	bias       float32
	scale, inv float32
}

// offer offers every sum that passes the heap's bound.
func (c *fsScan) offer(sums []uint16) {
	bound := c.t.bound()
	for i, sum := range sums {
		if d := c.bias + float32(sum)*c.inv; d <= bound {
			offer(c.t, c.f, c.l, c.li, c.lo+i, d)
			bound = c.t.bound()
		}
	}
}

// limit returns the largest sum that can pass the heap's bound, plus one
// for rounding (the distance of a sum that passes is compared exactly),
// at most 0x7fff.
func (c *fsScan) limit() uint64 {
	r := (c.t.bound() - c.bias) * c.scale
	if !(r < 0x7ffe) { // also +Inf while the heap fills
		return 0x7fff
	}
	if r < 0 {
		return 0
	}
	return uint64(r) + 1
}

// offerSWAR is offer over the first cnt of sums (a whole number of
// blocks, every sum below 2¹⁵), four at a time: in a word of four uint16
// lanes, (lim|0x8000)−v leaves a lane's top bit set exactly when its sum
// is at most lim, without borrowing across lanes. Once the heap is full
// almost every word has no lane set and costs one subtraction and a test;
// the sums of a word that has are compared one by one, which does not
// depend on the byte order of the lanes.
func (c *fsScan) offerSWAR(sums []uint16, cnt int) {
	const ones, tops = 0x0001_0001_0001_0001, 0x8000_8000_8000_8000
	// sums is s.sums, a 4 KiB allocation and so 8-byte aligned: reading
	// it as words is an aligned load on every architecture.
	words := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(sums))), len(sums)/4)
	lim := c.limit()
	t4 := lim*ones | tops
	for w, v := range words {
		if (t4-v)&tops == 0 {
			continue
		}
		for i := 4 * w; i < 4*w+4; i++ {
			if uint64(sums[i]) > lim {
				continue
			}
			if i >= cnt {
				return
			}
			if d := c.bias + float32(sums[i])*c.inv; d <= c.t.bound() {
				offer(c.t, c.f, c.l, c.li, c.lo+i, d)
				lim = c.limit()
				t4 = lim*ones | tops
			}
		}
	}
}

// rerank re-scores s.top with full vectors into s.fin (k best).
func (x *Index) rerank(s *scratch, src VectorSource, k int) {
	dim := x.cfg.Dim
	s.fin.reset(k)
	s.vbuf = grow(s.vbuf, dim)
	h := s.top.h
	for i, c := range h {
		var v []float32
		if src == nil {
			v = x.lists[c.list].vecs[int(c.pos)*dim : (int(c.pos)+1)*dim]
			// The candidates' rows are scattered over the probed lists:
			// ask for the next one while this one is scored.
			if rerankPrefetch && i+1 < len(h) {
				n := h[i+1]
				prefetch.Range(unsafe.Pointer(&x.lists[n.list].vecs[int(n.pos)*dim]), uintptr(dim)*4)
			}
		} else {
			var ok bool
			v, ok = src.Vector(c.id, s.vbuf)
			if !ok || len(v) != dim {
				continue
			}
		}
		var d float32
		switch {
		case src != nil && x.cfg.Metric == distance.Cosine:
			d = distance.CosineDistance(s.q, v)
		default:
			d = x.kern.Distance(s.q, v)
		}
		if math.IsNaN(float64(d)) {
			continue
		}
		s.fin.push(cand{d: d, list: c.list, pos: c.pos, id: c.id})
	}
}

// rerankPrefetch switches the prefetch of re-ranked rows (a variable for
// the paired benchmark).
var rerankPrefetch = true

// codebooks returns the PQ codebooks, copied once.
func (x *Index) codebooks() []float32 { return x.cb }

// addVec sets dst[i] = a[i] + b[i]; the three have one length. Building a
// list's table is on the path of every probe (M×256 additions), so the
// loop is unrolled by 8 over bounds-check-free windows.
func addVec(dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		d, x, y := dst[i:i+8:i+8], a[i:i+8:i+8], b[i:i+8:i+8]
		d[0] = x[0] + y[0]
		d[1] = x[1] + y[1]
		d[2] = x[2] + y[2]
		d[3] = x[3] + y[3]
		d[4] = x[4] + y[4]
		d[5] = x[5] + y[5]
		d[6] = x[6] + y[6]
		d[7] = x[7] + y[7]
	}
	for ; i < n; i++ {
		dst[i] = a[i] + b[i]
	}
}
