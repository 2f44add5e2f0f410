package hnsw

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/heap"
	"github.com/nearkit/nearkit/internal/prefetch"
	"github.com/nearkit/nearkit/scalar"
)

// Quantization selects the vector representation the graph search reads.
type Quantization uint8

const (
	// NoQuantization searches the float32 vectors (the default).
	NoQuantization Quantization = iota
	// SQ8 keeps beside each float32 vector an 8-bit scalar code (scalar.SQ8,
	// one byte per dimension) and runs the graph search on the codes,
	// then re-ranks the ef best candidates with the float32 vectors, so
	// the distances returned are exact. (With L2, when the query and
	// every stored vector are exactly their codes — 8-bit data such as
	// pixels under a codec of step 1 — the code distance is already the
	// float32 one and re-ranking is skipped.)
	//
	// For L2 the codec uses one step size for every dimension, which
	// makes the code-to-code distance an exact integer computation on
	// distance.SquaredL2Uint8 (the query is encoded too); for
	// InnerProduct and Cosine it uses per-dimension steps, and the query
	// becomes 8-bit weights scored with distance.DotUint8 (see
	// scalar.DotQuery).
	//
	// The codec's ranges are learnt from data: by Train, or from the
	// first AddBatch of an untrained index. Add on an untrained index
	// fails with nearkit.ErrNotTrained. Coordinates outside the learnt
	// range saturate at code 0 or 255 (their distances grow less
	// accurate, re-ranking keeps the returned distances exact).
	//
	// The graph is built with the float32 vectors, so it is the same
	// graph as without quantization; only searches read the codes.
	SQ8
)

// String returns "none" or "sq8".
func (q Quantization) String() string {
	switch q {
	case NoQuantization:
		return "none"
	case SQ8:
		return "sq8"
	}
	return fmt.Sprintf("Quantization(%d)", uint8(q))
}

func (q Quantization) valid() bool { return q <= SQ8 }

// quantState is the codec of an SQ8 index. The quantizer is published once
// (atomically) when trained and never replaced, so a search that finds
// nodes in the graph always finds a trained codec.
type quantState struct {
	trainMu sync.Mutex
	sq      atomic.Pointer[scalar.SQ8]
	intL2   bool // uniform L2 codes: distance.SquaredL2Uint8 on encoded queries
	// exact is codesExact while every stored vector is exactly its
	// code's reconstruction (data that is itself 8-bit, like image
	// pixels or SIFT's bvecs, under a codec with step 1), codesLossy once
	// one is not, codesUnknown for a codec loaded from a file.
	exact atomic.Int32
}

const (
	codesUnknown = iota
	codesExact
	codesLossy
)

func newQuantState(cfg Config) *quantState {
	if cfg.Quantization != SQ8 {
		return nil
	}
	return &quantState{intL2: cfg.Metric == distance.L2}
}

func (x *Index) quantization() Quantization {
	if x.quant == nil {
		return NoQuantization
	}
	return SQ8
}

// quantMemory is the codes' share of MemoryUsage: one byte per dimension
// per slot of every chunk, plus the codec's tables.
func (x *Index) quantMemory(nchunks int) int64 {
	if x.quant == nil {
		return 0
	}
	n := int64(nchunks) * int64(x.dim) << x.shift
	if sq := x.quant.sq.Load(); sq != nil {
		n += sq.MemoryUsage()
	}
	return n
}

// MemoryStats splits MemoryUsage into what a search of a quantized index
// touches and what only re-ranking and insertion read.
type MemoryStats struct {
	// Vectors is the float32 vector storage (allocated chunk capacity).
	Vectors int64
	// Codes is the SQ8 code storage and codec tables (0 without
	// quantization).
	Codes int64
	// Graph is everything else: links, labels, per-node metadata, the
	// upper-level pool and the ID map.
	Graph int64
}

// MemoryStats returns the breakdown of MemoryUsage.
func (x *Index) MemoryStats() MemoryStats {
	total := x.MemoryUsage()
	nch := int64(len(x.dir.Load().chunks))
	st := MemoryStats{
		// A record's padding (layout.go) is there for the vector.
		Vectors: nch * (x.slotBytes() - int64(x.stride0)*4) << x.shift,
		Codes:   x.quantMemory(int(nch)),
	}
	st.Graph = total - st.Vectors - st.Codes
	return st
}

