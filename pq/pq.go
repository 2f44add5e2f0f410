// Package pq holds nearkit's product quantization (PQ) with asymmetric and
// symmetric distances and the 4-bit fast-scan layout scanned with
// in-register table lookups. Its optimised variant OPQ, which learns a
// rotation with dense linear algebra (gonum), lives in package pq/opq so
// that importing pq — as the graph index does for its compressed mode —
// links no LAPACK. The scalar codecs (SQ8, float16) live in package scalar.
//
// A ProductQuantizer splits a dim-dimensional vector into M subvectors of
// dim/M coordinates and replaces each by the index of its nearest centroid
// in a per-subspace codebook of 2^nbits centroids learnt with k-means: a
// 128-d float32 vector (512 bytes) becomes M bytes with M=16, nbits=8.
// Distances between a query and codes are computed asymmetrically (ADC,
// Jégou et al. 2011): the query is kept exact, a lookup table of the
// distances of each query subvector to every centroid of its subspace is
// built once per query, and a code's distance is the sum of M table
// entries.
//
// Which to use, per vector of dimension d:
//   - scalar.SQ8 (d bytes) and float16 (2d bytes) keep every coordinate and
//     lose little; they are what graph indexes store when memory matters.
//   - PQ with 8-bit codes (M bytes) compresses 16–64× and ranks well with
//     ADC; OPQ (pq/opq) learns a rotation first and loses markedly less on
//     data whose coordinates are correlated, at the same code size.
//   - 4-bit PQ with FastScan (M/2 bytes) scans several times faster than
//     8-bit ADC because its tables live in registers; results are re-ranked
//     with exact ADC distances.
//
// Errors wrap nearkit's sentinels: nearkit.ErrInvalidConfig for a dimension
// not divisible by M or NBits outside 4..8, nearkit.ErrEmpty for training
// with fewer vectors than centroids per subspace (2^NBits),
// nearkit.ErrInvalidVector for NaN or ±Inf input, nearkit.ErrDimension for
// wrong lengths and nearkit.ErrNotTrained before training. Every trained
// quantizer serialises with WriteTo and reads back with the matching Read
// function; the formats are versioned and checksummed, and corrupt input
// yields nearkit.ErrCorrupt or nearkit.ErrIncompatible.
package pq

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/binfmt"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/kmeans"
	"github.com/nearkit/nearkit/internal/parallel"
)

// Config parameterises a ProductQuantizer. Zero values select the
// defaults.
type Config struct {
	// Dim is the vector dimension (required); it must be a multiple of M.
	Dim int
	// M is the number of subquantizers (required, 1 ≤ M ≤ Dim).
	M int
	// NBits is the number of bits per subquantizer code, 4 to 8
	// (default 8): 2^NBits centroids per subspace.
	NBits int
	// Metric is the distance the lookup tables compute (default L2).
	// InnerProduct tables hold −q·c so that smaller is closer; Cosine
	// tables hold 1 − q·c and expect unit-length queries and data.
	Metric distance.Metric
	// Iterations is the number of k-means iterations per subspace
	// (default 25, as FAISS).
	Iterations int
	// MaxPointsPerCentroid caps the k-means training sample
	// (default 256 per centroid, as FAISS).
	MaxPointsPerCentroid int
	// Seed seeds training.
	Seed uint64
}

// ProductQuantizer encodes vectors as M subquantizer indices of NBits bits.
//
// Train must be called once before use; afterwards every method is safe for
// concurrent use (the quantizer is read-only).
type ProductQuantizer struct {
	cfg       Config
	dsub      int
	ksub      int
	centroids []float32 // M × ksub × dsub
	books     []*kmeans.Codebook
	trained   bool

	sdcOnce sync.Once
	sdc     []float32 // M × ksub × ksub, built on first use
}

