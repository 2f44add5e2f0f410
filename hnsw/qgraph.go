package hnsw

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/nearkit/nearkit/internal/hugepage"
	"github.com/nearkit/nearkit/pq"
)

// The quantized-graph mode (Config.Quantization = QGraph): every node
// keeps, beside its level-0 link list, the 4-bit product-quantization
// codes of the neighbours on that list, laid out as the fast-scan kernel
// of pq reads them (blocks of 32 codes, one per 32 list entries). A
// search that expands a node estimates all its neighbours' distances
// from that one contiguous block with the kernel's in-register lookups,
// instead of fetching each neighbour's vector from wherever it lives;
// only the node it expands is read in full (its exact distance), so the
// random memory accesses per hop drop from one per neighbour to about
// one (NGT-QG, SymphonyQG). See qgraph_search.go for the walk.
//
// Why 4-bit PQ fast-scan rather than RaBitQ 1-bit codes: the kernel, its
// assembly for AVX2, AVX-512 and NEON and its block layout exist in pq
// and are tested; a block of 32 codes is scored by one call. RaBitQ
// would need a random rotation per query and its own popcount kernel;
// its error bound (which could skip exact distances) is the one thing
// PQ does not give. The estimates here only order the beam: every
// distance returned is a float32 one.
//
// Consistency: a node's block is rewritten (qgStoreList) wherever its
// level-0 list is: insertion's own lists and back-links, the heuristic's
// shrink, Vacuum's repairs; Optimize copies blocks with the records
// (renumbering slots changes no code), WriteTo, Read and Open keep them
// in their own sections. A node's own code is written in place, before
// the node is linked, and never changes while it lives (Update inserts
// a new node). Writers store block words atomically; a search reading a
// block while its owner's list changes may estimate one neighbour from
// a mix of old and new codes, which can only misorder the beam (the
// neighbour's exact distance is computed when it is expanded), the same
// tolerance the walk has for link words.

// qgState is the quantizer and block geometry of a QGraph index. The
// quantizer is published once, after every stored node has its code and
// every list its block, and never replaced; while it is nil, searches
// walk the float32 vectors and no block is written.
type qgState struct {
	m      int // subquantizers
	cs     int // bytes of a node's own code (⌈m/2⌉)
	np     int // subquantizer pairs of a fast-scan block
	nb     int // blocks per node: ⌈2M/32⌉
	bwords int // words of a node's blocks: nb·np·8
	pq     atomic.Pointer[pq.ProductQuantizer]
}

// maxQGSubspaces is the fast-scan kernel's limit (uint16 sums).
const maxQGSubspaces = 256

// defaultQGSubspaces picks the subquantizer count: two dimensions per
// 4-bit code up to 256 dimensions (100-d embeddings get 50), four beyond
// (Fashion-MNIST's 784 get 196), the largest divisor of dim not above
// that, and at most 256.
func defaultQGSubspaces(dim int) int {
	dsub := 2
	if dim > 256 {
		dsub = 4
	}
	want := min(max(dim/dsub, 1), maxQGSubspaces)
	for m := want; m > 1; m-- {
		if dim%m == 0 {
			return m
		}
	}
	return 1
}

func newQGState(cfg Config) *qgState {
	if cfg.Quantization != QGraph {
		return nil
	}
	m := cfg.QGraphSubspaces
	np := pq.FastScanPairs(m)
	nb := (2*cfg.M + 31) / 32
	return &qgState{m: m, cs: (m + 1) / 2, np: np, nb: nb, bwords: nb * np * 8}
}

// qgMemory is the quantized graph's share of MemoryUsage: a node's own
// code and its neighbours' blocks per slot of every chunk, plus the
// codebook (16 centroids per subspace).
func (x *Index) qgMemory(nchunks int) int64 {
	g := x.qg
	if g == nil {
		return 0
	}
	n := int64(nchunks) * int64(g.cs+4*g.bwords) << x.shift
	if g.pq.Load() != nil {
		n += int64(16 * x.dim * 4)
	}
	return n
}

// qgNewChunk allocates a new chunk's codes and blocks.
func (x *Index) qgNewChunk(c *chunk, n int) {
	g := x.qg
	c.qcodes = make([]uint8, n*g.cs)
	c.qblk = hugepage.Uint32s(n * g.bwords)
}

// qgCode returns the own code of slot s; d holds s's chunk.
func (x *Index) qgCode(d *directory, s uint32) []uint8 {
	cs := x.qg.cs
	o := int(s&x.mask) * cs
	return d.chunks[s>>x.shift].qcodes[o : o+cs : o+cs]
}

// qgBlock returns the block words of slot s; d holds s's chunk.
func (x *Index) qgBlock(d *directory, s uint32) []uint32 {
	bw := x.qg.bwords
	o := int(s&x.mask) * bw
	return d.chunks[s>>x.shift].qblk[o : o+bw : o+bw]
}