// Trained reports whether the index can take vectors: always for an
// unquantized index, once Train or a first AddBatch has learnt the codec's
// ranges for an SQ8 index.
func (x *Index) Trained() bool {
	return x.quant == nil || x.quant.sq.Load() != nil
}

// Train learns the SQ8 codec's ranges from the len(data)/Dim() vectors of
// data (which are not added). It must run before the first Add of an SQ8
// index; AddBatch calls it on its own vectors when the index is untrained.
// Errors wrap nearkit.ErrInvalidConfig (index not quantized, or already
// trained: codes already stored would not match new ranges),
// nearkit.ErrEmpty, nearkit.ErrDimension or nearkit.ErrInvalidVector.
func (x *Index) Train(ctx context.Context, data []float32) error {
	if x.quant == nil {
		return fmt.Errorf("%w: hnsw: Train on an index without quantization", nearkit.ErrInvalidConfig)
	}
	x.quant.trainMu.Lock()
	defer x.quant.trainMu.Unlock()
	if x.quant.sq.Load() != nil {
		return fmt.Errorf("%w: hnsw: quantizer already trained", nearkit.ErrInvalidConfig)
	}
	return x.trainLocked(ctx, data)
}

func (x *Index) trainLocked(ctx context.Context, data []float32) error {
	if err := check.Vectors(data, x.dim); err != nil {
		return err
	}
	if x.metric.Normalizes() {
		// The codes encode the stored, normalised vectors.
		data = slices.Clone(data)
		for i := 0; i+x.dim <= len(data); i += x.dim {
			distance.Normalize(data[i : i+x.dim])
		}
	}
	sq, err := scalar.NewSQ8(scalar.SQ8Config{Dim: x.dim, Metric: x.metric, Uniform: x.quant.intL2})
	if err != nil {
		return err
	}
	if err := sq.Train(ctx, data); err != nil {
		return err
	}
	x.quant.sq.Store(sq)
	if x.quant.intL2 {
		x.quant.exact.Store(codesExact) // until a lossy vector is stored
	}
	return nil
}

// quantReady fails Add on an untrained SQ8 index.
func (x *Index) quantReady() error {
	if x.Trained() {
		return nil
	}
	return fmt.Errorf("%w: hnsw: SQ8 index not trained: call Train or AddBatch first", nearkit.ErrNotTrained)
}

// quantTrainBatch trains an untrained SQ8 index on the batch about to be
// added.
func (x *Index) quantTrainBatch(ctx context.Context, vecs []float32) error {
	if x.Trained() {
		return nil
	}
	x.quant.trainMu.Lock()
	defer x.quant.trainMu.Unlock()
	if x.quant.sq.Load() != nil {
		return nil
	}
	return x.trainLocked(ctx, vecs)
}

// encodeSlot writes the code of v (the stored vector, already normalised)
// for slot o of c. The codec is trained: Add and AddBatch check first.
func (x *Index) encodeSlot(c *chunk, o uint32, v []float32) {
	sq := x.quant.sq.Load()
	code := c.codes[int(o)*x.dim : int(o+1)*x.dim]
	sq.EncodeUnchecked(code, v)
	if x.quant.exact.Load() == codesExact && !sq.LosslessUnchecked(code, v) {
		// Before the node is linked, so a search that reaches it reads
		// the flag changed (searchSpecial reads it after the traversal).
		x.quant.exact.CompareAndSwap(codesExact, codesLossy)
	}
}

// codeOf returns the code of slot s. d must hold s's chunk.
func (x *Index) codeOf(d *directory, s uint32) []uint8 {
	c := d.chunks[s>>x.shift]
	o := int(s&x.mask) * x.dim
	return c.codes[o : o+x.dim : o+x.dim]
}

// scorer computes the distance from one query to stored nodes, on float32
// vectors or on codes. The unfiltered quantized search inlines its integer
// L2 case; the filtered search calls at.
type scorer struct {
	x     *Index
	q     []float32 // the query (normalised for cosine)
	mode  uint8
	sq    *scalar.SQ8
	l2    *scalar.L2Query  // scoreIntL2
	dot   *scalar.DotQuery // scoreIntDot
	ready bool             // prepare has run
	es    *extScratch
}

// prepare encodes the query for a code scorer. It is deferred to the
// first use so that a filtered search taking the exact strategy (float32
// distances only) does not pay for it.
func (s *scorer) prepare() {
	if s.ready || s.mode == scoreFloat {
		return
	}
	s.ready = true
	if s.mode == scoreIntL2 {
		s.l2 = &s.es.l2
		s.sq.PrepareL2Unchecked(s.l2, s.q)
		return
	}
	s.dot = &s.es.dot
	s.sq.PrepareDotUnchecked(s.dot, s.q)
}