// New validates cfg and returns an untrained quantizer. Errors wrap
// nearkit.ErrInvalidConfig: Dim or M not positive, Dim not a multiple of M,
// NBits outside 4..8, unknown metric.
func New(cfg Config) (*ProductQuantizer, error) {
	if cfg.NBits == 0 {
		cfg.NBits = 8
	}
	if cfg.Iterations == 0 {
		cfg.Iterations = kmeans.DefaultIterations
	}
	if cfg.MaxPointsPerCentroid == 0 {
		cfg.MaxPointsPerCentroid = kmeans.DefaultMaxPointsPerCentroid
	}
	if err := validate(cfg); err != nil {
		return nil, err
	}
	return &ProductQuantizer{cfg: cfg, dsub: cfg.Dim / cfg.M, ksub: 1 << cfg.NBits}, nil
}

func validate(cfg Config) error {
	switch {
	case cfg.Dim <= 0 || cfg.Dim > maxDim:
		return fmt.Errorf("%w: pq: Dim=%d", nearkit.ErrInvalidConfig, cfg.Dim)
	case cfg.M <= 0 || cfg.M > cfg.Dim:
		return fmt.Errorf("%w: pq: M=%d with Dim=%d", nearkit.ErrInvalidConfig, cfg.M, cfg.Dim)
	case cfg.Dim%cfg.M != 0:
		return fmt.Errorf("%w: pq: Dim=%d is not a multiple of M=%d", nearkit.ErrInvalidConfig, cfg.Dim, cfg.M)
	case cfg.NBits < 4 || cfg.NBits > 8:
		return fmt.Errorf("%w: pq: NBits=%d, want 4..8", nearkit.ErrInvalidConfig, cfg.NBits)
	case !cfg.Metric.Valid():
		return fmt.Errorf("%w: pq: unknown metric %v", nearkit.ErrInvalidConfig, cfg.Metric)
	case cfg.Iterations < 0:
		return fmt.Errorf("%w: pq: Iterations=%d", nearkit.ErrInvalidConfig, cfg.Iterations)
	}
	return nil
}

// maxDim bounds dimensions read from files and configurations.
const maxDim = 1 << 16

// Config returns the configuration with its defaults filled in.
func (p *ProductQuantizer) Config() Config { return p.cfg }

// Dim returns the vector dimension.
func (p *ProductQuantizer) Dim() int { return p.cfg.Dim }

// M returns the number of subquantizers.
func (p *ProductQuantizer) M() int { return p.cfg.M }

// NBits returns the bits per subquantizer index.
func (p *ProductQuantizer) NBits() int { return p.cfg.NBits }

// Metric returns the metric of the lookup tables.
func (p *ProductQuantizer) Metric() distance.Metric { return p.cfg.Metric }

// CodeSize returns the bytes per code: ⌈M·NBits/8⌉. Indices are packed
// least-significant bit first, as FAISS packs them.
func (p *ProductQuantizer) CodeSize() int { return (p.cfg.M*p.cfg.NBits + 7) / 8 }

// TableSize returns the number of float32 entries of a lookup table:
// M·2^NBits.
func (p *ProductQuantizer) TableSize() int { return p.cfg.M * p.ksub }

// Trained reports whether Train (or Read) has set the codebooks.
func (p *ProductQuantizer) Trained() bool { return p.trained }

// Centroids returns a copy of the codebooks: M blocks of 2^NBits centroids
// of Dim/M coordinates.
func (p *ProductQuantizer) Centroids() []float32 { return append([]float32(nil), p.centroids...) }

// Train learns the M codebooks from the len(data)/Dim row-major vectors of
// data, one k-means per subspace. Errors: nearkit.ErrDimension,
// nearkit.ErrInvalidVector (NaN/Inf), nearkit.ErrEmpty when there are fewer
// vectors than 2^NBits centroids, ctx.Err().
func (p *ProductQuantizer) Train(ctx context.Context, data []float32) error {
	if err := check.Vectors(data, p.cfg.Dim); err != nil {
		return fmt.Errorf("pq: %w", err)
	}
	return p.train(ctx, data, nil, p.cfg.Iterations)
}

