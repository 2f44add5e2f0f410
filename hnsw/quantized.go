package hnsw

import (
	"context"
	"fmt"
	"slices"
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
	// The codec's ranges are learnt from data: by Train, or, without it,
	// from the stored vectors once the index holds TrainSize of them (Add
	// or AddBatch that reaches TrainSize trains before it returns). Until
	// then searches read the float32 vectors, which on so few vectors
	// costs little, so a codec is never fitted to a handful of vectors
	// (a first AddBatch of one vector would have given ranges of width
	// zero and poor recall). Training encodes every vector already
	// stored. Coordinates outside the learnt range saturate at code 0 or
	// 255 (their distances grow less accurate, re-ranking keeps the
	// returned distances exact).
	//
	// The graph is built with the float32 vectors, so it is the same
	// graph as without quantization; only searches read the codes.
	SQ8
	// QGraph keeps with every node the 4-bit product-quantization codes
	// of its level-0 neighbours, laid out for pq's fast-scan kernel
	// (qgraph.go): a search expanding a node estimates all its
	// neighbours from that one block and reads only the expanded node's
	// float32 vector (its exact distance), so it makes about one random
	// memory access per hop instead of one per neighbour. Results carry
	// exact float32 distances. The graph is the float32 graph; the codes
	// cost, per node, ⌈2M/32⌉·32·FastScanPairs(QGraphSubspaces) bytes of
	// blocks plus ⌈QGraphSubspaces/2⌉ of its own code (M=16 on 100-d
	// vectors with the default 50 subspaces: 857 bytes, M=32: 1,689).
	//
	// The quantizer is trained as SQ8's codec is: by Train, or on the
	// stored vectors once the index holds TrainSize of them; until then
	// searches walk the float32 vectors. Filtered searches use the
	// float32 strategies of filter.go.
	QGraph
)

// String returns "none", "sq8" or "qgraph".
func (q Quantization) String() string {
	switch q {
	case NoQuantization:
		return "none"
	case SQ8:
		return "sq8"
	case QGraph:
		return "qgraph"
	}
	return fmt.Sprintf("Quantization(%d)", uint8(q))
}

func (q Quantization) valid() bool { return q <= QGraph }

// TrainSize is the number of stored vectors from which an SQ8 index that
// was not given Train learns its codec.
const TrainSize = 1000