const (
	scoreFloat  = iota // x.dist on float32 vectors
	scoreIntL2         // SquaredL2Uint8(query code, node code)
	scoreIntDot        // two DotUint8 on quantized query weights (scalar.DotQuery)
)

func (s *scorer) at(d *directory, id uint32) float32 {
	x := s.x
	c := d.chunks[id>>x.shift]
	o := int(id&x.mask) * x.dim
	switch s.mode {
	case scoreIntL2:
		return float32(s.l2.IntDistanceUnchecked(c.codes[o : o+x.dim : o+x.dim]))
	case scoreIntDot:
		return s.dot.DistanceUnchecked(c.codes[o : o+x.dim : o+x.dim])
	}
	return x.dist(s.q, x.vecOf(d, id))
}

// quantized reports whether the scorer reads codes, whose distances need
// re-ranking before they are returned.
func (s *scorer) quantized() bool { return s.mode != scoreFloat }

// extScratch is the working memory of the filtered and quantized searches
// beyond the core scratch.
type extScratch struct {
	l2    scalar.L2Query
	dot   scalar.DotQuery
	hop   []uint32
	rows  []uint32
	seeds []uint32
}

var extPool = sync.Pool{New: func() any { return new(extScratch) }}

// searchSpecial is Search when a filter or quantization is set; ef ≥ k and
// the index is not empty.
func (x *Index) searchSpecial(dst []nearkit.Result, q []float32, k, ef int, f nearkit.Filter, st *nearkit.SearchStats) ([]nearkit.Result, error) {
	sc := x.getScratch()
	es := extPool.Get().(*extScratch)
	defer func() {
		x.scratch.Put(sc)
		extPool.Put(es)
	}()
	if x.metric.Normalizes() {
		sc.q = append(sc.q[:0], q...)
		distance.Normalize(sc.q)
		q = sc.q
	}
	s := scorer{x: x, q: q, es: es}
	if x.quant != nil {
		s.sq = x.quant.sq.Load()
		if s.sq == nil {
			// Untrained: nothing can have been added.
			return dst, nil
		}
		if x.quant.intL2 {
			s.mode = scoreIntL2
		} else {
			s.mode = scoreIntDot
		}
	}
	var items []heap.Item
	exact := false
	if f != nil {
		items, exact = x.filteredSearch(sc, es, &s, k, ef, f)
	} else {
		items = x.quantSearch(sc, &s, ef)
	}
	if s.quantized() && !exact {
		if s.mode == scoreIntL2 && s.l2.Lossless() && x.quant.exact.Load() == codesExact {
			// Query and every stored vector are their codes exactly: the
			// integer distance is the float32 one (up to rounding), and
			// re-ranking would only re-read the float vectors from
			// memory (a quarter of the search time on Fashion-MNIST).
			scale := s.l2.Scale()
			for i := range items {
				items[i].Dist *= scale
			}
		} else {
			items = x.rerank(q, items)
		}
	}
	if len(items) > k {
		items = items[:k]
	}
	d := x.dir.Load()
	start := len(dst)
	for _, it := range items {
		dst = append(dst, nearkit.Result{ID: d.chunks[it.ID>>x.shift].labels[it.ID&x.mask], Distance: it.Dist})
	}
	sortTies(dst[start:])
	if st != nil {
		st.Distances += sc.ndist
	}
	return dst, nil
}

// Prefetch sizes of a code and, in re-ranking, of a float32 vector: the
// whole object, measured best on Fashion-MNIST (784-byte codes: 256 or 128
// bytes were 3-10 % slower; whole vectors or their first 256 bytes in
// re-ranking were the same).
var codePrefetch, rerankPrefetch uintptr = 1 << 20, 1 << 20

// rerank replaces code distances by float32 distances and sorts items
// by them (ties by slot; search orders ties by ID afterwards). The float
// vectors of the few candidates are the only ones a quantized search
// reads.
func (x *Index) rerank(q []float32, items []heap.Item) []heap.Item {
	d := x.dir.Load()
	for i := range items {
		id := items[i].ID
		prefetch.Range(unsafe.Pointer(unsafe.SliceData(x.vecOf(d, id))), min(uintptr(x.dim)*4, rerankPrefetch))
	}
	for i := range items {
		items[i].Dist = x.dist(q, x.vecOf(d, items[i].ID))
	}
	sortItems(items)
	return items
}