// Retrain returns a new quantizer with p's configuration whose codebooks
// are learnt from data by iterations rounds of k-means per subspace
// (Config.Iterations when iterations is 0), starting from p's codebooks
// when p is trained (FAISS's hot start) and from fresh seeds as Train does
// otherwise. Alternating algorithms such as OPQ (package pq/opq) use it to
// refine the codebooks a few iterations at a time after each change of the
// data. p is not modified, so Retrain is safe for concurrent use with p's
// other methods. Errors as Train, and nearkit.ErrInvalidConfig for
// negative iterations.
func (p *ProductQuantizer) Retrain(ctx context.Context, data []float32, iterations int) (*ProductQuantizer, error) {
	if iterations < 0 {
		return nil, fmt.Errorf("%w: pq: Retrain with %d iterations", nearkit.ErrInvalidConfig, iterations)
	}
	if iterations == 0 {
		iterations = p.cfg.Iterations
	}
	if err := check.Vectors(data, p.cfg.Dim); err != nil {
		return nil, fmt.Errorf("pq: %w", err)
	}
	var init []float32
	if p.trained {
		init = p.centroids
	}
	q := &ProductQuantizer{cfg: p.cfg, dsub: p.dsub, ksub: p.ksub}
	if err := q.train(ctx, data, init, iterations); err != nil {
		return nil, err
	}
	return q, nil
}

// FromCentroids returns a trained quantizer with the given configuration
// (defaults as New) and codebooks, laid out as Centroids returns them: M
// blocks of 2^NBits centroids of Dim/M coordinates. It takes codebooks
// trained elsewhere, for instance by FAISS, whose ProductQuantizer stores
// them in the same order. centroids is copied. Errors wrap
// nearkit.ErrInvalidConfig (as New), nearkit.ErrDimension for a length
// other than 2^NBits·Dim and nearkit.ErrInvalidVector for NaN or ±Inf.
func FromCentroids(cfg Config, centroids []float32) (*ProductQuantizer, error) {
	p, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := check.Batch(centroids, p.cfg.Dim, p.ksub); err != nil {
		return nil, fmt.Errorf("pq: codebooks: %w", err)
	}
	p.setCentroids(append([]float32(nil), centroids...))
	return p, nil
}

// train runs iterations rounds of the per-subspace k-means, starting from
// init (the current codebooks) when it is non-nil.
func (p *ProductQuantizer) train(ctx context.Context, data []float32, init []float32, iterations int) error {
	dim, m, dsub, ksub := p.cfg.Dim, p.cfg.M, p.dsub, p.ksub
	n := len(data) / dim
	if n < ksub {
		return fmt.Errorf("%w: pq: %d training vectors for %d centroids per subspace", nearkit.ErrEmpty, n, ksub)
	}
	cent := make([]float32, m*ksub*dsub)
	sub := make([]float32, n*dsub)
	for s := range m {
		for i := range n {
			copy(sub[i*dsub:(i+1)*dsub], data[i*dim+s*dsub:i*dim+(s+1)*dsub])
		}
		kc := kmeans.Config{
			K:                    ksub,
			Iterations:           iterations,
			MaxPointsPerCentroid: p.cfg.MaxPointsPerCentroid,
			Seed:                 p.cfg.Seed + uint64(s)*0x9e3779b97f4a7c15,
		}
		if init != nil {
			kc.Centroids = init[s*ksub*dsub : (s+1)*ksub*dsub]
		}
		res, err := kmeans.Train(ctx, sub, dsub, kc)
		if err != nil {
			return fmt.Errorf("pq: subspace %d: %w", s, err)
		}
		copy(cent[s*ksub*dsub:], res.Centroids)
	}
	p.setCentroids(cent)
	return nil
}

// setCentroids installs trained codebooks and prepares them for encoding.
func (p *ProductQuantizer) setCentroids(cent []float32) {
	dsub, ksub := p.dsub, p.ksub
	p.centroids = cent
	p.books = make([]*kmeans.Codebook, p.cfg.M)
	for s := range p.books {
		p.books[s] = kmeans.NewCodebook(cent[s*ksub*dsub:(s+1)*ksub*dsub], dsub)
	}
	p.trained = true
	p.sdcOnce = sync.Once{}
	p.sdc = nil
}

