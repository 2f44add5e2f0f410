package scalar

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

func trainedSQ8(t *testing.T, cfg SQ8Config, data []float32) *SQ8 {
	t.Helper()
	s, err := NewSQ8(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQ8MinsSteps(t *testing.T) {
	s, _ := NewSQ8(SQ8Config{Dim: 5})
	if len(s.Mins(nil)) != 0 || len(s.Steps(nil)) != 0 {
		t.Fatal("untrained codec reports ranges")
	}
	s = trainedSQ8(t, SQ8Config{Dim: 5}, correlated(1, 300, 5))
	mins, steps := s.Mins(nil), s.Steps(nil)
	rec := make([]float32, 5)
	code := []uint8{0, 1, 2, 255, 7}
	_ = s.Decode(rec, code)
	for i := range rec {
		if want := mins[i] + steps[i]*float32(code[i]); rec[i] != want {
			t.Errorf("dim %d: Decode %v, Mins+Steps·c %v", i, rec[i], want)
		}
		if !(steps[i] > 0) {
			t.Errorf("dim %d: step %v", i, steps[i])
		}
	}
	// Appending and not aliasing.
	out := s.Mins([]float32{42})
	out[1] = 1e9
	if len(out) != 6 || out[0] != 42 || s.Mins(nil)[0] == 1e9 {
		t.Errorf("Mins appends a copy: %v", out)
	}
}

// pixels returns n 8-bit vectors whose every dimension spans 0…255, so a
// uniform codec trained on them has min 0 and step 1.
func pixels(n, dim int) []float32 {
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = float32((i*37 + i/dim*11) % 256)
	}
	for j := range dim {
		data[j], data[dim+j] = 0, 255
	}
	return data
}

func TestSQ8Lossless(t *testing.T) {
	const dim = 16
	data := pixels(100, dim)
	s := trainedSQ8(t, SQ8Config{Dim: dim, Uniform: true}, data)
	code := make([]uint8, dim)
	for i := range 100 {
		v := data[i*dim : (i+1)*dim]
		_ = s.Encode(code, v)
		if ok, err := s.Lossless(code, v); !ok || err != nil {
			t.Fatalf("pixel vector %d: Lossless %v, %v", i, ok, err)
		}
	}
	v := append([]float32(nil), data[:dim]...)
	v[3] = 7.5
	_ = s.Encode(code, v)
	if s.LosslessUnchecked(code, v) {
		t.Error("7.5 under step 1 reported lossless")
	}
	if _, err := s.Lossless(code[:dim-1], v); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short code: %v", err)
	}
	u, _ := NewSQ8(SQ8Config{Dim: dim})
	if _, err := u.Lossless(code, v); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("untrained: %v", err)
	}
}

func TestSQ8PrepareL2(t *testing.T) {
	const dim = 33
	data := correlated(7, 400, dim)
	s := trainedSQ8(t, SQ8Config{Dim: dim, Uniform: true}, data)
	var q L2Query
	code, qcode := make([]uint8, dim), make([]uint8, dim)
	for i := range 50 {
		v := data[i*dim : (i+1)*dim]
		if err := s.PrepareL2(&q, v); err != nil {
			t.Fatal(err)
		}
		// The fast encoder agrees with Encode up to one step at a tie.
		_ = s.Encode(qcode, v)
		for j := range dim {
			if d := int(q.code[j]) - int(qcode[j]); d < -1 || d > 1 {
				t.Fatalf("vector %d dim %d: fast code %d, Encode %d", i, j, q.code[j], qcode[j])
			}
		}
		if q.Lossless() {
			t.Fatalf("vector %d: a correlated Gaussian vector is not 8-bit", i)
		}
		_ = s.Encode(code, data[(i+1)*dim:(i+2)*dim])
		want := s.DistanceCodesUnchecked(q.code, code)
		if got := q.Scale() * float32(q.IntDistanceUnchecked(code)); got != want {
			t.Fatalf("vector %d: Scale·IntDistance %v, DistanceCodes %v", i, got, want)
		}
	}
	px := pixels(10, dim)
	p := trainedSQ8(t, SQ8Config{Dim: dim, Uniform: true}, px)
	_ = p.PrepareL2(&q, px[2*dim:3*dim])
	if !q.Lossless() || q.Scale() != 1 {
		t.Errorf("pixel query: lossless %v, scale %v", q.Lossless(), q.Scale())
	}
	for _, cfg := range []SQ8Config{{Dim: dim}, {Dim: dim, Uniform: true, Metric: distance.InnerProduct}} {
		c := trainedSQ8(t, cfg, data)
		if err := c.PrepareL2(&q, data[:dim]); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if err := s.PrepareL2(&q, data[:dim-1]); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short query: %v", err)
	}
}

func TestSQ8PrepareDot(t *testing.T) {
	const dim = 40
	for _, metric := range []distance.Metric{distance.InnerProduct, distance.Cosine} {
		data := correlated(9, 300, dim)
		if metric == distance.Cosine {
			for i := 0; i < len(data); i += dim {
				distance.Normalize(data[i : i+dim])
			}
		}
		s := trainedSQ8(t, SQ8Config{Dim: dim, Metric: metric}, data)
		var q DotQuery
		code, rec := make([]uint8, dim), make([]float32, dim)
		for i := range 30 {
			qv := data[i*dim : (i+1)*dim]
			if err := s.PrepareDot(&q, qv); err != nil {
				t.Fatal(err)
			}
			_ = s.Encode(code, data[(i+1)*dim:(i+2)*dim])
			_ = s.Decode(rec, code)
			want := -exactDot(qv, rec)
			if metric == distance.Cosine {
				want += 1
			}
			// Each weight is rounded by at most scale/2.
			bound := 0.0
			for _, c := range code {
				bound += float64(c)
			}
			bound = bound*float64(q.scale)/2 + 1e-4*(1+math.Abs(want))
			if got := q.DistanceUnchecked(code); math.Abs(float64(got)-want) > bound {
				t.Fatalf("%v vector %d: %v, want %v ± %v", metric, i, got, want, bound)
			}
		}
	}
	l2 := trainedSQ8(t, SQ8Config{Dim: dim}, correlated(9, 50, dim))
	var q DotQuery
	if err := l2.PrepareDot(&q, make([]float32, dim)); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("L2 codec: %v", err)
	}
}

func TestSQ8CheckedErrors(t *testing.T) {
	s := trainedSQ8(t, SQ8Config{Dim: 4}, correlated(3, 20, 4))
	var q SQ8Query
	if _, err := s.Distance(&q, make([]uint8, 4)); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("unprepared query: %v", err)
	}
	_ = s.PrepareQuery(&q, make([]float32, 4))
	if _, err := s.Distance(&q, make([]uint8, 3)); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short code: %v", err)
	}
	other := trainedSQ8(t, SQ8Config{Dim: 3}, correlated(3, 20, 3))
	if _, err := other.Distance(&q, make([]uint8, 4)); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("query of another dimension: %v", err)
	}
	if _, err := s.DistanceCodes(make([]uint8, 4), make([]uint8, 2)); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short code pair: %v", err)
	}
	u, _ := NewSQ8(SQ8Config{Dim: 4})
	if _, err := u.DistanceCodes(make([]uint8, 4), make([]uint8, 4)); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("untrained: %v", err)
	}
}
