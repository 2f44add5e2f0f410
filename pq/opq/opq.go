// Package opq is optimised product quantization (Ge, He, Ke, Sun:
// "Optimized Product Quantization", CVPR 2013, non-parametric variant): a
// product quantizer (package pq) preceded by a learnt orthogonal rotation.
// The rotation spreads variance and decorrelates the subspaces, so the same
// code size loses markedly less on data whose coordinates are correlated;
// it is applied to vectors at encode time and to queries when building
// lookup tables, and since it is orthogonal, distances and inner products
// are unchanged by it.
//
// Learning the rotation alternates PQ training with an orthogonal
// Procrustes step, an SVD of a dim×dim matrix, for which the package uses
// gonum's LAPACK. That is why OPQ is a package of its own: pq, imported by
// the graph index for its compressed mode, links no dense linear algebra.
//
// Errors wrap nearkit's sentinels as in package pq: nearkit.ErrInvalidConfig,
// nearkit.ErrEmpty, nearkit.ErrInvalidVector, nearkit.ErrDimension,
// nearkit.ErrNotTrained, and nearkit.ErrCorrupt or nearkit.ErrIncompatible
// from Read.
package opq

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/parallel"
	"github.com/nearkit/nearkit/pq"
)

// Config parameterises an OPQ quantizer. Zero values select the defaults,
// which are FAISS's OPQMatrix defaults.
type Config struct {
	// PQ configures the product quantizer applied after the rotation.
	PQ pq.Config
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

// Quantizer is a product quantizer preceded by a learnt orthogonal
// rotation R: a vector x (as a row) is encoded as the PQ code of x·R.
//
// Train must be called once before use; afterwards every method is safe for
// concurrent use (the quantizer is read-only).
type Quantizer struct {
	cfg Config
	// rt is the rotation transposed, row-major dim×dim: y[j] = Σ_i
	// x[i]·R[i][j] = Dot(x, rt[j]), so rotating is one DotBatch. It is nil
	// until training.
	rt []float32
	pq *pq.ProductQuantizer
}

// New validates cfg and returns an untrained quantizer; errors wrap
// nearkit.ErrInvalidConfig.
func New(cfg Config) (*Quantizer, error) {
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
	p, err := pq.New(cfg.PQ)
	if err != nil {
		return nil, err
	}
	cfg.PQ = p.Config()
	return &Quantizer{cfg: cfg, pq: p}, nil
}

// Config returns the configuration with its defaults filled in.
func (o *Quantizer) Config() Config { return o.cfg }

// Dim returns the vector dimension.
func (o *Quantizer) Dim() int { return o.pq.Dim() }

// CodeSize returns the bytes per code.
func (o *Quantizer) CodeSize() int { return o.pq.CodeSize() }

// Trained reports whether the rotation and codebooks are set.
func (o *Quantizer) Trained() bool { return o.rt != nil && o.pq.Trained() }

// PQ returns the product quantizer that encodes rotated vectors. Vectors
// given to it directly must be rotated first with Rotate; its lookup
// tables, Distance and Distances serve codes of this quantizer.
func (o *Quantizer) PQ() *pq.ProductQuantizer { return o.pq }

// Rotation returns a copy of the rotation R (dim×dim, row-major): a vector
// x (as a row) is encoded as the PQ code of x·R. It is nil before
// training.
func (o *Quantizer) Rotation() []float32 {
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
// vectors of data. Errors as pq.ProductQuantizer.Train.
func (o *Quantizer) Train(ctx context.Context, data []float32) error {
	d := o.Dim()
	if err := check.Vectors(data, d); err != nil {
		return fmt.Errorf("opq: %w", err)
	}
	n := len(data) / d
	if ksub := 1 << o.cfg.PQ.NBits; n < ksub {
		return fmt.Errorf("%w: opq: %d training vectors for %d centroids per subspace", nearkit.ErrEmpty, n, ksub)
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
	p, err := pq.New(o.cfg.PQ)
	if err != nil {
		return err
	}
	cs := p.CodeSize()
	y := make([]float32, len(x))
	rec := make([]float32, len(x))
	codes := make([]byte, nx*cs)
	for it := range o.cfg.Iterations {
		if err := rotateRows(ctx, y, x, rt, d); err != nil {
			return err
		}
		iters := o.cfg.PQIterations
		if it == 0 {
			iters = o.cfg.FirstPQIterations
		}
		// The first alternation trains p from fresh seeds; each later
		// one refines the previous codebooks on the newly rotated data.
		if p, err = p.Retrain(ctx, y, iters); err != nil {
			return fmt.Errorf("opq: %w", err)
		}
		if err := p.EncodeBatch(ctx, codes, y); err != nil {
			return err
		}
		for i := range nx {
			if err := p.Decode(rec[i*d:(i+1)*d], codes[i*cs:(i+1)*cs]); err != nil {
				return err
			}
		}
		rt = procrustes(x, rec, d)
	}
	// Final codebooks on all the data in the learnt rotation, warm-started
	// from the last alternation, with the full k-means iteration count.
	full := make([]float32, len(data))
	if err := rotateRows(ctx, full, data, rt, d); err != nil {
		return err
	}
	if p, err = p.Retrain(ctx, full, o.cfg.PQ.Iterations); err != nil {
		return fmt.Errorf("opq: %w", err)
	}
	o.rt, o.pq = rt, p
	return nil
}

// rotateChunk is the number of rows a goroutine of rotateRows takes at a
// time.
const rotateChunk = 1024

// rotateRows sets each row of dst to the matching row of src times R, with
// R given transposed.
func rotateRows(ctx context.Context, dst, src, rt []float32, d int) error {
	return parallel.Chunks(ctx, len(src)/d, rotateChunk, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			distance.DotBatch(src[i*d:(i+1)*d], rt, d, dst[i*d:(i+1)*d])
		}
	})
}

// Rotate writes v·R to dst[:Dim]. It is an unchecked hot-path helper
// (ivf rotates every query and vector with it): it requires a trained
// quantizer, len(v) == Dim and len(dst) ≥ Dim, and panics otherwise.
func (o *Quantizer) Rotate(dst, v []float32) {
	// The three-index slice panics when dst is shorter than Dim, where
	// dst[:Dim] alone would write past its length into spare capacity.
	d := o.Dim()
	distance.DotBatch(v, o.rt, d, dst[:d:len(dst)])
}

// rotateOnStack is the largest dimension whose rotated vector Encode,
// Decode and LookupTable keep on the stack, so that they allocate nothing
// per call.
const rotateOnStack = 1024

// rotated returns v·R in buf when it is long enough, else in a new slice.
func (o *Quantizer) rotated(buf, v []float32) []float32 {
	d := o.Dim()
	if len(buf) < d {
		buf = make([]float32, d)
	}
	o.Rotate(buf[:d], v)
	return buf[:d]
}

// unrotate sets dst = y·Rᵀ: dst[i] = Σ_j y[j]·R[i][j] = Σ_j y[j]·rt[j][i].
func (o *Quantizer) unrotate(dst, y []float32) {
	d := o.Dim()
	clear(dst)
	for j, yj := range y {
		row := o.rt[j*d : (j+1)*d]
		for i := range dst {
			dst[i] += yj * row[i]
		}
	}
}

func (o *Quantizer) checkTrained() error {
	if !o.Trained() {
		return fmt.Errorf("%w: opq: quantizer not trained", nearkit.ErrNotTrained)
	}
	return nil
}

// Encode writes the code of v to dst[:CodeSize]; errors as
// pq.ProductQuantizer.Encode.
func (o *Quantizer) Encode(dst []byte, v []float32) error {
	if err := o.checkTrained(); err != nil {
		return err
	}
	if err := check.Vector(v, o.Dim()); err != nil {
		return fmt.Errorf("opq: %w", err)
	}
	var buf [rotateOnStack]float32
	y := o.rotated(buf[:], v)
	return o.pq.Encode(dst, y)
}

// EncodeBatch encodes the len(data)/Dim vectors of data into dst
// (CodeSize bytes each, contiguous) on GOMAXPROCS goroutines.
func (o *Quantizer) EncodeBatch(ctx context.Context, dst []byte, data []float32) error {
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
func (o *Quantizer) Decode(dst []float32, code []byte) error {
	if err := o.checkTrained(); err != nil {
		return err
	}
	d := o.Dim()
	if len(dst) < d || len(code) < o.CodeSize() {
		return fmt.Errorf("%w: opq: Decode: code of %d bytes (need %d), dst of %d (need %d)", nearkit.ErrDimension, len(code), o.CodeSize(), len(dst), d)
	}
	var buf [rotateOnStack]float32
	y := buf[:]
	if d > len(buf) {
		y = make([]float32, d)
	}
	if err := o.pq.Decode(y[:d], code); err != nil {
		return err
	}
	o.unrotate(dst[:d], y[:d])
	return nil
}

// LookupTable rotates q and returns its ADC table (see
// pq.ProductQuantizer.LookupTable); use it with PQ().Distance/Distances.
func (o *Quantizer) LookupTable(dst []float32, q []float32) ([]float32, error) {
	if err := o.checkTrained(); err != nil {
		return dst, err
	}
	if err := check.Vector(q, o.Dim()); err != nil {
		return dst, fmt.Errorf("opq: %w", err)
	}
	var buf [rotateOnStack]float32
	y := o.rotated(buf[:], q)
	return o.pq.LookupTable(dst, y)
}

// ReconstructionError returns the mean squared L2 error of encoding and
// decoding the vectors of data, measured in the input space (up to
// rounding it equals the error in the rotated space).
func (o *Quantizer) ReconstructionError(data []float32) (float64, error) {
	if err := o.checkTrained(); err != nil {
		return 0, err
	}
	d := o.Dim()
	if err := check.Vectors(data, d); err != nil {
		return 0, fmt.Errorf("opq: %w", err)
	}
	n := len(data) / d
	if n == 0 {
		return 0, nil
	}
	// Per-chunk partial sums added in chunk order keep the result
	// deterministic whatever the scheduling.
	parts := make([]float64, (n+rotateChunk-1)/rotateChunk)
	_ = parallel.Chunks(context.Background(), n, rotateChunk, func(lo, hi int) {
		y := make([]float32, d)
		rec := make([]float32, d)
		code := make([]byte, o.CodeSize())
		sum := 0.0
		for i := lo; i < hi; i++ {
			v := data[i*d : (i+1)*d]
			o.Rotate(y, v)
			// Both cannot fail: the quantizer is trained and the
			// lengths and values were checked above.
			_ = o.pq.Encode(code, y)
			_ = o.pq.Decode(y, code)
			o.unrotate(rec, y)
			for j, x := range v {
				e := float64(x) - float64(rec[j])
				sum += e * e
			}
		}
		parts[lo/rotateChunk] = sum
	})
	total := 0.0
	for _, s := range parts {
		total += s
	}
	return total / float64(n), nil
}