func (p *ProductQuantizer) checkTrained() error {
	if !p.trained {
		return fmt.Errorf("%w: pq: quantizer not trained", nearkit.ErrNotTrained)
	}
	return nil
}

// Encode writes the code of v (CodeSize bytes) to dst[:CodeSize].
// Errors: nearkit.ErrNotTrained, nearkit.ErrDimension,
// nearkit.ErrInvalidVector, and nearkit.ErrInvalidConfig when dst is too
// short.
func (p *ProductQuantizer) Encode(dst []byte, v []float32) error {
	if err := p.checkTrained(); err != nil {
		return err
	}
	if err := check.Vector(v, p.cfg.Dim); err != nil {
		return fmt.Errorf("pq: %w", err)
	}
	if len(dst) < p.CodeSize() {
		return fmt.Errorf("%w: pq: code buffer of %d bytes, need %d", nearkit.ErrDimension, len(dst), p.CodeSize())
	}
	p.encode(dst[:p.CodeSize()], v)
	return nil
}

// encode assumes checked input.
func (p *ProductQuantizer) encode(dst []byte, v []float32) {
	var buf [256]uint32
	idx := buf[:]
	if p.cfg.M > len(buf) {
		idx = make([]uint32, p.cfg.M)
	}
	dsub := p.dsub
	for s, b := range p.books {
		b.Assign(v[s*dsub:(s+1)*dsub], idx[s:s+1], nil)
	}
	p.pack(dst, idx[:p.cfg.M])
}

// pack writes subquantizer indices as a code.
func (p *ProductQuantizer) pack(dst []byte, idx []uint32) {
	if p.cfg.NBits == 8 {
		for s, c := range idx {
			dst[s] = uint8(c)
		}
		return
	}
	var w bitWriter
	w.reset(dst)
	for _, c := range idx {
		w.put(c, p.cfg.NBits)
	}
	w.flush()
}

// encodeChunk is the number of vectors a goroutine of EncodeBatch or
// ReconstructionError takes at a time.
const encodeChunk = 1024

// EncodeBatch encodes the len(data)/Dim vectors of data into dst
// (CodeSize bytes each, contiguous) on GOMAXPROCS goroutines. A dst of
// another length is an error wrapping nearkit.ErrDimension, as a short
// code is for Encode.
func (p *ProductQuantizer) EncodeBatch(ctx context.Context, dst []byte, data []float32) error {
	if err := p.checkTrained(); err != nil {
		return err
	}
	if err := check.Vectors(data, p.cfg.Dim); err != nil {
		return fmt.Errorf("pq: %w", err)
	}
	n := len(data) / p.cfg.Dim
	cs := p.CodeSize()
	if len(dst) != n*cs {
		return fmt.Errorf("%w: pq: code buffer of %d bytes for %d codes of %d bytes", nearkit.ErrDimension, len(dst), n, cs)
	}
	return parallel.Chunks(ctx, n, encodeChunk, func(lo, hi int) {
		// Subspace by subspace over the chunk: each codebook's
		// nearest-centroid search runs on a contiguous block of
		// subvectors, the shape the kmeans kernels are fast on.
		dim, dsub, m := p.cfg.Dim, p.dsub, p.cfg.M
		cnt := hi - lo
		sub := make([]float32, cnt*dsub)
		idx := make([]uint32, cnt*m)
		col := make([]uint32, cnt)
		for s, b := range p.books {
			for i := range cnt {
				copy(sub[i*dsub:(i+1)*dsub], data[(lo+i)*dim+s*dsub:(lo+i)*dim+(s+1)*dsub])
			}
			b.Assign(sub, col, nil)
			for i, c := range col {
				idx[i*m+s] = c
			}
		}
		for i := range cnt {
			p.pack(dst[(lo+i)*cs:(lo+i+1)*cs], idx[i*m:(i+1)*m])
		}
	})
}

// Decode writes the reconstruction of code (the concatenation of its
// centroids) to dst[:Dim].
func (p *ProductQuantizer) Decode(dst []float32, code []byte) error {
	if err := p.checkTrained(); err != nil {
		return err
	}
	if len(code) < p.CodeSize() || len(dst) < p.cfg.Dim {
		return fmt.Errorf("%w: pq: Decode: code of %d bytes (need %d), dst of %d (need %d)", nearkit.ErrDimension, len(code), p.CodeSize(), len(dst), p.cfg.Dim)
	}
	p.decode(dst, code)
	return nil
}

func (p *ProductQuantizer) decode(dst []float32, code []byte) {
	dsub, ksub := p.dsub, p.ksub
	var r bitReader
	r.reset(code)
	for s := range p.cfg.M {
		var c int
		if p.cfg.NBits == 8 {
			c = int(code[s])
		} else {
			c = int(r.get(p.cfg.NBits))
		}
		off := (s*ksub + c) * dsub
		copy(dst[s*dsub:(s+1)*dsub], p.centroids[off:off+dsub])
	}
}

// LookupTable computes the ADC table of query q: entry s·2^NBits+j is the
// distance between subvector s of q and centroid j of subspace s (squared
// L2, −dot, or 1−dot on entry block 0 for Cosine). It appends to dst[:0]
// and returns it, reusing its capacity.
func (p *ProductQuantizer) LookupTable(dst []float32, q []float32) ([]float32, error) {
	if err := p.checkTrained(); err != nil {
		return dst, err
	}
	if err := check.Vector(q, p.cfg.Dim); err != nil {
		return dst, fmt.Errorf("pq: %w", err)
	}
	n := p.TableSize()
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	p.lookupTable(dst, q)
	return dst, nil
}

func (p *ProductQuantizer) lookupTable(dst []float32, q []float32) {
	dsub, ksub := p.dsub, p.ksub
	for s := range p.cfg.M {
		qs := q[s*dsub : (s+1)*dsub]
		cs := p.centroids[s*ksub*dsub : (s+1)*ksub*dsub]
		out := dst[s*ksub : (s+1)*ksub]
		if p.cfg.Metric == distance.L2 {
			distance.SquaredL2Batch(qs, cs, dsub, out)
			continue
		}
		distance.DotBatch(qs, cs, dsub, out)
		for j := range out {
			out[j] = -out[j]
		}
		if p.cfg.Metric == distance.Cosine && s == 0 {
			for j := range out {
				out[j]++
			}
		}
	}
}

// Distance returns the asymmetric distance of code given a table from
// LookupTable. It is the unchecked hot-path kernel of the ADC scan, as
// the distance kernels are: it panics if table or code is too short (a
// programming error), and callers check lengths once per scan.
func (p *ProductQuantizer) Distance(table []float32, code []byte) float32 {
	// The capacity bounds make a short code or table panic, as documented,
	// rather than read past its length.
	table = table[:p.TableSize():len(table)]
	if p.cfg.NBits == 8 {
		return distance.PQLookupSum(table, code[:p.cfg.M:len(code)])
	}
	return p.lookupSumPacked(table, code[:p.CodeSize():len(code)])
}

func (p *ProductQuantizer) lookupSumPacked(table []float32, code []byte) float32 {
	if p.cfg.NBits == 4 {
		// Two nibbles per byte, subquantizer 2i in the low one.
		m := p.cfg.M
		t := table[:m*16]
		var s0, s1 float32
		for i := 0; i < m/2; i++ {
			c := code[i]
			s0 += t[32*i+int(c&15)]
			s1 += t[32*i+16+int(c>>4)]
		}
		if m%2 == 1 {
			s0 += t[(m-1)*16+int(code[m/2]&15)]
		}
		return s0 + s1
	}
	var r bitReader
	r.reset(code)
	ksub, nb := p.ksub, p.cfg.NBits
	t := table[:p.cfg.M*ksub]
	var s float32
	for off := 0; off < len(t); off += ksub {
		s += t[off+int(r.get(nb))]
	}
	return s
}

