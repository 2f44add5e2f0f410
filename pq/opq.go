package pq

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/binfmt"
	"github.com/nearkit/nearkit/internal/check"
)

// OPQConfig parameterises an OPQ quantizer. Zero values select the
// defaults, which are FAISS's OPQMatrix defaults.
type OPQConfig struct {
	// PQ configures the product quantizer applied after the rotation.
	PQ Config
	// Iterations is the number of alternations between PQ training and
	// rotation update (default 50).
	Iterations int
	// PQIterations is the number of k-means iterations per subspace in
	// each alternation after the first (default 4); the first runs
	// FirstPQIterations (default 40). Later alternations warm-start from
	// the previous codebooks, so a few iterations suffice.
	PQIterations, FirstPQIterations int
	// MaxTrainPoints caps the training sample of the rotation
	// (default 65,536 = 256², as FAISS); the final PQ sees every point
	// (subject to its own MaxPointsPerCentroid).
	MaxTrainPoints int
	// RandomInit starts from a random rotation, as FAISS does, instead of
	// the identity. The identity is the default: each alternation cannot
	// increase the quantization error, so starting from it guarantees OPQ
	// does no worse than plain PQ on the training set, and image-like data
	// whose coordinates are already meaningful often starts better there.
	RandomInit bool
}

// OPQ is a product quantizer preceded by a learnt orthogonal rotation
// (Ge, He, Ke, Sun: "Optimized Product Quantization", CVPR 2013,
// non-parametric variant). The rotation spreads variance and decorrelates
// subspaces so the same code size loses less; it is applied to vectors at
// encode time and to queries when building lookup tables, and since it is
// orthogonal, distances and inner products are unchanged by it.
//
// Train must be called once before use; afterwards every method is safe for
// concurrent use.
type OPQ struct {
	cfg OPQConfig
	// rt is the rotation transposed, row-major dim×dim: y[j] = Σ_i
	// x[i]·R[i][j] = Dot(x, rt[j]), so rotating is one DotBatch.
	rt []float32
	pq *ProductQuantizer
}

// NewOPQ validates cfg; errors wrap nearkit.ErrInvalidConfig.
func NewOPQ(cfg OPQConfig) (*OPQ, error) {
	if cfg.Iterations == 0 {
		cfg.Iterations = 50
	}
	if cfg.PQIterations == 0 {
		cfg.PQIterations = 4
	}
	if cfg.FirstPQIterations == 0 {
		cfg.FirstPQIterations = 40
	}
	if cfg.MaxTrainPoints == 0 {
		cfg.MaxTrainPoints = 256 * 256
	}
	if cfg.Iterations < 0 || cfg.PQIterations < 0 || cfg.FirstPQIterations < 0 || cfg.MaxTrainPoints < 0 {
		return nil, fmt.Errorf("%w: opq: negative iteration count or sample size", nearkit.ErrInvalidConfig)
	}
	p, err := New(cfg.PQ)
	if err != nil {
		return nil, err
	}
	cfg.PQ = p.cfg
	return &OPQ{cfg: cfg, pq: p}, nil
}

// Dim returns the vector dimension.
func (o *OPQ) Dim() int { return o.pq.Dim() }

// CodeSize returns the bytes per code.
func (o *OPQ) CodeSize() int { return o.pq.CodeSize() }

// Trained reports whether the rotation and codebooks are set.
func (o *OPQ) Trained() bool { return o.pq.Trained() }

// PQ returns the product quantizer that encodes rotated vectors. Vectors
// given to it directly must be rotated first with Rotate.
func (o *OPQ) PQ() *ProductQuantizer { return o.pq }

// Rotation returns a copy of the rotation R (dim×dim, row-major): a vector
// x (as a row) is encoded as the PQ code of x·R. It is nil before Train.
func (o *OPQ) Rotation() []float32 {
	if o.rt == nil {
		return nil
	}
	d := o.Dim()
	r := make([]float32, d*d)
	for i := range d {
		for j := range d {
			r[i*d+j] = o.rt[j*d+i]
		}
	}
	return r
}

// Train learns the rotation and the codebooks from the len(data)/Dim
// vectors of data. Errors as ProductQuantizer.Train.
func (o *OPQ) Train(ctx context.Context, data []float32) error {
	d := o.Dim()
	if err := check.Vectors(data, d); err != nil {
		return fmt.Errorf("opq: %w", err)
	}
	n := len(data) / d
	if n < o.pq.ksub {
		return fmt.Errorf("%w: opq: %d training vectors for %d centroids per subspace", nearkit.ErrEmpty, n, o.pq.ksub)
	}
	rng := rand.New(rand.NewPCG(o.cfg.PQ.Seed, 0x6f7071)) // "opq"
	x := data
	if o.cfg.MaxTrainPoints > 0 && n > o.cfg.MaxTrainPoints {
		x = sampleRows(rng, data, d, o.cfg.MaxTrainPoints)
	}
	nx := len(x) / d
	rt := identity(d)
	if o.cfg.RandomInit {
		rt = randomRotation(rng, d)
	}
	pq, _ := New(o.cfg.PQ)
	y := make([]float32, len(x))
	rec := make([]float32, len(x))
	codes := make([]byte, nx*pq.CodeSize())
	var init []float32
	for it := range o.cfg.Iterations {
		if err := rotateRows(ctx, y, x, rt, d); err != nil {
			return err
		}
		pq.cfg.Iterations = o.cfg.PQIterations
		if it == 0 {
			pq.cfg.Iterations = o.cfg.FirstPQIterations
		}
		if err := pq.train(ctx, y, init); err != nil {
			return fmt.Errorf("opq: %w", err)
		}
		init = pq.centroids
		if err := pq.EncodeBatch(ctx, codes, y); err != nil {
			return err
		}
		cs := pq.CodeSize()
		for i := range nx {
			pq.decode(rec[i*d:(i+1)*d], codes[i*cs:(i+1)*cs])
		}
		rt = procrustes(x, rec, d)
	}
	// Final codebooks on all the data in the learnt rotation, warm-started
	// from the last alternation, with the full k-means iteration count.
	full := make([]float32, len(data))
	if err := rotateRows(ctx, full, data, rt, d); err != nil {
		return err
	}
	pq.cfg.Iterations = o.cfg.PQ.Iterations
	if err := pq.train(ctx, full, init); err != nil {
		return fmt.Errorf("opq: %w", err)
	}
	o.rt, o.pq = rt, pq
	return nil
}

func sampleRows(rng *rand.Rand, data []float32, d, m int) []float32 {
	n := len(data) / d
	perm := rng.Perm(n)[:m]
	out := make([]float32, m*d)
	for i, p := range perm {
		copy(out[i*d:(i+1)*d], data[p*d:(p+1)*d])
	}
	return out
}

func identity(d int) []float32 {
	r := make([]float32, d*d)
	for i := range d {
		r[i*d+i] = 1
	}
	return r
}

// randomRotation returns a uniformly random orthogonal matrix: the Q factor
// of a Gaussian matrix.
func randomRotation(rng *rand.Rand, d int) []float32 {
	g := mat.NewDense(d, d, nil)
	for i := range d {
		for j := range d {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	r := make([]float32, d*d)
	for i := range d {
		for j := range d {
			r[i*d+j] = float32(q.At(i, j))
		}
	}
	return r
}

// rotateRows sets each row of dst to the matching row of src times R, with
// R given transposed.
func rotateRows(ctx context.Context, dst, src, rt []float32, d int) error {
	n := len(src) / d
	return parallel(ctx, n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			distance.DotBatch(src[i*d:(i+1)*d], rt, d, dst[i*d:(i+1)*d])
		}
	})
}

