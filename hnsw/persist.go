package hnsw

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/binfmt"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/pq"
	"github.com/nearkit/nearkit/scalar"
)

// File format: internal/binfmt framing (8-byte magic "NKHNSW", u32
// version, payload, CRC-32C of everything before it), all little-endian.
// Version 3 payload:
//
//	u32 dim, u8 metric, u32 M, u32 efConstruction, u32 efSearch, u64 seed,
//	u8 quantization (0 none, 1 SQ8, 2 QGraph)
//	u64 n, then n bytes: the level generator's state (PCG MarshalBinary)
//	u64 n, then n bytes: the SQ8 codec (scalar.SQ8.WriteTo; n = 0 unquantized),
//	  or QGraph's subspace count and quantizer (qgraph_persist.go)
//	u64 nslots, u64 entry (level<<32 | slot, or 2⁶⁴-1 when empty)
//	u64 upper words (the total of the upper lists below)
//	zero padding to a multiple of 64 bytes from the start of the file,
//	then each of these sections, each padded the same way:
//	  nslots × u64 labels (caller IDs)
//	  nslots × u32 meta (bits 0-7 level, bit 8 deleted, bit 9 free)
//	  nslots × dim × f32 vectors (normalised for cosine)
//	  nslots × dim × u8 SQ8 codes (quantized indexes only)
//	  QGraph only: own codes, neighbour-code blocks (qgraph_persist.go)
//	  nslots × (1+2M) × u32 level-0 lists (count, ids, unused tail zero)
//	  the upper lists of every slot with level > 0 in slot order,
//	  level·(1+M) u32 each (level 1 first)
//	footer: a u32 CRC-32C of each section above, the header (from the
//	  magic) first, each covering its padding; then u32 section count
//
// The padding puts every section at a 64-byte boundary, so Open can use
// the mapped file in place (vectors cache-line aligned, as in memory);
// the section checksums let it check the small sections without reading
// the vectors (sections.go). Deleted slots are kept (they are navigation
// nodes); a free slot (bit 9, reclaimed by Vacuum) has no links and
// nothing links to it. Writing never iterates a map, so the same index
// always gives the same bytes.
//
// Version 2 (still read, and opened with weaker checks) had no footer.
// Version 1 (still read, not opened) had no quantization byte, codec,
// padding or codes either, and the upper word count just before the upper
// lists.
const (
	magic       = "NKHNSW"
	fileVersion = 3
	align       = 64
)

// countingWriter counts bytes so WriteTo knows its offset for padding.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var zeros [align]byte

func padLen(off int64) int { return int((align - off%align) % align) }

