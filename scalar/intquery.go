package scalar

import (
	"fmt"
	"math"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// L2Query is a query encoded for the integer L2 path of a Uniform L2
// codec: its distance to a code c is Scale()·SquaredL2Uint8(query code, c),
// symmetric (the query's rounding adds to the code's) and exact integer
// arithmetic on the distance kernel. Reuse one across queries to avoid
// allocation; it is not safe for concurrent use.
type L2Query struct {
	code     []uint8
	scale    float32
	lossless bool
}

// PrepareL2 encodes q into dst. Errors wrap nearkit.ErrInvalidConfig for a
// codec that is not Uniform L2, and those of Encode.
func (s *SQ8) PrepareL2(dst *L2Query, q []float32) error {
	if err := s.check(q); err != nil {
		return err
	}
	if dst == nil {
		return errNilQuery
	}
	if s.cfg.Metric != distance.L2 || !s.cfg.Uniform {
		return fmt.Errorf("%w: sq8: PrepareL2 needs a Uniform L2 codec", nearkit.ErrInvalidConfig)
	}
	s.PrepareL2Unchecked(dst, q)
	return nil
}

// PrepareL2Unchecked is PrepareL2 without the checks: it requires a
// trained Uniform L2 codec and len(q) == Dim, and panics on a short q.
//
// It encodes with a float32 multiplication by the inverse step rather than
// Encode's float64 division and math.Round, which took 10–15 % of a
// Fashion-MNIST graph search. A coordinate may therefore round one step
// differently from Encode at a tie: query noise well below the codec's
// own.
func (s *SQ8) PrepareL2Unchecked(dst *L2Query, q []float32) {
	dim := s.cfg.Dim
	q = q[:dim:len(q)] // a short q panics, never reads past its length
	dst.code = grow(dst.code, dim)
	code := dst.code[:len(q)]
	vmin, step, inv := s.vmin[:len(q)], s.step[:len(q)], s.inv[:len(q)]
	lossless := true
	for i, x := range q {
		c := (x-vmin[i])*inv[i] + 0.5
		code[i] = uint8(max(0, min(255, c)))
		lossless = lossless && vmin[i]+step[i]*float32(code[i]) == x
	}
	dst.lossless = lossless
	dst.scale = s.step[0] * s.step[0]
}

// IntDistanceUnchecked returns the squared L2 distance between the query's
// code and code in code units (multiply by Scale for the distance). It
// requires len(code) == Dim and panics otherwise.
func (q *L2Query) IntDistanceUnchecked(code []uint8) uint32 {
	return distance.SquaredL2Uint8(q.code, code)
}

// Scale returns step², the factor from code units to squared distance.
func (q *L2Query) Scale() float32 { return q.scale }

// Lossless reports whether the query decodes exactly to itself, so that
// (with stored codes that are lossless too) the integer distance is the
// float32 one.
func (q *L2Query) Lossless() bool { return q.lossless }

// DotQuery is a query prepared for the integer inner-product path of an
// InnerProduct or Cosine codec. Reuse one across queries to avoid
// allocation; it is not safe for concurrent use.
//
// A code c decodes to x[i] = min[i] + step[i]·c[i], so q·x = Σ q[i]·min[i]
// + Σ w[i]·c[i] with w[i] = q[i]·step[i]. The first sum is the same for
// every code. The weights are quantized to w[i] ≈ a·(u[i]−128) with u in
// 1…255, so Σ w[i]·c[i] ≈ a·(DotUint8(u, c) − 128·DotUint8(1, c)): two
// calls of the uint8 kernel, the second on a code already in L1. The
// weights' rounding (a/2 each) is far below the codes' own error; an index
// that returns distances re-ranks with float32 vectors.
type DotQuery struct {
	w     []uint8
	ones  []uint8
	scale float32 // a
	bias  float32 // the metric's constant: −q·min, or 1 − q·min for Cosine
}

// PrepareDot prepares q in dst. For Cosine, q should be normalised as the
// encoded vectors were. Errors wrap nearkit.ErrInvalidConfig for an L2
// codec, and those of Encode.
func (s *SQ8) PrepareDot(dst *DotQuery, q []float32) error {
	if err := s.check(q); err != nil {
		return err
	}
	if dst == nil {
		return errNilQuery
	}
	if s.cfg.Metric == distance.L2 {
		return fmt.Errorf("%w: sq8: PrepareDot needs an InnerProduct or Cosine codec", nearkit.ErrInvalidConfig)
	}
	s.PrepareDotUnchecked(dst, q)
	return nil
}

// PrepareDotUnchecked is PrepareDot without the checks: it requires a
// trained InnerProduct or Cosine codec and len(q) == Dim, and panics on a
// short q.
func (s *SQ8) PrepareDotUnchecked(dst *DotQuery, q []float32) {
	dim := s.cfg.Dim
	q = q[:dim:len(q)]
	step := s.step[:len(q)]
	var mx float32
	off := 0.0
	for i, v := range q {
		mx = max(mx, abs32(v*step[i]))
		off += float64(v) * float64(s.vmin[i])
	}
	if mx == 0 {
		mx = 1
	}
	dst.scale = mx / 127
	inv := 1 / dst.scale
	dst.w = grow(dst.w, dim)
	w := dst.w[:len(q)]
	for i, v := range q {
		w[i] = uint8(int32(math.Round(float64(v*step[i]*inv))) + 128)
	}
	dst.ones = grow(dst.ones, dim)
	for i := range dst.ones {
		dst.ones[i] = 1
	}
	dst.bias = float32(-off)
	if s.cfg.Metric == distance.Cosine {
		dst.bias = 1 - float32(off)
	}
}

// DistanceUnchecked returns the approximate distance (smaller is closer)
// between the query and code. It requires len(code) == Dim and panics
// otherwise.
func (q *DotQuery) DistanceUnchecked(code []uint8) float32 {
	d := int64(distance.DotUint8(q.w, code)) - 128*int64(distance.DotUint8(q.ones, code))
	return q.bias - q.scale*float32(d)
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }
