package scalar

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/binfmt"
	"github.com/nearkit/nearkit/internal/check"
)

// SQ8Config parameterises an SQ8 scalar quantizer. Zero values select the
// defaults.
type SQ8Config struct {
	// Dim is the vector dimension (required).
	Dim int
	// Metric is the distance SQ8.Distance computes (default L2).
	Metric distance.Metric
	// Uniform uses one step size for every dimension (the largest
	// per-dimension range / 255) instead of one per dimension. It wastes
	// resolution on dimensions with a narrow range, but makes the L2
	// distance between two codes an exact integer computation on
	// distance.SquaredL2Uint8, which is what the fast L2 path needs: with
	// per-dimension steps, code-space squared differences would need a
	// per-dimension weight. See SQ8.Distance.
	Uniform bool
	// Quantile clips each dimension's range to its [Quantile, 1−Quantile]
	// quantiles of the training data instead of its min and max, so that
	// a few outliers do not stretch the step size (default 0: min/max;
	// must be below 0.5). Values outside the range saturate at 0 or 255.
	Quantile float64
}

// SQ8 encodes each coordinate of a vector as one byte: x ≈ min[i] +
// step[i]·code[i], with per-dimension min and step learnt from training
// data. 4× smaller than float32, with distances computed straight on the
// codes; this is the codec of quantized graph storage.
//
// Train (or ReadSQ8) must run once before use, and not concurrently with
// anything else; afterwards every method is safe for concurrent use.
type SQ8 struct {
	cfg  SQ8Config
	vmin []float32
	step []float32
	// inv is 1/step, the fast query encoders' multiplier.
	inv     []float32
	trained bool
}

// SQ8Query is a query prepared by SQ8.PrepareQuery for repeated distance
// computations against codes. It holds no reference to the query vector.
// Reuse it across queries to avoid allocation; it is not safe for
// concurrent use.
type SQ8Query struct {
	code   []uint8   // the query encoded (uniform L2 path)
	w      []float32 // per-dimension weights of the float path
	a      []float32 // q - min (per-dimension L2 path)
	offset float32   // constant term
	scale  float32   // multiplier of the integer kernel result
	dim    int
	mode   uint8 // which of the three paths filled it (queryMode)
	ok     bool
}

// NewSQ8 validates cfg and returns an untrained quantizer; errors wrap
// nearkit.ErrInvalidConfig.
func NewSQ8(cfg SQ8Config) (*SQ8, error) {
	if err := validateSQ8(cfg); err != nil {
		return nil, err
	}
	return &SQ8{cfg: cfg}, nil
}

func validateSQ8(cfg SQ8Config) error {
	switch {
	case cfg.Dim <= 0 || cfg.Dim > maxDim:
		return fmt.Errorf("%w: sq8: Dim=%d", nearkit.ErrInvalidConfig, cfg.Dim)
	case !cfg.Metric.Valid():
		return fmt.Errorf("%w: sq8: unknown metric %v", nearkit.ErrInvalidConfig, cfg.Metric)
	case !(cfg.Quantile >= 0 && cfg.Quantile < 0.5):
		return fmt.Errorf("%w: sq8: Quantile=%v, want [0, 0.5)", nearkit.ErrInvalidConfig, cfg.Quantile)
	}
	return nil
}

// Dim returns the vector dimension, which is also the code size in bytes.
func (s *SQ8) Dim() int { return s.cfg.Dim }

// Metric returns the metric of Distance.
func (s *SQ8) Metric() distance.Metric { return s.cfg.Metric }

// Trained reports whether Train (or ReadSQ8) has set the ranges.
func (s *SQ8) Trained() bool { return s.trained }