// Distances sets out[i] to the asymmetric distance of the i-th code of
// codes (CodeSize bytes each, contiguous). It panics on inconsistent
// lengths.
func (p *ProductQuantizer) Distances(table []float32, codes []byte, out []float32) {
	cs := p.CodeSize()
	if len(codes) != len(out)*cs {
		panic(fmt.Sprintf("pq: Distances: %d code bytes for %d outputs of %d bytes", len(codes), len(out), cs))
	}
	if p.cfg.NBits == 8 {
		distance.PQLookupSumBatch(table, codes, p.cfg.M, out)
		return
	}
	for i := range out {
		out[i] = p.lookupSumPacked(table, codes[i*cs:(i+1)*cs])
	}
}

// SymmetricDistance returns the distance between the reconstructions of
// two codes (SDC), from centroid-to-centroid tables built on first use
// (M·4^NBits float32: 4 MiB for M=16, NBits=8). It is coarser than the
// asymmetric distance and serves when the query itself is a code. Errors
// wrap nearkit.ErrNotTrained, or nearkit.ErrDimension when a code is
// shorter than CodeSize.
func (p *ProductQuantizer) SymmetricDistance(a, b []byte) (float32, error) {
	if err := p.checkTrained(); err != nil {
		return 0, err
	}
	if len(a) < p.CodeSize() || len(b) < p.CodeSize() {
		return 0, fmt.Errorf("%w: pq: SymmetricDistance: codes of %d and %d bytes, need %d", nearkit.ErrDimension, len(a), len(b), p.CodeSize())
	}
	return p.SymmetricDistanceUnchecked(a, b), nil
}

// SymmetricDistanceUnchecked is SymmetricDistance without the checks, for
// loops over many codes: it requires a trained quantizer and codes of at
// least CodeSize bytes, and panics otherwise.
func (p *ProductQuantizer) SymmetricDistanceUnchecked(a, b []byte) float32 {
	p.sdcOnce.Do(p.buildSDC)
	ksub := p.ksub
	if p.cfg.NBits == 8 {
		a, b = a[:p.cfg.M:len(a)], b[:p.cfg.M:len(b)]
		var s float32
		for i, ca := range a {
			s += p.sdc[(i*ksub+int(ca))*ksub+int(b[i])]
		}
		return s
	}
	var ra, rb bitReader
	ra.reset(a[:p.CodeSize():len(a)])
	rb.reset(b[:p.CodeSize():len(b)])
	var s float32
	for i := range p.cfg.M {
		ca, cb := int(ra.get(p.cfg.NBits)), int(rb.get(p.cfg.NBits))
		s += p.sdc[(i*ksub+ca)*ksub+cb]
	}
	return s
}

func (p *ProductQuantizer) buildSDC() {
	dsub, ksub := p.dsub, p.ksub
	p.sdc = make([]float32, p.cfg.M*ksub*ksub)
	for s := range p.cfg.M {
		cs := p.centroids[s*ksub*dsub : (s+1)*ksub*dsub]
		for i := range ksub {
			out := p.sdc[(s*ksub+i)*ksub : (s*ksub+i+1)*ksub]
			ci := cs[i*dsub : (i+1)*dsub]
			if p.cfg.Metric == distance.L2 {
				distance.SquaredL2Batch(ci, cs, dsub, out)
				continue
			}
			distance.DotBatch(ci, cs, dsub, out)
			for j := range out {
				out[j] = -out[j]
				if p.cfg.Metric == distance.Cosine && s == 0 {
					out[j]++
				}
			}
		}
	}
}