// WriteTo writes the index in the format above. It waits for in-flight
// Add, AddBatch, Update, Delete and Vacuum calls and holds further ones
// off while it runs; searches go on.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if x.life.closed.Load() {
		return 0, ErrClosed
	}
	cw := &countingWriter{w: w}
	bw := binfmt.NewWriter(cw, magic, fileVersion)
	// A section ends with its padding.
	var sums []uint32
	pad := func() {
		bw.Bytes(zeros[:padLen(cw.n)])
		sums = append(sums, bw.Section())
	}
	bw.U32(uint32(x.dim))
	bw.U8(uint8(x.metric))
	bw.U32(uint32(x.m))
	bw.U32(uint32(x.efc))
	bw.U32(uint32(x.efs))
	bw.U64(x.seed)
	bw.U8(uint8(x.quantization()))
	var st []byte
	if x.pcg != nil {
		x.rngMu.Lock()
		st, _ = x.pcg.MarshalBinary() // cannot fail
		x.rngMu.Unlock()
	}
	bw.U64(uint64(len(st)))
	bw.Bytes(st)
	var codec bytes.Buffer
	if x.qg != nil {
		b, err := x.qgCodec()
		if err != nil {
			return cw.n, err
		}
		codec.Write(b)
	}
	if x.quant != nil {
		if sq := x.quant.sq.Load(); sq != nil {
			if _, err := sq.WriteTo(&codec); err != nil {
				return cw.n, err
			}
		}
	}
	bw.U64(uint64(codec.Len()))
	bw.Bytes(codec.Bytes())
	n := int(x.nslots.Load())
	d := x.dir.Load()
	words := 0
	for s := range uint32(n) {
		words += x.levelOf(d, s) * x.strideU
	}
	bw.U64(uint64(n))
	bw.U64(x.entry.Load())
	bw.U64(uint64(words))
	pad()
	per := 1 << x.shift
	// Each section walks the chunks, writing the used part of each.
	for ci := 0; ci*per < n; ci++ {
		bw.Uint64s(d.chunks[ci].labels[:min(per, n-ci*per)])
	}
	pad()
	for ci := 0; ci*per < n; ci++ {
		bw.Uint32s(d.chunks[ci].meta[:min(per, n-ci*per)])
	}
	pad()
	for ci := 0; ci*per < n; ci++ {
		eachRow(d.chunks[ci].vecs, min(per, n-ci*per), x.vstride, x.dim, bw.Float32s)
	}
	pad()
	if x.quant != nil {
		for ci := 0; ci*per < n; ci++ {
			bw.Bytes(d.chunks[ci].codes[:min(per, n-ci*per)*x.dim])
		}
		pad()
	}
	if x.qg != nil {
		x.qgWriteSections(bw, d, n, pad)
	}
	for ci := 0; ci*per < n; ci++ {
		eachRow(d.chunks[ci].links0, min(per, n-ci*per), x.lstride, x.stride0, bw.Uint32s)
	}
	pad()
	for s := range uint32(n) {
		if l := x.levelOf(d, s); l > 0 {
			ref := d.chunks[s>>x.shift].upper[s&x.mask]
			pc := x.pool.Load().chunks[ref>>16]
			off := int(ref & 0xffff)
			bw.Uint32s(pc[off : off+l*x.strideU])
		}
	}
	sums = append(sums, bw.Section())
	for _, s := range sums {
		bw.U32(s)
	}
	bw.U32(uint32(len(sums)))
	_, err := bw.Finish()
	return cw.n, err
}

// Save writes the index to path crash-safely: to a temporary file in the
// same directory, fsynced, then renamed over path (see nearkit.SaveFile),
// so path always holds either the old index or the complete new one. An
// index memory-mapped from path (Open) may save over it: the mapping keeps
// the old file's contents.
func (x *Index) Save(path string) error { return nearkit.SaveFile(path, x) }

// Load reads an index saved with Save or WriteTo from path into memory.
func Load(path string) (*Index, error) { return binfmt.LoadFile(path, Read) }

// Read decodes an index written by WriteTo. Every count, level, flag, link
// and the entry point are checked, so a corrupt, truncated or foreign
// stream returns an error wrapping nearkit.ErrCorrupt or
// nearkit.ErrIncompatible, never a panic or an allocation beyond what the
// stream holds.
func Read(r io.Reader) (*Index, error) {
	x := new(Index)
	if _, err := x.ReadFrom(r); err != nil {
		return nil, err
	}
	return x, nil
}

// countingReader counts the bytes ReadFrom consumes.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ReadFrom decodes an index written by WriteTo into x, which must be a
// zero Index never used before (new(hnsw.Index)); it implements
// io.ReaderFrom. Errors are those of Read; on error x stays unusable. It
// returns the number of bytes consumed.
func (x *Index) ReadFrom(r io.Reader) (int64, error) {
	if x.dim != 0 {
		return 0, fmt.Errorf("%w: hnsw: ReadFrom into an index in use; use a new(hnsw.Index)", nearkit.ErrInvalidConfig)
	}
	cr := &countingReader{r: r}
	err := x.decode(cr)
	if err != nil {
		// Leave x failing every call rather than half-built.
		x.dim = 0
		x.life.closed.Store(true)
	}
	return cr.n, err
}

