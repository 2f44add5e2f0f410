package hnsw

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/nearkit/nearkit"
)

// A chunk holds 1<<shift consecutive slots. Every slice is allocated at
// full size when the chunk is created and never reallocated, so a reader
// holding a chunk pointer never sees storage move under it.
type chunk struct {
	// vecs and links0 hold slot o's vector at vecs[o·vstride:][:dim] and
	// its level-0 list at links0[o·lstride:][:stride0]. In a float index
	// both are views of one record array (layout.go); otherwise they are
	// separate arrays with vstride = dim and lstride = stride0.
	vecs   []float32
	links0 []uint32
	labels []uint64     // the caller's ID of each slot
	meta   []uint32     // level | flags; read and written atomically
	upper  []uint32     // pool reference of the slot's upper lists (level > 0)
	locks  []sync.Mutex // guards the slot's link lists against other writers
	codes  []uint8      // dim bytes per slot, SQ8 indexes only (quantized.go)
	// QGraph indexes only (qgraph.go): each slot's own 4-bit code and the
	// fast-scan blocks of its level-0 neighbours' codes.
	qcodes []uint8
	qblk   []uint32
	// pending has bit o set while slot o is reserved but its vector and
	// label are not written yet (filter.go: the exact scan skips it).
	pending []uint64
}

// directory is the chunk table, replaced (copy of the pointer slice plus
// the new chunks) and published atomically when the index grows.
type directory struct {
	chunks []*chunk
}

// upperPool holds the upper-level lists: a node of level L > 0 owns
// L·(M+1) consecutive words (level l's list at (l-1)·(M+1)) in one pool
// chunk. A reference is chunk<<16 | offset.
type upperPool struct {
	chunks [][]uint32
}

const (
	poolChunkWords = 1 << 16
	levelMask      = 0xff
	flagDeleted    = 1 << 8
	emptyEntry     = math.MaxUint64
)

func packEntry(slot uint32, level int) uint64 { return uint64(level)<<32 | uint64(slot) }

func unpackEntry(e uint64) (slot uint32, level int) { return uint32(e), int(e >> 32) }

// vecOf returns the stored vector of slot s. d must hold s's chunk.
func (x *Index) vecOf(d *directory, s uint32) []float32 {
	c := d.chunks[s>>x.shift]
	o := int(s&x.mask) * x.vstride
	return c.vecs[o : o+x.dim : o+x.dim]
}

// dirFor returns a directory holding s's chunk: d itself unless the index
// grew since d was loaded and s lives in a chunk added since.
func (x *Index) dirFor(d *directory, s uint32) *directory {
	if int(s>>x.shift) >= len(d.chunks) {
		d = x.dir.Load()
	}
	return d
}

// list returns slot s's link list at level l (count word first).
func (x *Index) list(d *directory, s uint32, l int) []uint32 {
	c := d.chunks[s>>x.shift]
	o := int(s & x.mask)
	if l == 0 {
		o *= x.lstride
		return c.links0[o : o+x.stride0 : o+x.stride0]
	}
	return x.upperList(x.pool.Load(), c.upper[o], l)
}

// upperList returns the level-l list (l ≥ 1) of the node whose upper
// lists start at ref in p.
func (x *Index) upperList(p *upperPool, ref uint32, l int) []uint32 {
	w := int(ref&0xffff) + (l-1)*x.strideU
	return p.chunks[ref>>16][w : w+x.strideU : w+x.strideU]
}

func (x *Index) levelOf(d *directory, s uint32) int {
	return int(atomic.LoadUint32(&d.chunks[s>>x.shift].meta[s&x.mask]) & levelMask)
}

func (x *Index) lockOf(d *directory, s uint32) *sync.Mutex {
	return &d.chunks[s>>x.shift].locks[s&x.mask]
}

// allocSlots reserves n consecutive slots, creating chunks as needed, and
// returns the first. The new slots are zero: no links, level 0.
func (x *Index) allocSlots(n int) (uint32, error) {
	x.growMu.Lock()
	defer x.growMu.Unlock()
	base := x.nslots.Load()
	if uint64(base)+uint64(n) > maxSlots {
		return 0, fmt.Errorf("%w: hnsw: index full (%d slots)", nearkit.ErrInvalidConfig, base)
	}
	end := base + uint32(n)
	d := x.dir.Load()
	need := int((uint64(end) + uint64(x.mask)) >> x.shift)
	if need > len(d.chunks) {
		nd := &directory{chunks: append(d.chunks[:len(d.chunks):len(d.chunks)], make([]*chunk, 0, need-len(d.chunks))...)}
		for len(nd.chunks) < need {
			nd.chunks = append(nd.chunks, x.newChunk())
		}
		x.dir.Store(nd)
		d = nd
	}
	x.markPending(d, base, end)
	x.nslots.Store(end)
	return base, nil
}

func (x *Index) newChunk() *chunk {
	n := 1 << x.shift
	c := &chunk{
		labels: make([]uint64, n),
		meta:   make([]uint32, n),
		upper:  make([]uint32, n),
		locks:  make([]sync.Mutex, n),
	}
	c.vecs, c.links0 = x.newRecords(n)
	if x.quant != nil {
		c.codes = make([]uint8, n*x.dim)
	}
	if x.qg != nil {
		x.qgNewChunk(c, n)
	}
	c.pending = make([]uint64, (n+63)/64)
	return c
}

// allocUpper reserves level·(M+1) zeroed pool words and returns their
// reference.
func (x *Index) allocUpper(level int) uint32 {
	words := level * x.strideU
	x.growMu.Lock()
	defer x.growMu.Unlock()
	p := x.pool.Load()
	chunks, ref := carveUpper(p.chunks, &x.poolUsed, words)
	if len(chunks) != len(p.chunks) {
		x.pool.Store(&upperPool{chunks: chunks})
	}
	return ref
}

// carveUpper reserves words zeroed words after the *used words of the
// last pool chunk, first appending a chunk when they do not fit, and
// returns the chunks and the words' reference. An appended chunk goes
// into a new backing array, so readers of the old chunk list never see it
// change.
func carveUpper(chunks [][]uint32, used *int, words int) ([][]uint32, uint32) {
	if len(chunks) == 0 || *used+words > poolChunkWords {
		chunks = append(chunks[:len(chunks):len(chunks)], make([]uint32, poolChunkWords))
		*used = 0
	}
	ref := uint32(len(chunks)-1)<<16 | uint32(*used)
	*used += words
	return chunks, ref
}

// storeList writes ids as a link list; the caller holds the slot's lock or
// owns a slot no other node links to yet. Ids are stored before the count,
// so a concurrent reader sees either the old count or ids that are set.
func storeList(list []uint32, ids []uint32) {
	for j, id := range ids {
		atomic.StoreUint32(&list[1+j], id)
	}
	atomic.StoreUint32(&list[0], uint32(len(ids)))
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
