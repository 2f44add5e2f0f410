package opq

import (
	"bytes"
	"io"
	"math"

	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/binfmt"
	"github.com/nearkit/nearkit/pq"
)

const (
	magic = "NKOPQ"
	// version 2 embeds the product quantizer as its own pq record;
	// version 1, written while OPQ lived in package pq, inlined the
	// quantizer's fields. Both are read.
	version = 2

	// maxDim bounds a version-1 rotation's dimension, as pq bounds its
	// own.
	maxDim = 1 << 16
	// maxPQRecord bounds the embedded record's length: a header, and at
	// most 2^8 centroids per subspace of maxDim coordinates in all.
	maxPQRecord = 1<<10 + 4<<8*maxDim
)

// WriteTo serialises the quantizer, trained or not.
//
// Layout (internal/binfmt framing, magic "NKOPQ", version 2, little-endian):
// u32 iterations, u32 PQ iterations, u32 first PQ iterations, u32 max train
// points, u8 random init, u64 length and the product quantizer's record as
// pq.ProductQuantizer.WriteTo writes it, then, when that quantizer is
// trained, the dim×dim float32 rotation transposed (row j is column j of
// R).
func (o *Quantizer) WriteTo(w io.Writer) (int64, error) {
	var rec bytes.Buffer
	if _, err := o.pq.WriteTo(&rec); err != nil {
		return 0, err
	}
	bw := binfmt.NewWriter(w, magic, version)
	bw.U32(uint32(o.cfg.Iterations))
	bw.U32(uint32(o.cfg.PQIterations))
	bw.U32(uint32(o.cfg.FirstPQIterations))
	bw.U32(uint32(o.cfg.MaxTrainPoints))
	if o.cfg.RandomInit {
		bw.U8(1)
	} else {
		bw.U8(0)
	}
	bw.U64(uint64(rec.Len()))
	bw.Bytes(rec.Bytes())
	if o.pq.Trained() {
		bw.Float32s(o.rt)
	}
	return bw.Finish()
}

// Read reads a quantizer written by Quantizer.WriteTo, or by pq.OPQ.WriteTo
// before OPQ moved to this package (format version 1). Errors wrap
// nearkit.ErrCorrupt or nearkit.ErrIncompatible.
func Read(r io.Reader) (*Quantizer, error) {
	br, err := binfmt.NewReader(r, magic, version)
	if err != nil {
		return nil, err
	}
	var cfg Config
	cfg.Iterations = int(br.U32() & 0x7fffffff)
	cfg.PQIterations = int(br.U32() & 0x7fffffff)
	cfg.FirstPQIterations = int(br.U32() & 0x7fffffff)
	cfg.MaxTrainPoints = int(br.U32() & 0x7fffffff)
	ri := br.U8()
	cfg.RandomInit = ri == 1
	if br.Err() == nil && ri > 1 {
		br.Fail("invalid OPQ random-init flag %d", ri)
	}
	var (
		rt []float32
		p  *pq.ProductQuantizer
	)
	if br.Version == 1 {
		rt, p = readV1(br)
	} else {
		p = readPQRecord(br)
		if br.Err() == nil && p.Trained() {
			rt = br.Float32s(p.Dim() * p.Dim())
		}
	}
	if br.Err() == nil && rt != nil {
		checkRotation(br, rt, p.Dim())
	}
	if err := br.Finish(); err != nil {
		return nil, err
	}
	cfg.PQ = p.Config()
	return &Quantizer{cfg: cfg, rt: rt, pq: p}, nil
}

// readPQRecord reads the length-prefixed product quantizer record of
// version 2.
func readPQRecord(br *binfmt.Reader) *pq.ProductQuantizer {
	rec := br.Bytes(br.Count("product quantizer record length", maxPQRecord))
	if br.Err() != nil {
		return nil
	}
	rr := bytes.NewReader(rec)
	p, err := pq.Read(rr)
	if err != nil {
		br.Fail("product quantizer: %v", err)
		return nil
	}
	if rr.Len() != 0 {
		br.Fail("%d bytes after the product quantizer record", rr.Len())
		return nil
	}
	return p
}

// readV1 reads the rest of a version-1 body: u8 trained, then if trained
// u32 dim and the transposed rotation, then the product quantizer's fields
// inline, as pq wrote them inside its own record: u32 dim, u32 M, u8 nbits,
// u8 metric, u32 iterations, u32 max points per centroid (0 = all), u64
// seed, u8 trained, then if trained 2^nbits·dim float32 centroids.
func readV1(br *binfmt.Reader) ([]float32, *pq.ProductQuantizer) {
	trained := br.U8()
	if br.Err() == nil && trained > 1 {
		br.Fail("invalid OPQ trained flag %d", trained)
	}
	var rt []float32
	if br.Err() == nil && trained == 1 {
		d := int(br.U32())
		if br.Err() == nil && (d <= 0 || d > maxDim) {
			br.Fail("OPQ dimension %d", d)
		}
		if br.Err() == nil {
			rt = br.Float32s(d * d)
		}
	}
	var c pq.Config
	c.Dim = int(br.U32())
	c.M = int(br.U32())
	c.NBits = int(br.U8())
	c.Metric = distance.Metric(br.U8())
	c.Iterations = int(br.U32() & 0x7fffffff)
	c.MaxPointsPerCentroid = int(br.U32() & 0x7fffffff)
	if c.MaxPointsPerCentroid == 0 {
		c.MaxPointsPerCentroid = -1
	}
	c.Seed = br.U64()
	pqTrained := br.U8()
	if br.Err() != nil {
		return nil, nil
	}
	p, err := pq.New(c)
	if err != nil || c.NBits == 0 || pqTrained > 1 { // New would default a zero NBits
		br.Fail("invalid product quantizer header (dim %d, M %d, nbits %d, metric %d, trained %d)", c.Dim, c.M, c.NBits, c.Metric, pqTrained)
		return nil, nil
	}
	if (trained == 1) != (pqTrained == 1) {
		br.Fail("rotation and codebooks disagree on training state")
		return nil, nil
	}
	if trained == 0 {
		return nil, p
	}
	if len(rt) != c.Dim*c.Dim {
		br.Fail("rotation of %d entries for dimension %d", len(rt), c.Dim)
		return nil, nil
	}
	cent := br.Float32s((1 << c.NBits) * c.Dim)
	if br.Err() != nil {
		return nil, nil
	}
	if p, err = pq.FromCentroids(c, cent); err != nil {
		br.Fail("codebook: %v", err)
		return nil, nil
	}
	return rt, p
}

// checkRotation fails br unless every row of the d×d rotation has unit
// norm: a cheap O(d²) sanity check of a stored orthogonal matrix (a full
// orthogonality check would be O(d³)). It also refuses NaN and ±Inf.
func checkRotation(br *binfmt.Reader, rt []float32, d int) {
	for j := range d {
		nn := 0.0
		for _, v := range rt[j*d : (j+1)*d] {
			nn += float64(v) * float64(v)
		}
		if !(math.Abs(nn-1) < 1e-3) {
			br.Fail("rotation row %d has squared norm %v", j, nn)
			return
		}
	}
}