// quantSearch is the unfiltered search on codes: greedy descent through
// the upper levels, then the beam search of width ef on level 0. It
// returns the ef best nodes by code distance, nearest first (in sc.items).
func (x *Index) quantSearch(sc *scratch, s *scorer, ef int) []heap.Item {
	cur, curD := x.quantDescend(sc, s)
	x.quantLayer(sc, s, cur, curD, ef, x.ndeleted.Load() > 0)
	sc.items = sc.top.DrainSorted(sc.items[:0])
	return sc.items
}

// quantDescend prepares s and walks greedily through the scorer from the
// entry point down to level 1 (descend through codes); it returns the
// node to start level 0 from.
func (x *Index) quantDescend(sc *scratch, s *scorer) (uint32, float32) {
	s.prepare()
	ep, maxL := unpackEntry(x.entry.Load())
	d := x.dirFor(x.dir.Load(), ep)
	cur, curD := ep, s.at(d, ep)
	sc.ndist++
	if maxL == 0 {
		return cur, curD
	}
	sc.nextPass(int(x.nslots.Load()))[ep] = sc.gen
	for l := maxL; l > 0; l-- {
		cur, curD = x.quantGreedy(sc, s, cur, curD, l)
	}
	return cur, curD
}

// quantGreedy is greedy through the scorer (codes or float32 vectors),
// inside quantDescend's visited pass (see greedy).
func (x *Index) quantGreedy(sc *scratch, s *scorer, cur uint32, curD float32, l int) (uint32, float32) {
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
			s.prefetch(d, id)
			ids = append(ids, id)
		}
		sc.ids = ids
		for _, id := range ids {
			dd := s.at(d, id)
			sc.ndist++
			if dd < curD {
				curD, cur, changed = dd, id, true
			}
		}
	}
	return cur, curD
}

// quantLayer is searchLayer (level 0, no filter) on codes; checked skips
// tombstones in the results while still walking through them.
func (x *Index) quantLayer(sc *scratch, s *scorer, ep uint32, epD float32, ef int, checked bool) {
	d := x.dir.Load()
	vis := sc.nextPass(int(x.nslots.Load()))
	gen := sc.gen
	top, cand := &sc.top, &sc.cand
	top.Reset()
	cand.Reset()
	lower := float32(math.Inf(1))
	if !checked || x.admit(d, ep, nil) {
		top.Push(heap.Item{Dist: epD, ID: ep})
		lower = epD
	}
	cand.Push(heap.Item{Dist: epD, ID: ep})
	vis[ep] = gen
	dim, shift, mask := x.dim, x.shift, x.mask
	intL2 := s.mode == scoreIntL2
	l2 := s.l2
	for cand.Len() > 0 {
		c := cand.Top()
		if c.Dist > lower && (top.Len() == ef || !checked) {
			break
		}
		cand.Pop()
		list := x.list(d, c.ID, 0)
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
			prefetch.Range(unsafe.Pointer(unsafe.SliceData(ch.codes[int(id&mask)*dim:])), min(uintptr(dim), codePrefetch))
			ids = append(ids, id)
		}
		sc.ids = ids
		sc.ndist += int64(len(ids))
		for _, id := range ids {
			ch := d.chunks[id>>shift]
			o := int(id&mask) * dim
			var dd float32
			if intL2 {
				dd = float32(l2.IntDistanceUnchecked(ch.codes[o : o+dim : o+dim]))
			} else {
				dd = s.at(d, id)
			}
			if top.Len() < ef || dd < lower {
				cand.Push(heap.Item{Dist: dd, ID: id})
				prefetch.Line(unsafe.Pointer(unsafe.SliceData(ch.links0[int(id&mask)*x.lstride:])))
				if !checked || x.admit(d, id, nil) {
					top.PushBounded(heap.Item{Dist: dd, ID: id}, ef)
				}
				if top.Len() > 0 {
					lower = top.Top().Dist
				}
			}
		}
		if cand.Len() > 0 {
			nx := cand.Top().ID
			ch := d.chunks[nx>>shift]
			prefetch.Line(unsafe.Pointer(unsafe.SliceData(ch.links0[int(nx&mask)*x.lstride:])))
		}
	}
}