// header is the part of the file before the slot sections.
type header struct {
	version uint32
	cfg     Config
	rng     []byte
	sq      *scalar.SQ8
	pq      *pq.ProductQuantizer // QGraph
	n       int
	entry   uint64
	words   int // version 2: upper words; version 1: read later
}

func readHeader(br *binfmt.Reader) (*header, error) {
	h := &header{version: br.Version}
	cfg := &h.cfg
	cfg.Dim = int(br.U32())
	cfg.Metric = distance.Metric(br.U8())
	cfg.M = int(br.U32())
	cfg.EfConstruction = int(br.U32())
	cfg.EfSearch = int(br.U32())
	cfg.Seed = br.U64()
	if h.version >= 2 {
		cfg.Quantization = Quantization(br.U8())
	}
	if br.Err() != nil {
		return nil, br.Err()
	}
	if cfg.Dim == 0 || cfg.M == 0 || cfg.EfConstruction == 0 || cfg.EfSearch == 0 {
		return nil, fmt.Errorf("%w: hnsw: zero parameter in header", nearkit.ErrCorrupt)
	}
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("%w: hnsw: header: %v", nearkit.ErrCorrupt, err)
	}
	h.rng = br.Bytes(br.Count("generator state bytes", 64))
	if h.version >= 2 {
		codec := br.Bytes(br.Count("codec bytes", 1<<20+uint64(64*cfg.Dim)))
		if br.Err() != nil {
			return nil, br.Err()
		}
		if cfg.Quantization == QGraph {
			p, err := readQGCodec(cfg, codec)
			if err != nil {
				return nil, err
			}
			h.pq = p
		} else if len(codec) > 0 && cfg.Quantization != SQ8 {
			return nil, fmt.Errorf("%w: hnsw: codec in an index without quantization", nearkit.ErrCorrupt)
		}
		if len(codec) > 0 && cfg.Quantization == SQ8 {
			sq, err := scalar.ReadSQ8(bytes.NewReader(codec))
			if err != nil {
				return nil, fmt.Errorf("hnsw: codec: %w", err)
			}
			if sq.Dim() != cfg.Dim || sq.Metric() != cfg.Metric || !sq.Trained() || sq.Uniform() != (cfg.Metric == distance.L2) {
				return nil, fmt.Errorf("%w: hnsw: codec for dim %d %v (trained %v) in a dim %d %v index", nearkit.ErrCorrupt, sq.Dim(), sq.Metric(), sq.Trained(), cfg.Dim, cfg.Metric)
			}
			h.sq = sq
		}
	}
	h.n = br.Count("slots", maxSlots)
	h.entry = br.U64()
	if h.version >= 2 {
		h.words = br.Count("upper words", uint64(h.n)*uint64(maxLevel)*uint64(1+cfg.M))
	}
	return h, br.Err()
}

// setup builds x's skeleton from the header.
func (x *Index) setup(h *header) error {
	x.init(h.cfg)
	x.pcg = &rand.PCG{}
	if err := x.pcg.UnmarshalBinary(h.rng); err != nil {
		return fmt.Errorf("%w: hnsw: generator state: %v", nearkit.ErrCorrupt, err)
	}
	x.rng = rand.New(x.pcg)
	if h.sq != nil {
		x.quant.sq.Store(h.sq)
	}
	if h.pq != nil {
		x.qg.pq.Store(h.pq)
	}
	return nil
}