// procrustes returns, transposed, the orthogonal R minimising ‖X·R − Y‖_F:
// R = U·Vᵀ for the SVD Xᵀ·Y = U·S·Vᵀ (Schönemann 1966). XᵀY is accumulated
// in float64 over blocks of rows to bound memory.
func procrustes(x, y []float32, d int) []float32 {
	n := len(x) / d
	const block = 2048
	acc := mat.NewDense(d, d, nil)
	var part mat.Dense
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		xb := toDense(x[lo*d:hi*d], hi-lo, d)
		yb := toDense(y[lo*d:hi*d], hi-lo, d)
		part.Mul(xb.T(), yb)
		acc.Add(acc, &part)
	}
	var svd mat.SVD
	if !svd.Factorize(acc, mat.SVDThin) {
		// SVD of a finite d×d matrix converges in practice; keep the
		// identity rather than a garbage rotation if it ever does not.
		return identity(d)
	}
	var u, v, r mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	r.Mul(&u, v.T())
	rt := make([]float32, d*d)
	for i := range d {
		for j := range d {
			rt[j*d+i] = float32(r.At(i, j))
		}
	}
	return rt
}

func toDense(v []float32, rows, cols int) *mat.Dense {
	f := make([]float64, len(v))
	for i, x := range v {
		f[i] = float64(x)
	}
	return mat.NewDense(rows, cols, f)
}

// Rotate writes v·R to dst[:Dim]. It is an unchecked hot-path helper
// (ivf rotates every query and vector with it): it requires a trained
// OPQ, len(v) == Dim and len(dst) ≥ Dim, and panics otherwise.
func (o *OPQ) Rotate(dst, v []float32) {
	distance.DotBatch(v, o.rt, o.Dim(), dst[:o.Dim()])
}

func (o *OPQ) checkTrained() error {
	if !o.pq.trained || o.rt == nil {
		return fmt.Errorf("%w: opq: quantizer not trained", nearkit.ErrNotTrained)
	}
	return nil
}

// Encode writes the code of v to dst[:CodeSize]; errors as
// ProductQuantizer.Encode.
func (o *OPQ) Encode(dst []byte, v []float32) error {
	if err := o.checkTrained(); err != nil {
		return err
	}
	if err := check.Vector(v, o.Dim()); err != nil {
		return fmt.Errorf("opq: %w", err)
	}
	y := make([]float32, o.Dim())
	o.Rotate(y, v)
	return o.pq.Encode(dst, y)
}

// EncodeBatch encodes the vectors of data into dst (CodeSize bytes each).
func (o *OPQ) EncodeBatch(ctx context.Context, dst []byte, data []float32) error {
	if err := o.checkTrained(); err != nil {
		return err
	}
	if err := check.Vectors(data, o.Dim()); err != nil {
		return fmt.Errorf("opq: %w", err)
	}
	y := make([]float32, len(data))
	if err := rotateRows(ctx, y, data, o.rt, o.Dim()); err != nil {
		return err
	}
	return o.pq.EncodeBatch(ctx, dst, y)
}

// Decode writes the reconstruction of code, rotated back to the input
// space (ŷ·Rᵀ), to dst[:Dim].
func (o *OPQ) Decode(dst []float32, code []byte) error {
	if err := o.checkTrained(); err != nil {
		return err
	}
	d := o.Dim()
	if len(dst) < d || len(code) < o.CodeSize() {
		return fmt.Errorf("%w: opq: Decode: code of %d bytes (need %d), dst of %d (need %d)", nearkit.ErrDimension, len(code), o.CodeSize(), len(dst), d)
	}
	y := make([]float32, d)
	if err := o.pq.Decode(y, code); err != nil {
		return err
	}
	o.unrotate(dst[:d], y)
	return nil
}

// unrotate sets dst = y·Rᵀ: dst[i] = Σ_j y[j]·R[i][j] = Σ_j y[j]·rt[j][i].
func (o *OPQ) unrotate(dst, y []float32) {
	d := o.Dim()
	clear(dst)
	for j, yj := range y {
		row := o.rt[j*d : (j+1)*d]
		for i := range dst {
			dst[i] += yj * row[i]
		}
	}
}

// LookupTable rotates q and returns its ADC table (see
// ProductQuantizer.LookupTable); use it with PQ().Distance/Distances.
func (o *OPQ) LookupTable(dst []float32, q []float32) ([]float32, error) {
	if err := o.checkTrained(); err != nil {
		return dst, err
	}
	if err := check.Vector(q, o.Dim()); err != nil {
		return dst, fmt.Errorf("opq: %w", err)
	}
	y := make([]float32, o.Dim())
	o.Rotate(y, q)
	return o.pq.LookupTable(dst, y)
}