// qgEncodeSlot writes the own code of slot o of c from its stored vector
// v, if the quantizer is trained (qgTrainLocked encodes earlier slots).
func (x *Index) qgEncodeSlot(c *chunk, o uint32, v []float32) {
	p := x.qg.pq.Load()
	if p == nil {
		return
	}
	cs := x.qg.cs
	// v is a stored vector: finite, of the right dimension.
	_ = p.Encode(c.qcodes[int(o)*cs:][:cs], v)
}

// qgStoreList rewrites the blocks of slot s from ids, its new level-0
// list, when the quantizer is trained; every writer of a level-0 list
// calls it with the list (holding s's lock, or owning s). The block is
// built in buf (grown as needed and returned) and stored word by word.
func (x *Index) qgStoreList(d *directory, s uint32, ids []uint32, buf []byte) []byte {
	if x.qg == nil || x.qg.pq.Load() == nil {
		return buf
	}
	return x.qgWriteBlock(d, s, ids, buf)
}

// qgWriteBlock is qgStoreList without the test for a trained quantizer
// (training writes every block before it publishes the quantizer).
func (x *Index) qgWriteBlock(d *directory, s uint32, ids []uint32, buf []byte) []byte {
	g := x.qg
	nbytes := g.bwords * 4
	if cap(buf) < nbytes {
		buf = make([]byte, nbytes)
	}
	buf = buf[:nbytes]
	clear(buf)
	bs := g.np * 32
	for j, id := range ids {
		b := j / 32
		pq.PackFastScanCode(buf[b*bs:(b+1)*bs], g.m, j%32, x.qgCode(x.dirFor(d, id), id))
	}
	blk := x.qgBlock(x.dirFor(d, s), s)
	for w := range blk {
		atomic.StoreUint32(&blk[w], *(*uint32)(unsafe.Pointer(&buf[4*w])))
	}
	return buf
}

// qgSetEntry writes the code of slot id as entry j of slot s's blocks
// (addLink's append; the caller holds s's lock). Each of the code's
// nibbles shares a word with other entries: a word is read, changed and
// stored whole, so readers never see a torn word.
func (x *Index) qgSetEntry(d *directory, s uint32, j int, id uint32) {
	g := x.qg
	if g == nil || g.pq.Load() == nil {
		return
	}
	code := x.qgCode(x.dirFor(d, id), id)
	blk := x.qgBlock(x.dirFor(d, s), s)
	base := (j / 32) * g.np * 32
	v := j % 32
	shift := uint(0)
	if v >= 16 {
		shift = 4
	}
	for sq := range g.m {
		nib := uint32(code[sq/2]>>(4*(sq%2))) & 15
		i := base + (sq/2)*32 + (sq%2)*16 + v%16
		w := &blk[i/4]
		bit := uint(i%4)*8 + shift
		old := atomic.LoadUint32(w)
		atomic.StoreUint32(w, old&^(15<<bit)|nib<<bit)
	}
}

// qgTrainLocked learns the product quantizer from data (stored-form
// vectors), encodes every slot, writes every level-0 list's blocks and
// publishes the quantizer. The caller holds writeMu exclusively.
func (x *Index) qgTrainLocked(ctx context.Context, data []float32) error {
	g := x.qg
	p, err := pq.New(pq.Config{Dim: x.dim, M: g.m, NBits: 4, Metric: x.metric, Seed: x.seed})
	if err != nil {
		return err
	}
	if err := p.Train(ctx, data); err != nil {
		return err
	}
	d := x.dir.Load()
	n := x.nslots.Load()
	for s := range n {
		c := d.chunks[s>>x.shift]
		o := s & x.mask
		if err := p.Encode(c.qcodes[int(o)*g.cs:][:g.cs], x.vecOf(d, s)); err != nil {
			return err
		}
	}
	var buf []byte
	var ids []uint32
	for s := range n {
		if s%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		list, cnt := x.neighbours(d, s, 0)
		ids = append(ids[:0], list[1:1+cnt]...)
		buf = x.qgWriteBlock(d, s, ids, buf)
	}
	g.pq.Store(p)
	return nil
}

// checkQGSubspaces validates Config.QGraphSubspaces for dim.
func checkQGSubspaces(m, dim int) error {
	if m < 1 || m > maxQGSubspaces || m > dim || dim%m != 0 {
		return fmt.Errorf("QGraphSubspaces=%d: want a divisor of Dim=%d in [1,%d]", m, dim, maxQGSubspaces)
	}
	return nil
}

func (x *Index) qgSubspaces() int {
	if x.qg == nil {
		return 0
	}
	return x.qg.m
}

// qgQuantizer returns the trained quantizer of a QGraph index, or nil.
func (x *Index) qgQuantizer() *pq.ProductQuantizer {
	if x.qg == nil {
		return nil
	}
	return x.qg.pq.Load()
}