func (x *Index) decode(r io.Reader) error {
	br, err := binfmt.NewReader(r, magic, fileVersion)
	if err != nil {
		return err
	}
	h, err := readHeader(br)
	if err != nil {
		return err
	}
	if err := x.setup(h); err != nil {
		return err
	}
	v2 := h.version >= 2
	var sums []uint64
	pad := func() {
		if v2 {
			br.Bytes(padLen(br.Offset()))
		}
		sums = append(sums, uint64(br.Section()))
	}
	n := h.n
	pad()
	// Nothing is sized by n before the stream proves it holds the data:
	// labels and levels are read into slices that grow as they arrive,
	// and a chunk is allocated just before the section that dominates its
	// size — the vectors, or the level-0 lists when those are larger —
	// with what comes before it in the file held in growing slices until
	// then. So a lying count fails on truncation having allocated at most
	// a small multiple of the bytes read plus one chunk.
	labels := br.Uint64s(n)
	pad()
	meta := br.Uint32s(n)
	pad()
	if br.Err() != nil {
		return br.Err()
	}
	per := 1 << x.shift
	nch := (n + per - 1) / per
	used := func(ci int) int { return min(per, n-ci*per) }
	var chunks []*chunk
	makeChunks := func() {
		chunks = make([]*chunk, 0, min(nch, 1<<10))
	}
	addChunk := func(ci int) *chunk {
		c := x.newChunk()
		lo, hi := ci*per, ci*per+used(ci)
		copy(c.labels, labels[lo:hi])
		copy(c.meta, meta[lo:hi])
		chunks = append(chunks, c)
		return c
	}
	var vecs []float32
	var codes []uint8
	if x.dim >= x.stride0 {
		makeChunks()
		for ci := range nch {
			eachRow(addChunk(ci).vecs, used(ci), x.vstride, x.dim, br.ReadFloat32s)
			if br.Err() != nil {
				return br.Err()
			}
		}
	} else {
		vecs = br.Float32s(n * x.dim)
	}
	pad()
	if x.quant != nil {
		if chunks != nil {
			for ci, c := range chunks {
				copy(c.codes, br.Bytes(used(ci)*x.dim))
			}
		} else {
			codes = br.Bytes(n * x.dim)
		}
		pad()
	}
	var qg qgSections
	if x.qg != nil {
		qg = x.qgReadSections(br, chunks, n, pad)
	}
	if br.Err() != nil {
		return br.Err()
	}
	if chunks == nil {
		makeChunks()
		for ci := range nch {
			c := addChunk(ci)
			lo := ci * per * x.dim
			eachRow(c.vecs, used(ci), x.vstride, x.dim, func(dst []float32) { lo += copy(dst, vecs[lo:]) })
			if codes != nil {
				copy(c.codes, codes[ci*per*x.dim:])
			}
			if x.qg != nil {
				x.qgFillChunk(c, qg, ci)
			}
			eachRow(c.links0, used(ci), x.lstride, x.stride0, br.ReadUint32s)
			if br.Err() != nil {
				return br.Err()
			}
		}
	} else {
		for ci, c := range chunks {
			eachRow(c.links0, used(ci), x.lstride, x.stride0, br.ReadUint32s)
		}
	}
	labels, meta, vecs, codes = nil, nil, nil, nil
	pad()
	if br.Err() != nil {
		return br.Err()
	}
	d := &directory{chunks: chunks}
	words, err := x.checkMeta(d, n)
	if err != nil {
		return err
	}
	if !v2 {
		h.words = br.Count("upper words", uint64(words))
	}
	if br.Err() == nil && h.words != words {
		br.Fail("upper words = %d, levels need %d", h.words, words)
	}
	if br.Err() != nil {
		return br.Err()
	}
	x.dir.Store(d)
	x.nslots.Store(uint32(n))
	for s := range uint32(n) {
		l := x.levelOf(d, s)
		if l == 0 {
			continue
		}
		ref := x.allocUpper(l)
		d.chunks[s>>x.shift].upper[s&x.mask] = ref
		pc := x.pool.Load().chunks[ref>>16]
		off := int(ref & 0xffff)
		copy(pc[off:off+l*x.strideU], br.Uint32s(l*x.strideU))
		if br.Err() != nil {
			return br.Err()
		}
	}
	if h.version >= 3 {
		sums = append(sums, uint64(br.Section()))
		secs := x.sections()
		footer := br.Bytes(int(footerSize(len(secs))))
		if br.Err() != nil {
			return br.Err()
		}
		if err := checkSectionSums(secs, sums, footer); err != nil {
			return err
		}
	}
	if err := br.Finish(); err != nil {
		return err
	}
	if err := x.checkVectors(d, n); err != nil {
		return err
	}
	return x.validate(d, n, h.entry)
}