// ReconstructionError returns the mean squared L2 error of encoding and
// decoding the vectors of data (equal in the rotated and input spaces).
func (o *OPQ) ReconstructionError(data []float32) (float64, error) {
	if err := o.checkTrained(); err != nil {
		return 0, err
	}
	if err := check.Vectors(data, o.Dim()); err != nil {
		return 0, fmt.Errorf("opq: %w", err)
	}
	d := o.Dim()
	return reconstructionError(data, d, func(dst, v []float32, code []byte) {
		y := make([]float32, d)
		o.Rotate(y, v)
		o.pq.encode(code, y)
		o.pq.decode(y, code)
		o.unrotate(dst, y)
	}, o.CodeSize()), nil
}

const (
	opqMagic   = "NKOPQ"
	opqVersion = 1
)

// WriteTo serialises the trained quantizer.
//
// Layout (internal/binfmt framing, magic "NKOPQ", version 1): u32
// iterations, u32 PQ iterations, u32 first PQ iterations, u32 max train
// points, u8 random init, u8 trained, then if trained the dim×dim float32
// rotation transposed (row j is column j of R), then the product quantizer
// body as in ProductQuantizer.WriteTo (without its framing).
func (o *OPQ) WriteTo(w io.Writer) (int64, error) {
	bw := binfmt.NewWriter(w, opqMagic, opqVersion)
	bw.U32(uint32(o.cfg.Iterations))
	bw.U32(uint32(o.cfg.PQIterations))
	bw.U32(uint32(o.cfg.FirstPQIterations))
	bw.U32(uint32(o.cfg.MaxTrainPoints))
	if o.cfg.RandomInit {
		bw.U8(1)
	} else {
		bw.U8(0)
	}
	if o.checkTrained() == nil {
		bw.U8(1)
		bw.U32(uint32(o.Dim()))
		bw.Float32s(o.rt)
	} else {
		bw.U8(0)
	}
	o.pq.write(bw)
	return bw.Finish()
}

// ReadOPQ reads a quantizer written by OPQ.WriteTo. Errors wrap
// nearkit.ErrCorrupt or nearkit.ErrIncompatible.
func ReadOPQ(r io.Reader) (*OPQ, error) {
	br, err := binfmt.NewReader(r, opqMagic, opqVersion)
	if err != nil {
		return nil, err
	}
	var cfg OPQConfig
	cfg.Iterations = int(br.U32() & 0x7fffffff)
	cfg.PQIterations = int(br.U32() & 0x7fffffff)
	cfg.FirstPQIterations = int(br.U32() & 0x7fffffff)
	cfg.MaxTrainPoints = int(br.U32() & 0x7fffffff)
	ri := br.U8()
	cfg.RandomInit = ri == 1
	trained := br.U8()
	if br.Err() == nil && (ri > 1 || trained > 1) {
		br.Fail("invalid OPQ flags %d %d", ri, trained)
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
		if br.Err() == nil {
			// Orthogonal rows have unit norm: a cheap O(d²) sanity check
			// (a full orthogonality check would be O(d³)).
			for j := range d {
				row := rt[j*d : (j+1)*d]
				nn := 0.0
				for _, v := range row {
					nn += float64(v) * float64(v)
				}
				if !(math.Abs(nn-1) < 1e-3) {
					br.Fail("rotation row %d has squared norm %v", j, nn)
					break
				}
			}
		}
	}
	var p *ProductQuantizer
	if br.Err() == nil {
		p = readPQ(br)
	}
	if br.Err() == nil && (trained == 1) != p.trained {
		br.Fail("rotation and codebooks disagree on training state")
	}
	if br.Err() == nil && trained == 1 && len(rt) != p.Dim()*p.Dim() {
		br.Fail("rotation of %d entries for dimension %d", len(rt), p.Dim())
	}
	if err := br.Finish(); err != nil {
		return nil, err
	}
	cfg.PQ = p.cfg
	return &OPQ{cfg: cfg, rt: rt, pq: p}, nil
}
