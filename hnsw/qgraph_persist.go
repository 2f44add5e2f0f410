package hnsw

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/binfmt"
	"github.com/nearkit/nearkit/pq"
)

// A QGraph index's part of the file (persist.go): its codec bytes are a
// u32 subspace count followed, once trained, by the quantizer
// (pq.ProductQuantizer.WriteTo); after the vectors come two sections,
//
//	nslots × ⌈m/2⌉ u8 own codes
//	nslots × ⌈2M/32⌉·32·FastScanPairs(m) u8 neighbour-code blocks
//
// each padded to 64 bytes like the others, so Open maps them in place.
// Blocks are not checked against the lists they mirror: any bytes give
// valid (if poor) estimates, never an out-of-range access, and the
// checksum catches corruption.

// qgCodec returns a QGraph index's codec bytes.
func (x *Index) qgCodec() ([]byte, error) {
	var b bytes.Buffer
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(x.qg.m)))
	if p := x.qg.pq.Load(); p != nil {
		if _, err := p.WriteTo(&b); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// readQGCodec parses a QGraph codec into cfg's subspace count and the
// quantizer (nil when the index was saved untrained).
func readQGCodec(cfg *Config, codec []byte) (*pq.ProductQuantizer, error) {
	if len(codec) < 4 {
		return nil, fmt.Errorf("%w: hnsw: QGraph codec of %d bytes", nearkit.ErrCorrupt, len(codec))
	}
	cfg.QGraphSubspaces = int(binary.LittleEndian.Uint32(codec))
	if err := checkQGSubspaces(cfg.QGraphSubspaces, cfg.Dim); err != nil {
		return nil, fmt.Errorf("%w: hnsw: %v", nearkit.ErrCorrupt, err)
	}
	if len(codec) == 4 {
		return nil, nil
	}
	p, err := pq.Read(bytes.NewReader(codec[4:]))
	if err != nil {
		return nil, fmt.Errorf("hnsw: QGraph quantizer: %w", err)
	}
	if p.Dim() != cfg.Dim || p.M() != cfg.QGraphSubspaces || p.NBits() != 4 || p.Metric() != cfg.Metric || !p.Trained() {
		return nil, fmt.Errorf("%w: hnsw: QGraph quantizer (dim %d, M %d, %d bits, %v, trained %v) does not fit a dim %d %v index with %d subspaces",
			nearkit.ErrCorrupt, p.Dim(), p.M(), p.NBits(), p.Metric(), p.Trained(), cfg.Dim, cfg.Metric, cfg.QGraphSubspaces)
	}
	return p, nil
}

// qgWriteSections writes the own codes and blocks of the first n slots.
func (x *Index) qgWriteSections(bw *binfmt.Writer, d *directory, n int, pad func()) {
	g, per := x.qg, 1<<x.shift
	for ci := 0; ci*per < n; ci++ {
		bw.Bytes(d.chunks[ci].qcodes[:min(per, n-ci*per)*g.cs])
	}
	pad()
	for ci := 0; ci*per < n; ci++ {
		bw.Uint32s(d.chunks[ci].qblk[:min(per, n-ci*per)*g.bwords])
	}
	pad()
}

// qgSections holds the two sections read before the chunks exist
// (decode allocates chunks after the section that dominates their size).
type qgSections struct {
	codes  []byte
	blocks []uint32
}

// qgReadSections reads the sections qgWriteSections wrote: into chunks
// when decode has made them, else into growing slices it returns for
// qgFillChunk.
func (x *Index) qgReadSections(br *binfmt.Reader, chunks []*chunk, n int, pad func()) qgSections {
	g, per := x.qg, 1<<x.shift
	var q qgSections
	if chunks == nil {
		q.codes = br.Bytes(n * g.cs)
		pad()
		q.blocks = br.Uint32s(n * g.bwords)
		pad()
		return q
	}
	for ci, c := range chunks {
		copy(c.qcodes, br.Bytes(min(per, n-ci*per)*g.cs))
	}
	pad()
	for ci, c := range chunks {
		br.ReadUint32s(c.qblk[:min(per, n-ci*per)*g.bwords])
	}
	pad()
	return q
}

// qgFillChunk copies chunk ci's part of sections read ahead of it.
func (x *Index) qgFillChunk(c *chunk, q qgSections, ci int) {
	g, per := x.qg, 1<<x.shift
	if lo := ci * per * g.cs; lo < len(q.codes) {
		copy(c.qcodes, q.codes[lo:])
	}
	if lo := ci * per * g.bwords; lo < len(q.blocks) {
		copy(c.qblk, q.blocks[lo:])
	}
}

// qgSectionSizes returns the byte sizes of the two sections for n slots.
func (x *Index) qgSectionSizes(n uint64) (codes, blocks uint64) {
	return n * uint64(x.qg.cs), n * 4 * uint64(x.qg.bwords)
}

// qgMapChunk points chunk c, slots [lo, hi), at the mapped sections.
func (x *Index) qgMapChunk(c *chunk, codes []byte, blocks []byte, lo, hi int) {
	g := x.qg
	c.qcodes = codes[lo*g.cs : hi*g.cs : hi*g.cs]
	b := blocks[lo*4*g.bwords : hi*4*g.bwords]
	c.qblk = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), (hi-lo)*g.bwords)
}