// ReconstructionError returns the mean over the vectors of data of the
// squared L2 distance between each vector and its decoded code — the
// figure FAISS reports as reconstruction MSE.
func (p *ProductQuantizer) ReconstructionError(data []float32) (float64, error) {
	if err := p.checkTrained(); err != nil {
		return 0, err
	}
	if err := check.Vectors(data, p.cfg.Dim); err != nil {
		return 0, fmt.Errorf("pq: %w", err)
	}
	dim := p.cfg.Dim
	n := len(data) / dim
	if n == 0 {
		return 0, nil
	}
	// Per-chunk partial sums added in chunk order keep the result
	// deterministic whatever the scheduling.
	parts := make([]float64, (n+encodeChunk-1)/encodeChunk)
	_ = parallel.Chunks(context.Background(), n, encodeChunk, func(lo, hi int) {
		dst := make([]float32, dim)
		code := make([]byte, p.CodeSize())
		sum := 0.0
		for i := lo; i < hi; i++ {
			v := data[i*dim : (i+1)*dim]
			p.encode(code, v)
			p.decode(dst, code)
			for j, x := range v {
				d := float64(x) - float64(dst[j])
				sum += d * d
			}
		}
		parts[lo/encodeChunk] = sum
	})
	total := 0.0
	for _, s := range parts {
		total += s
	}
	return total / float64(n), nil
}

const (
	pqMagic   = "NKPQ"
	pqVersion = 1
)

// WriteTo serialises the quantizer (configuration and codebooks).
//
// Layout (little-endian, internal/binfmt framing: magic "NKPQ", version 1,
// CRC-32C trailer): u32 dim, u32 M, u8 nbits, u8 metric, u32 iterations,
// u32 max points per centroid (0 = all), u64 seed, u8 trained, then if
// trained M·2^nbits·dim/M float32 centroids.
func (p *ProductQuantizer) WriteTo(w io.Writer) (int64, error) {
	bw := binfmt.NewWriter(w, pqMagic, pqVersion)
	p.write(bw)
	return bw.Finish()
}

func (p *ProductQuantizer) write(bw *binfmt.Writer) {
	bw.U32(uint32(p.cfg.Dim))
	bw.U32(uint32(p.cfg.M))
	bw.U8(uint8(p.cfg.NBits))
	bw.U8(uint8(p.cfg.Metric))
	bw.U32(uint32(p.cfg.Iterations))
	bw.U32(uint32(max(p.cfg.MaxPointsPerCentroid, 0)))
	bw.U64(p.cfg.Seed)
	if p.trained {
		bw.U8(1)
		bw.Float32s(p.centroids)
	} else {
		bw.U8(0)
	}
}

// Read reads a quantizer written by ProductQuantizer.WriteTo. Errors wrap
// nearkit.ErrCorrupt or nearkit.ErrIncompatible.
func Read(r io.Reader) (*ProductQuantizer, error) {
	br, err := binfmt.NewReader(r, pqMagic, pqVersion)
	if err != nil {
		return nil, err
	}
	p := readPQ(br)
	if err := br.Finish(); err != nil {
		return nil, err
	}
	return p, nil
}

func readPQ(br *binfmt.Reader) *ProductQuantizer {
	var cfg Config
	cfg.Dim = int(br.U32())
	cfg.M = int(br.U32())
	cfg.NBits = int(br.U8())
	cfg.Metric = distance.Metric(br.U8())
	cfg.Iterations = int(br.U32() & 0x7fffffff)
	cfg.MaxPointsPerCentroid = int(br.U32() & 0x7fffffff)
	if cfg.MaxPointsPerCentroid == 0 {
		cfg.MaxPointsPerCentroid = -1
	}
	cfg.Seed = br.U64()
	trained := br.U8()
	if br.Err() != nil {
		return nil
	}
	if err := validate(cfg); err != nil || trained > 1 {
		br.Fail("invalid product quantizer header (dim %d, M %d, nbits %d, metric %d, trained %d)", cfg.Dim, cfg.M, cfg.NBits, cfg.Metric, trained)
		return nil
	}
	p := &ProductQuantizer{cfg: cfg, dsub: cfg.Dim / cfg.M, ksub: 1 << cfg.NBits}
	if trained == 1 {
		cent := br.Float32s(p.ksub * cfg.Dim)
		if br.Err() != nil {
			return nil
		}
		if err := check.Vectors(cent, cfg.Dim); err != nil {
			br.Fail("codebook: %v", err)
			return nil
		}
		p.setCentroids(cent)
	}
	return p
}