// checkVectors refuses vectors Add would have refused (check.Stored).
func (x *Index) checkVectors(d *directory, n int) error {
	for s := range uint32(n) {
		if err := check.Stored(x.vecOf(d, s), x.dim, x.metric); err != nil {
			return fmt.Errorf("hnsw: slot %d: %w", s, err)
		}
	}
	return nil
}

// checkMeta checks every slot's level and flags and returns the upper
// words the levels need.
func (x *Index) checkMeta(d *directory, n int) (int, error) {
	words := 0
	for s := range uint32(n) {
		m := d.chunks[s>>x.shift].meta[s&x.mask]
		if m&^(levelMask|flagDeleted|flagFree) != 0 || m&levelMask > maxLevel || m&(flagFree|flagDeleted) == flagFree {
			return 0, fmt.Errorf("%w: hnsw: slot %d: bad level/flags word %#x", nearkit.ErrCorrupt, s, m)
		}
		words += int(m&levelMask) * x.strideU
	}
	return words, nil
}

// validate checks what a search relies on: link counts within bounds, ids
// of existing, non-free slots at a level they have, no links from free
// slots, a valid entry point at the top level, and unique live IDs. It
// fills the ID map, the tombstone count and the free list.
func (x *Index) validate(d *directory, n int, entry uint64) error {
	bad := func(f string, args ...any) error {
		return fmt.Errorf("%w: hnsw: "+f, append([]any{nearkit.ErrCorrupt}, args...)...)
	}
	metaOf := func(s uint32) uint32 { return atomic.LoadUint32(&d.chunks[s>>x.shift].meta[s&x.mask]) }
	maxL := -1
	for s := range uint32(n) {
		l := x.levelOf(d, s)
		maxL = max(maxL, l)
		free := metaOf(s)&flagFree != 0
		for lv := 0; lv <= l; lv++ {
			list := x.list(d, s, lv)
			cnt := int(list[0])
			if cnt > len(list)-1 || (free && cnt != 0) {
				return bad("slot %d level %d: %d links, max %d", s, lv, cnt, len(list)-1)
			}
			for _, id := range list[1 : 1+cnt] {
				if int(id) >= n || id == s || x.levelOf(d, id) < lv || metaOf(id)&flagFree != 0 {
					return bad("slot %d level %d: bad link %d", s, lv, id)
				}
			}
		}
		switch m := metaOf(s); {
		case m&flagFree != 0:
			x.life.free = append(x.life.free, s)
			continue
		case m&flagDeleted != 0:
			x.ndeleted.Add(1)
			continue
		}
		id := d.chunks[s>>x.shift].labels[s&x.mask]
		if _, dup := x.ids[id]; dup {
			return bad("id %d held by two slots", id)
		}
		x.ids[id] = s
	}
	if entry == emptyEntry {
		// Only unlinked slots (of a cancelled batch, or reclaimed) may
		// exist without an entry point.
		if len(x.ids) != 0 || maxL > 0 {
			return bad("no entry point but %d slots", n)
		}
		return nil
	}
	ep, l := unpackEntry(entry)
	if int(ep) >= n || l != maxL || x.levelOf(d, ep) != l || metaOf(ep)&flagFree != 0 {
		return bad("entry point %#x invalid (max level %d)", entry, maxL)
	}
	x.entry.Store(entry)
	return nil
}

// eachRow calls f on each of the first used rows of width elements that
// start stride elements apart in data, in one call when they are
// contiguous: the file keeps vectors and lists in separate sections,
// memory may interleave them (layout.go).
func eachRow[T any](data []T, used, stride, width int, f func([]T)) {
	if stride == width {
		f(data[:used*width])
		return
	}
	for o := range used {
		f(data[o*stride:][:width])
	}
}