// Train learns each dimension's range from the len(data)/Dim vectors of
// data. Errors: nearkit.ErrEmpty (no data), nearkit.ErrDimension,
// nearkit.ErrInvalidVector, or ctx's error.
func (s *SQ8) Train(ctx context.Context, data []float32) error {
	dim := s.cfg.Dim
	if err := check.Vectors(data, dim); err != nil {
		return fmt.Errorf("sq8: %w", err)
	}
	n := len(data) / dim
	if n == 0 {
		return fmt.Errorf("%w: sq8: no training vectors", nearkit.ErrEmpty)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	lo := make([]float32, dim)
	hi := make([]float32, dim)
	if s.cfg.Quantile == 0 {
		copy(lo, data[:dim])
		copy(hi, data[:dim])
		for i := 1; i < n; i++ {
			for j, x := range data[i*dim : (i+1)*dim] {
				lo[j] = min(lo[j], x)
				hi[j] = max(hi[j], x)
			}
		}
	} else {
		col := make([]float32, n)
		for j := range dim {
			if j%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			for i := range n {
				col[i] = data[i*dim+j]
			}
			slices.Sort(col)
			k := int(s.cfg.Quantile * float64(n-1))
			lo[j], hi[j] = col[k], col[n-1-k]
		}
	}
	step := make([]float32, dim)
	maxRange := float32(0)
	for j := range dim {
		maxRange = max(maxRange, hi[j]-lo[j])
	}
	for j := range dim {
		r := hi[j] - lo[j]
		if s.cfg.Uniform {
			r = maxRange
		}
		if r == 0 || math.IsInf(float64(r), 0) {
			// A constant dimension (or a range that overflows float32):
			// any positive step keeps decoding finite.
			r = max(r, 1)
			if math.IsInf(float64(r), 0) {
				r = math.MaxFloat32
			}
		}
		step[j] = r / 255
	}
	s.vmin, s.step, s.inv, s.trained = lo, step, inverses(step), true
	return nil
}

func inverses(step []float32) []float32 {
	inv := make([]float32, len(step))
	for i, st := range step {
		inv[i] = 1 / st
	}
	return inv
}

// MemoryUsage returns the bytes of the codec's tables (minima, steps and
// their inverses; 0 before training).
func (s *SQ8) MemoryUsage() int64 {
	return 4 * int64(len(s.vmin)+len(s.step)+len(s.inv))
}

// Uniform reports whether one step size serves every dimension
// (SQ8Config.Uniform).
func (s *SQ8) Uniform() bool { return s.cfg.Uniform }

// Mins appends the per-dimension minima (the value of code 0) to dst and
// returns it; nothing is appended before training.
func (s *SQ8) Mins(dst []float32) []float32 { return append(dst, s.vmin...) }

// Steps appends the per-dimension step sizes to dst and returns it; with
// Uniform they are all equal. Coordinate i of a code c decodes to
// Mins[i] + Steps[i]·c[i], in float32. Nothing is appended before training.
func (s *SQ8) Steps(dst []float32) []float32 { return append(dst, s.step...) }

func (s *SQ8) check(v []float32) error {
	if !s.trained {
		return fmt.Errorf("%w: sq8: quantizer not trained", nearkit.ErrNotTrained)
	}
	if err := check.Vector(v, s.cfg.Dim); err != nil {
		return fmt.Errorf("sq8: %w", err)
	}
	return nil
}

// Encode writes the Dim-byte code of v to dst[:Dim]: each coordinate
// rounded to the nearest step and clamped to [0, 255].
func (s *SQ8) Encode(dst []uint8, v []float32) error {
	if err := s.check(v); err != nil {
		return err
	}
	if len(dst) < s.cfg.Dim {
		return fmt.Errorf("%w: sq8: code buffer of %d bytes, need %d", nearkit.ErrDimension, len(dst), s.cfg.Dim)
	}
	s.encode(dst[:s.cfg.Dim], v)
	return nil
}

// EncodeUnchecked is Encode without the checks, for callers that have
// checked v already: it requires a trained codec and len(v) == Dim ≤
// len(dst), and panics otherwise. Non-finite values give unspecified
// codes.
func (s *SQ8) EncodeUnchecked(dst []uint8, v []float32) {
	s.encode(dst[:s.cfg.Dim:len(dst)], v[:s.cfg.Dim:len(v)]) // short slices panic, never read past their length
}

func (s *SQ8) encode(dst []uint8, v []float32) {
	vmin, step := s.vmin[:len(v)], s.step[:len(v)]
	dst = dst[:len(v)]
	for i, x := range v {
		// float64: (x-min)/step can exceed float32 range for huge inputs.
		q := math.Round((float64(x) - float64(vmin[i])) / float64(step[i]))
		dst[i] = uint8(max(0, min(255, q)))
	}
}

// Decode writes the reconstruction of code to dst[:Dim].
func (s *SQ8) Decode(dst []float32, code []uint8) error {
	if !s.trained {
		return fmt.Errorf("%w: sq8: quantizer not trained", nearkit.ErrNotTrained)
	}
	if len(dst) < s.cfg.Dim || len(code) < s.cfg.Dim {
		return fmt.Errorf("%w: sq8: Decode: dst %d, code %d, dim %d", nearkit.ErrDimension, len(dst), len(code), s.cfg.Dim)
	}
	s.decode(dst[:s.cfg.Dim], code[:s.cfg.Dim])
	return nil
}

// decode is the one place of the decoding arithmetic; losslessUnchecked
// mirrors it.
func (s *SQ8) decode(dst []float32, code []uint8) {
	vmin, step := s.vmin[:len(dst)], s.step[:len(dst)]
	code = code[:len(dst)]
	for i, c := range code {
		dst[i] = vmin[i] + step[i]*float32(c)
	}
}

// Lossless reports whether code decodes to v exactly, as it does for
// data that is itself 8-bit (image pixels, SIFT's bvecs) under a codec of
// step 1. Errors as Encode's, and nearkit.ErrDimension for a short code.
func (s *SQ8) Lossless(code []uint8, v []float32) (bool, error) {
	if err := s.check(v); err != nil {
		return false, err
	}
	if len(code) < s.cfg.Dim {
		return false, fmt.Errorf("%w: sq8: code of %d bytes, need %d", nearkit.ErrDimension, len(code), s.cfg.Dim)
	}
	return s.LosslessUnchecked(code, v), nil
}

// LosslessUnchecked is Lossless without the checks: it requires a trained
// codec and len(v) == Dim ≤ len(code), and panics otherwise.
func (s *SQ8) LosslessUnchecked(code []uint8, v []float32) bool {
	v = v[:s.cfg.Dim:len(v)]
	vmin, step := s.vmin[:len(v)], s.step[:len(v)]
	code = code[:len(v):len(code)]
	for i, x := range v {
		if vmin[i]+step[i]*float32(code[i]) != x {
			return false
		}
	}
	return true
}

// PrepareQuery readies q for Distance calls, reusing dst's buffers.
//
// Distance paths, and why:
//   - L2 with Uniform: the query is encoded with the codec and the
//     distance is step²·SquaredL2Uint8(qcode, code), exact integer
//     arithmetic on the distance kernel. It is symmetric: the query's
//     rounding (≤ step/2 per coordinate) adds to the code's.
//   - L2 per dimension: Σ (q[i]−min[i] − step[i]·code[i])² in float32,
//     asymmetric (the query is exact); an integer kernel cannot apply a
//     per-dimension weight.
//   - InnerProduct / Cosine: q·min + Σ (q[i]·step[i])·code[i], asymmetric,
//     negated (1 − · for Cosine) so that smaller is closer.
//
// TestSQ8Recall measures the recall of both L2 paths.
func (s *SQ8) PrepareQuery(dst *SQ8Query, q []float32) error {
	if err := s.check(q); err != nil {
		return err
	}
	if dst == nil {
		return errNilQuery
	}
	dim := s.cfg.Dim
	dst.ok, dst.dim, dst.mode = true, dim, s.queryMode()
	switch {
	case s.cfg.Metric == distance.L2 && s.cfg.Uniform:
		dst.code = grow(dst.code, dim)
		s.encode(dst.code, q)
		dst.scale = s.step[0] * s.step[0]
	case s.cfg.Metric == distance.L2:
		dst.a = grow(dst.a, dim)
		for i, x := range q {
			dst.a[i] = x - s.vmin[i]
		}
	default:
		dst.w = grow(dst.w, dim)
		off := 0.0
		for i, x := range q {
			dst.w[i] = x * s.step[i]
			off += float64(x) * float64(s.vmin[i])
		}
		dst.offset = float32(off)
	}
	return nil
}

// queryMode names the path of PrepareQuery and Distance: the integer
// kernel of a uniform L2 codec, per-dimension L2, or a weighted dot
// product. A query prepared for one path lacks the fields of the others.
func (s *SQ8) queryMode() uint8 {
	switch {
	case s.cfg.Metric == distance.L2 && s.cfg.Uniform:
		return 1
	case s.cfg.Metric == distance.L2:
		return 2
	}
	return 3
}

// errNilQuery is the error of a Prepare method given no query to fill.
var errNilQuery = fmt.Errorf("%w: sq8: nil query", nearkit.ErrInvalidConfig)

// grow returns b resized to n, reallocated only when too small.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// Distance returns the distance between a prepared query and a code (see
// PrepareQuery for the computation). Errors wrap nearkit.ErrInvalidConfig
// for a query not prepared by a codec of this dimension, metric and
// uniformity, and nearkit.ErrDimension for a short code.
func (s *SQ8) Distance(q *SQ8Query, code []uint8) (float32, error) {
	if q == nil || !q.ok || q.dim != s.cfg.Dim || q.mode != s.queryMode() {
		return 0, fmt.Errorf("%w: sq8: Distance: query not prepared by this codec", nearkit.ErrInvalidConfig)
	}
	if len(code) < s.cfg.Dim {
		return 0, fmt.Errorf("%w: sq8: code of %d bytes, need %d", nearkit.ErrDimension, len(code), s.cfg.Dim)
	}
	return s.DistanceUnchecked(q, code), nil
}

// DistanceUnchecked is Distance without the checks, for hot loops: it
// requires q prepared by this codec and len(code) ≥ Dim, and panics
// otherwise.
func (s *SQ8) DistanceUnchecked(q *SQ8Query, code []uint8) float32 {
	if !q.ok {
		panic("scalar: SQ8.DistanceUnchecked: query not prepared")
	}
	code = code[:s.cfg.Dim:len(code)] // a short code panics, never reads past its length
	switch {
	case s.cfg.Metric == distance.L2 && s.cfg.Uniform:
		return q.scale * float32(distance.SquaredL2Uint8(q.code, code))
	case s.cfg.Metric == distance.L2:
		return weightedL2(q.a, s.step, code)
	}
	ip := q.offset + weightedDot(q.w, code)
	if s.cfg.Metric == distance.Cosine {
		return 1 - ip
	}
	return -ip
}

// DistanceCodes returns the distance between the reconstructions of two
// codes, as graph construction over stored codes needs. With Uniform and L2
// it is the exact integer kernel; otherwise a float loop over both codes.
// Errors wrap nearkit.ErrNotTrained or nearkit.ErrDimension.
func (s *SQ8) DistanceCodes(a, b []uint8) (float32, error) {
	if !s.trained {
		return 0, fmt.Errorf("%w: sq8: quantizer not trained", nearkit.ErrNotTrained)
	}
	if len(a) < s.cfg.Dim || len(b) < s.cfg.Dim {
		return 0, fmt.Errorf("%w: sq8: codes of %d and %d bytes, need %d", nearkit.ErrDimension, len(a), len(b), s.cfg.Dim)
	}
	return s.DistanceCodesUnchecked(a, b), nil
}

// DistanceCodesUnchecked is DistanceCodes without the checks: it requires
// a trained codec and codes of at least Dim bytes, and panics otherwise.
func (s *SQ8) DistanceCodesUnchecked(a, b []uint8) float32 {
	dim := s.cfg.Dim
	a, b = a[:dim:len(a)], b[:dim:len(b)] // short codes panic, never read past their length
	if s.cfg.Metric == distance.L2 {
		if s.cfg.Uniform {
			return s.step[0] * s.step[0] * float32(distance.SquaredL2Uint8(a, b))
		}
		var sum float32
		for i := range a {
			d := s.step[i] * (float32(a[i]) - float32(b[i]))
			sum += d * d
		}
		return sum
	}
	var ip float32
	for i := range a {
		ip += (s.vmin[i] + s.step[i]*float32(a[i])) * (s.vmin[i] + s.step[i]*float32(b[i]))
	}
	if s.cfg.Metric == distance.Cosine {
		return 1 - ip
	}
	return -ip
}

func weightedL2(a, step []float32, code []uint8) float32 {
	step = step[:len(a)]
	code = code[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(step) >= 4 && len(code) >= 4 {
		d0 := a[0] - step[0]*float32(code[0])
		d1 := a[1] - step[1]*float32(code[1])
		d2 := a[2] - step[2]*float32(code[2])
		d3 := a[3] - step[3]*float32(code[3])
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		a, step, code = a[4:], step[4:], code[4:]
	}
	step = step[:len(a)]
	code = code[:len(a)]
	for i := range a {
		d := a[i] - step[i]*float32(code[i])
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func weightedDot(w []float32, code []uint8) float32 {
	code = code[:len(w)]
	var s0, s1, s2, s3 float32
	for len(w) >= 4 && len(code) >= 4 {
		s0 += w[0] * float32(code[0])
		s1 += w[1] * float32(code[1])
		s2 += w[2] * float32(code[2])
		s3 += w[3] * float32(code[3])
		w, code = w[4:], code[4:]
	}
	code = code[:len(w)]
	for i := range w {
		s0 += w[i] * float32(code[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// ReconstructionError returns the mean squared L2 error of encoding and
// decoding the vectors of data.
func (s *SQ8) ReconstructionError(data []float32) (float64, error) {
	if !s.trained {
		return 0, fmt.Errorf("%w: sq8: quantizer not trained", nearkit.ErrNotTrained)
	}
	if err := check.Vectors(data, s.cfg.Dim); err != nil {
		return 0, fmt.Errorf("sq8: %w", err)
	}
	dim := s.cfg.Dim
	n := len(data) / dim
	if n == 0 {
		return 0, nil
	}
	code := make([]uint8, dim)
	rec := make([]float32, dim)
	sum := 0.0
	for i := range n {
		v := data[i*dim : (i+1)*dim]
		s.encode(code, v)
		s.decode(rec, code)
		for j, x := range v {
			d := float64(x) - float64(rec[j])
			sum += d * d
		}
	}
	return sum / float64(n), nil
}

const (
	sq8Magic   = "NKSQ8"
	sq8Version = 1
)

// WriteTo serialises the quantizer.
//
// Layout (internal/binfmt framing, magic "NKSQ8", version 1): u32 dim,
// u8 metric, u8 uniform, f64 quantile, u8 trained, then if trained dim
// float32 minima and dim float32 steps.
func (s *SQ8) WriteTo(w io.Writer) (int64, error) {
	bw := binfmt.NewWriter(w, sq8Magic, sq8Version)
	bw.U32(uint32(s.cfg.Dim))
	bw.U8(uint8(s.cfg.Metric))
	if s.cfg.Uniform {
		bw.U8(1)
	} else {
		bw.U8(0)
	}
	bw.F64(s.cfg.Quantile)
	if s.trained {
		bw.U8(1)
		bw.Float32s(s.vmin)
		bw.Float32s(s.step)
	} else {
		bw.U8(0)
	}
	return bw.Finish()
}

// ReadSQ8 reads a quantizer written by SQ8.WriteTo. Errors wrap
// nearkit.ErrCorrupt or nearkit.ErrIncompatible.
func ReadSQ8(r io.Reader) (*SQ8, error) {
	br, err := binfmt.NewReader(r, sq8Magic, sq8Version)
	if err != nil {
		return nil, err
	}
	var cfg SQ8Config
	cfg.Dim = int(br.U32())
	cfg.Metric = distance.Metric(br.U8())
	uni := br.U8()
	cfg.Uniform = uni == 1
	cfg.Quantile = br.F64()
	trained := br.U8()
	if br.Err() == nil && (validateSQ8(cfg) != nil || uni > 1 || trained > 1) {
		br.Fail("invalid SQ8 header (dim %d, metric %d, uniform %d, quantile %v, trained %d)", cfg.Dim, cfg.Metric, uni, cfg.Quantile, trained)
	}
	s := &SQ8{cfg: cfg}
	if br.Err() == nil && trained == 1 {
		s.vmin = br.Float32s(cfg.Dim)
		s.step = br.Float32s(cfg.Dim)
		if br.Err() == nil {
			for i := range cfg.Dim {
				m, st := s.vmin[i], s.step[i]
				if m-m != 0 || !(st > 0) || st-st != 0 || (cfg.Uniform && st != s.step[0]) {
					br.Fail("dimension %d: min %v, step %v", i, m, st)
					break
				}
			}
		}
		s.inv, s.trained = inverses(s.step), true
	}
	if err := br.Finish(); err != nil {
		return nil, err
	}
	return s, nil
}