// quantState is the codec of an SQ8 index. The quantizer is published once
// (atomically), after every stored vector has its code, and never
// replaced; while it is nil searches read the float32 vectors.
type quantState struct {
	sq    atomic.Pointer[scalar.SQ8]
	intL2 bool // uniform L2 codes: distance.SquaredL2Uint8 on encoded queries
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
	switch {
	case x.qg != nil:
		return QGraph
	case x.quant != nil:
		return SQ8
	}
	return NoQuantization
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

// Trained reports whether the index has the codec its searches need: true
// for an unquantized index, and for an SQ8 index once Train, or TrainSize
// stored vectors, have set the codec's ranges (see SQ8).
func (x *Index) Trained() bool {
	if x.qg != nil {
		return x.qg.pq.Load() != nil
	}
	return x.quant == nil || x.quant.sq.Load() != nil
}

// Train learns the SQ8 codec's ranges (or the QGraph quantizer) from the len(data)/Dim() vectors of
// data (which are not added) and encodes the vectors already stored.
// Without it an SQ8 index trains itself on its own vectors once it holds
// TrainSize of them; Train is for data more representative than the first
// vectors added. Errors wrap nearkit.ErrInvalidConfig (index not
// quantized, or already trained: codes already stored would not match new
// ranges), nearkit.ErrEmpty, nearkit.ErrDimension or
// nearkit.ErrInvalidVector; nearkit.ErrReadOnly for a memory-mapped index
// and ErrClosed after Close.
func (x *Index) Train(ctx context.Context, data []float32) error {
	if x.quant == nil && x.qg == nil {
		return fmt.Errorf("%w: hnsw: Train on an index without quantization", nearkit.ErrInvalidConfig)
	}
	if err := check.Vectors(data, x.dim); err != nil {
		return err
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if err := x.writable(); err != nil {
		return err
	}
	if x.Trained() {
		return fmt.Errorf("%w: hnsw: quantizer already trained", nearkit.ErrInvalidConfig)
	}
	if x.metric.Normalizes() {
		// The codes encode the stored, normalised vectors.
		data = slices.Clone(data)
		for i := 0; i+x.dim <= len(data); i += x.dim {
			distance.Normalize(data[i : i+x.dim])
		}
	}
	return x.trainLocked(ctx, data)
}

// trainIfDue trains an untrained SQ8 index on its live vectors once it
// holds TrainSize of them. Add and AddBatch call it after inserting,
// holding no lock. A failure (none is expected: the stored vectors are
// finite) leaves the index untrained and searching float32 vectors, and
// the next Add tries again.
func (x *Index) trainIfDue() {
	if x.Trained() || x.Len() < TrainSize {
		return
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if x.Trained() || x.writable() != nil {
		return
	}
	d := x.dir.Load()
	n := x.nslots.Load()
	data := make([]float32, 0, x.Len()*x.dim)
	for s := range n {
		if atomic.LoadUint32(x.metaOf(s))&(flagDeleted|flagFree) == 0 {
			data = append(data, x.vecOf(d, s)...)
		}
	}
	_ = x.trainLocked(context.Background(), data)
}

// trainLocked learns the codec from data (stored-form vectors: normalised
// for cosine), encodes every slot, and publishes the codec. The caller
// holds writeMu exclusively, so no insertion runs; searches running
// meanwhile read float32 vectors until the codec is published, after the
// codes.
func (x *Index) trainLocked(ctx context.Context, data []float32) error {
	if x.qg != nil {
		return x.qgTrainLocked(ctx, data)
	}
	sq, err := scalar.NewSQ8(scalar.SQ8Config{Dim: x.dim, Metric: x.metric, Uniform: x.quant.intL2})
	if err != nil {
		return err
	}
	if err := sq.Train(ctx, data); err != nil {
		return err
	}
	d := x.dir.Load()
	lossless := x.quant.intL2
	for s := range x.nslots.Load() {
		c := d.chunks[s>>x.shift]
		o := s & x.mask
		v := x.vecOf(d, s)
		code := c.codes[int(o)*x.dim : int(o+1)*x.dim]
		sq.EncodeUnchecked(code, v)
		if atomic.LoadUint32(&c.meta[o])&flagFree == 0 {
			lossless = lossless && sq.LosslessUnchecked(code, v)
		}
	}
	if x.quant.intL2 {
		if lossless {
			x.quant.exact.Store(codesExact) // until a lossy vector is stored
		} else {
			x.quant.exact.Store(codesLossy)
		}
	}
	x.quant.sq.Store(sq)
	return nil
}

// codec returns the trained SQ8 codec, or nil (unquantized or untrained).
func (x *Index) codec() *scalar.SQ8 {
	if x.quant == nil {
		return nil
	}
	return x.quant.sq.Load()
}

// encodeSlot writes the code of v (the stored vector, already normalised)
// for slot o of c, if the codec is trained (trainLocked encodes the slots
// placed before).
func (x *Index) encodeSlot(c *chunk, o uint32, v []float32) {
	sq := x.quant.sq.Load()
	if sq == nil {
		return
	}
	code := c.codes[int(o)*x.dim : int(o+1)*x.dim]
	sq.EncodeUnchecked(code, v)
	if x.quant.exact.Load() == codesExact && !sq.LosslessUnchecked(code, v) {
		// Before the node is linked, so a search that reaches it reads
		// the flag changed (searchCodes reads it after the traversal).
		x.quant.exact.CompareAndSwap(codesExact, codesLossy)
	}
}

// searchCodes is the search of an SQ8 index through its codes, with the
// ef best candidates re-ranked by their float32 vectors (unless the code
// distances are exact already).
func (x *Index) searchCodes(sc *scratch, sq *scalar.SQ8, q []float32, k, ef int, f nearkit.Filter) []heap.Item {
	if !x.quant.intL2 {
		sq.PrepareDotUnchecked(&sc.dot, q)
		items, exact := searchWith(x, sc, &sq8DotScorer{x: x, q: &sc.dot}, q, k, ef, f)
		if exact {
			return items
		}
		return x.rerank(q, items)
	}
	sq.PrepareL2Unchecked(&sc.l2, q)
	items, exact := searchWith(x, sc, &sq8L2Scorer{x: x, q: &sc.l2}, q, k, ef, f)
	switch {
	case exact:
		return items
	case sc.l2.Lossless() && x.quant.exact.Load() == codesExact:
		// Query and every stored vector are their codes exactly: the
		// integer distance is the float32 one (up to rounding), and
		// re-ranking would only re-read the float vectors from memory (a
		// quarter of the search time on Fashion-MNIST). The flag is read
		// after the traversal: a node found was encoded before it was
		// linked.
		scale := sc.l2.Scale()
		for i := range items {
			items[i].Dist *= scale
		}
		return items
	}
	return x.rerank(q, items)
}

// rerank replaces code distances by float32 distances and sorts items
// by them (ties by slot; search orders ties by ID afterwards). The float
// vectors of the few candidates are the only ones a quantized search
// reads; they are prefetched whole (the first 256 bytes measured the same
// on Fashion-MNIST).
func (x *Index) rerank(q []float32, items []heap.Item) []heap.Item {
	d := x.dir.Load()
	for i := range items {
		id := items[i].ID
		prefetch.Range(unsafe.Pointer(unsafe.SliceData(x.vecOf(d, id))), uintptr(x.dim)*4)
	}
	for i := range items {
		items[i].Dist = x.dist(q, x.vecOf(d, items[i].ID))
	}
	sortItems(items)
	return items
}
