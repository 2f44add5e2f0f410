package scalar

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
)

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error (checked methods), panics as documented (the Unchecked ones: a
// short slice with spare capacity must panic, not be read past its
// length), or answers correctly. A new exported function without a case
// here fails the test.
func TestAPIHostile(t *testing.T) {
	const dim, n = attack.Dim, 200
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	data := attack.Vectors(n)
	v := data[:dim]
	nan := append([]float32{float32(math.NaN())}, v[1:]...)
	inf := append([]float32{float32(math.Inf(-1))}, v[1:]...)
	codec := func(t *testing.T, metric distance.Metric, uniform, train bool) *SQ8 {
		s, err := NewSQ8(SQ8Config{Dim: dim, Metric: metric, Uniform: uniform})
		if err != nil {
			t.Fatal(err)
		}
		if train {
			if err := s.Train(ctx, data); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	l2 := codec(t, distance.L2, true, true)
	ip := codec(t, distance.InnerProduct, false, true)
	raw := func() *SQ8 { return codec(t, distance.L2, false, false) }
	code := make([]uint8, dim)
	l2.Encode(code, v)
	short := code[:dim-1] // spare capacity: an unchecked path must still panic
	vectorCases := func(t *testing.T, name string, f func(v []float32) error) {
		for what, bad := range map[string][]float32{"nil": nil, "short": v[:3], "long": data[:dim+1]} {
			attack.Must(t, name+" of a "+what+" vector", f(bad), nearkit.ErrDimension)
		}
		attack.Must(t, name+" of NaN", f(nan), nearkit.ErrInvalidVector)
		attack.Must(t, name+" of -Inf", f(inf), nearkit.ErrInvalidVector)
	}
	var l2q L2Query
	var dq DotQuery
	var sq SQ8Query
	if err := l2.PrepareL2(&l2q, v); err != nil {
		t.Fatal(err)
	}
	if err := ip.PrepareDot(&dq, v); err != nil {
		t.Fatal(err)
	}
	if err := l2.PrepareQuery(&sq, v); err != nil {
		t.Fatal(err)
	}
	cases := attack.Cases{
		"NewSQ8": func(t *testing.T) {
			for _, cfg := range []SQ8Config{{}, {Dim: -1}, {Dim: math.MaxInt}, {Dim: 8, Metric: 77}, {Dim: 8, Quantile: -0.5}, {Dim: 8, Quantile: 2}, {Dim: 8, Quantile: math.NaN()}} {
				_, err := NewSQ8(cfg)
				attack.Must(t, "NewSQ8 with a bad config", err, nearkit.ErrInvalidConfig)
			}
		},
		"ReadSQ8": func(t *testing.T) {
			_, err := ReadSQ8(bytes.NewReader(nil))
			attack.Must(t, "ReadSQ8 of nothing", err, nearkit.ErrCorrupt)
			_, err = ReadSQ8(bytes.NewReader([]byte("NKHNSW\x00\x00\x03\x00\x00\x00")))
			attack.Must(t, "ReadSQ8 of another file type", err, nearkit.ErrIncompatible)
		},
		"SQ8.Train": func(t *testing.T) {
			s := raw()
			attack.Must(t, "Train on nothing", s.Train(ctx, nil), nearkit.ErrEmpty)
			attack.Must(t, "Train on a ragged batch", s.Train(ctx, data[:dim+1]), nearkit.ErrDimension)
			attack.Must(t, "Train on NaN", s.Train(ctx, nan), nearkit.ErrInvalidVector)
			attack.Must(t, "Train cancelled", s.Train(cancelled, data), context.Canceled)
		},
		"SQ8.Encode": func(t *testing.T) {
			attack.Must(t, "Encode untrained", raw().Encode(code, v), nearkit.ErrNotTrained)
			vectorCases(t, "Encode", func(v []float32) error { return l2.Encode(make([]uint8, dim), v) })
			attack.Must(t, "Encode into a short code", l2.Encode(short, v), nearkit.ErrDimension)
		},
		"SQ8.EncodeUnchecked": func(t *testing.T) {
			attack.Panics(t, "EncodeUnchecked into a short code", func() { l2.EncodeUnchecked(make([]uint8, dim+4)[:dim-1], v) })
			attack.Panics(t, "EncodeUnchecked of a short vector", func() { l2.EncodeUnchecked(make([]uint8, dim), data[:dim+4][:dim-1]) })
		},
		"SQ8.Decode": func(t *testing.T) {
			attack.Must(t, "Decode untrained", raw().Decode(make([]float32, dim), code), nearkit.ErrNotTrained)
			attack.Must(t, "Decode into nil", l2.Decode(nil, code), nearkit.ErrDimension)
			attack.Must(t, "Decode of a short code", l2.Decode(make([]float32, dim), short), nearkit.ErrDimension)
		},
		"SQ8.Lossless": func(t *testing.T) {
			_, err := l2.Lossless(short, v)
			attack.Must(t, "Lossless of a short code", err, nearkit.ErrDimension)
			_, err = l2.Lossless(code, nan)
			attack.Must(t, "Lossless of NaN", err, nearkit.ErrInvalidVector)
			_, err = raw().Lossless(code, v)
			attack.Must(t, "Lossless untrained", err, nearkit.ErrNotTrained)
		},
		"SQ8.LosslessUnchecked": func(t *testing.T) {
			attack.Panics(t, "LosslessUnchecked of a short code", func() { l2.LosslessUnchecked(short, v) })
		},
		"SQ8.Distance": func(t *testing.T) {
			_, err := l2.Distance(&sq, short)
			attack.Must(t, "Distance of a short code", err, nearkit.ErrDimension)
			_, err = l2.Distance(nil, code)
			attack.Must(t, "Distance with a nil query", err, nearkit.ErrInvalidConfig)
			var other SQ8Query
			if err := ip.PrepareQuery(&other, v); err != nil {
				t.Fatal(err)
			}
			_, err = codec(t, distance.L2, true, true).Distance(&SQ8Query{}, code)
			attack.Must(t, "Distance with an unprepared query", err, nearkit.ErrInvalidConfig)
			_, err = l2.Distance(&other, code)
			attack.Must(t, "Distance with an inner-product codec's query", err, nearkit.ErrInvalidConfig)
		},
		"SQ8.DistanceUnchecked": func(t *testing.T) {
			attack.Panics(t, "DistanceUnchecked of a short code", func() { l2.DistanceUnchecked(&sq, short) })
		},
		"SQ8.DistanceCodes": func(t *testing.T) {
			_, err := raw().DistanceCodes(code, code)
			attack.Must(t, "DistanceCodes untrained", err, nearkit.ErrNotTrained)
			_, err = l2.DistanceCodes(code, short)
			attack.Must(t, "DistanceCodes of a short code", err, nearkit.ErrDimension)
			_, err = l2.DistanceCodes(nil, code)
			attack.Must(t, "DistanceCodes of nil", err, nearkit.ErrDimension)
		},
		"SQ8.DistanceCodesUnchecked": func(t *testing.T) {
			attack.Panics(t, "DistanceCodesUnchecked of a short code", func() { l2.DistanceCodesUnchecked(code, short) })
		},
		"SQ8.PrepareQuery": func(t *testing.T) {
			vectorCases(t, "PrepareQuery", func(q []float32) error { var d SQ8Query; return l2.PrepareQuery(&d, q) })
			attack.Must(t, "PrepareQuery untrained", raw().PrepareQuery(&SQ8Query{}, v), nearkit.ErrNotTrained)
			attack.Must(t, "PrepareQuery into nil", l2.PrepareQuery(nil, v), nearkit.ErrInvalidConfig)
		},
		"SQ8.PrepareL2": func(t *testing.T) {
			vectorCases(t, "PrepareL2", func(q []float32) error { var d L2Query; return l2.PrepareL2(&d, q) })
			attack.Must(t, "PrepareL2 of an inner-product codec", ip.PrepareL2(&L2Query{}, v), nearkit.ErrInvalidConfig)
			attack.Must(t, "PrepareL2 of a non-uniform codec", codec(t, distance.L2, false, true).PrepareL2(&L2Query{}, v), nearkit.ErrInvalidConfig)
			attack.Must(t, "PrepareL2 into nil", l2.PrepareL2(nil, v), nearkit.ErrInvalidConfig)
		},
		"SQ8.PrepareL2Unchecked": func(t *testing.T) {
			attack.Panics(t, "PrepareL2Unchecked of a short query", func() { l2.PrepareL2Unchecked(&L2Query{}, data[:dim+4][:dim-1]) })
		},
		"SQ8.PrepareDot": func(t *testing.T) {
			vectorCases(t, "PrepareDot", func(q []float32) error { var d DotQuery; return ip.PrepareDot(&d, q) })
			attack.Must(t, "PrepareDot of an L2 codec", l2.PrepareDot(&DotQuery{}, v), nearkit.ErrInvalidConfig)
			attack.Must(t, "PrepareDot into nil", ip.PrepareDot(nil, v), nearkit.ErrInvalidConfig)
		},
		"SQ8.PrepareDotUnchecked": func(t *testing.T) {
			attack.Panics(t, "PrepareDotUnchecked of a short query", func() { ip.PrepareDotUnchecked(&DotQuery{}, data[:dim+4][:dim-1]) })
		},
		"L2Query.IntDistanceUnchecked": func(t *testing.T) {
			attack.Panics(t, "IntDistanceUnchecked of a short code", func() { l2q.IntDistanceUnchecked(short) })
		},
		"DotQuery.DistanceUnchecked": func(t *testing.T) {
			attack.Panics(t, "DotQuery.DistanceUnchecked of a short code", func() { dq.DistanceUnchecked(short) })
		},
		"L2Query.Lossless": func(t *testing.T) {
			attack.Calls++
			var zero L2Query
			_ = zero.Lossless() // a zero query must not panic
			_ = l2q.Lossless()
		},
		"L2Query.Scale": func(t *testing.T) {
			attack.Calls++
			if s := l2q.Scale(); !(s > 0) || math.IsInf(float64(s), 0) {
				t.Errorf("Scale %v", s)
			}
		},
		"SQ8.ReconstructionError": func(t *testing.T) {
			_, err := l2.ReconstructionError(data[:dim+1])
			attack.Must(t, "ReconstructionError ragged", err, nearkit.ErrDimension)
			_, err = l2.ReconstructionError(nan)
			attack.Must(t, "ReconstructionError NaN", err, nearkit.ErrInvalidVector)
			_, err = raw().ReconstructionError(v)
			attack.Must(t, "ReconstructionError untrained", err, nearkit.ErrNotTrained)
		},
		"SQ8.Mins": func(t *testing.T) {
			attack.Calls += 2
			if m := raw().Mins(nil); len(m) != 0 {
				t.Errorf("Mins of an untrained codec: %v", m)
			}
			if m := l2.Mins(make([]float32, 0, 1)); len(m) != dim {
				t.Errorf("Mins: %d values", len(m))
			}
		},
		"SQ8.Steps": func(t *testing.T) {
			attack.Calls += 2
			if m := raw().Steps(nil); len(m) != 0 {
				t.Errorf("Steps of an untrained codec: %v", m)
			}
			if m := l2.Steps(nil); len(m) != dim {
				t.Errorf("Steps: %d values", len(m))
			}
		},
		"SQ8.WriteTo": func(t *testing.T) {
			attack.Calls++
			var b bytes.Buffer
			if _, err := raw().WriteTo(&b); err != nil {
				t.Error(err)
			}
			if s, err := ReadSQ8(&b); err != nil || s.Trained() {
				t.Errorf("untrained codec round trip: %v", err)
			}
		},
		"SQ8.Dim":         func(t *testing.T) { sq8Accessors(t, l2, raw()) },
		"SQ8.Metric":      func(t *testing.T) { sq8Accessors(t, l2, raw()) },
		"SQ8.MemoryUsage": func(t *testing.T) { sq8Accessors(t, l2, raw()) },
		"SQ8.Trained":     func(t *testing.T) { sq8Accessors(t, l2, raw()) },
		"SQ8.Uniform":     func(t *testing.T) { sq8Accessors(t, l2, raw()) },
		"EncodeFloat16": func(t *testing.T) {
			dst := make([]uint16, dim)
			attack.Must(t, "EncodeFloat16 of NaN", EncodeFloat16(dst, nan), nearkit.ErrInvalidVector)
			attack.Must(t, "EncodeFloat16 of -Inf", EncodeFloat16(dst, inf), nearkit.ErrInvalidVector)
			attack.Must(t, "EncodeFloat16 of 1e6", EncodeFloat16(dst, []float32{1e6}), nearkit.ErrInvalidVector)
			attack.Must(t, "EncodeFloat16 into a short dst", EncodeFloat16(make([]uint16, dim+4)[:3], v), nearkit.ErrDimension)
			attack.Must(t, "EncodeFloat16 of nothing", EncodeFloat16(nil, nil), nil)
		},
		"DecodeFloat16": func(t *testing.T) {
			attack.Must(t, "DecodeFloat16 into a short dst", DecodeFloat16(make([]float32, 9)[:1], make([]uint16, 4)), nearkit.ErrDimension)
			attack.Must(t, "DecodeFloat16 of nothing", DecodeFloat16(nil, nil), nil)
		},
		"Float16Bits": func(t *testing.T) {
			attack.Calls++
			for _, f := range []float32{float32(math.NaN()), float32(math.Inf(1)), 1e9, -1e9, 1e-30} {
				h := Float16Bits(f) // must not panic; NaN stays NaN
				if math.IsNaN(float64(f)) != math.IsNaN(float64(Float16Value(h))) {
					t.Errorf("Float16Bits(%v) = %#x", f, h)
				}
			}
		},
		"Float16Value": func(t *testing.T) {
			attack.Calls++
			for h := range 1 << 16 {
				Float16Value(uint16(h))
			}
		},
	}
	before := attack.Calls
	cases.Run(t, ".")
	t.Logf("%d hostile calls", attack.Calls-before)
}

func sq8Accessors(t *testing.T, trained, raw *SQ8) {
	attack.Calls++
	for _, s := range []*SQ8{trained, raw} {
		if s.Dim() != attack.Dim || !s.Metric().Valid() || s.MemoryUsage() < 0 || s.Trained() && s.MemoryUsage() == 0 {
			t.Errorf("Dim %d, Metric %v, MemoryUsage %d", s.Dim(), s.Metric(), s.MemoryUsage())
		}
	}
	if !trained.Trained() || raw.Trained() || !trained.Uniform() || raw.Uniform() {
		t.Error("Trained or Uniform wrong")
	}
}
