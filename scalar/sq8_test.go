package scalar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

func TestSQ8EncodeDecode(t *testing.T) {
	data := correlated(1, 2000, 24)
	for _, uniform := range []bool{false, true} {
		s, err := NewSQ8(SQ8Config{Dim: 24, Uniform: uniform})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Train(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		code := make([]uint8, 24)
		rec := make([]float32, 24)
		for i := range 200 {
			v := data[i*24 : (i+1)*24]
			if err := s.Encode(code, v); err != nil {
				t.Fatal(err)
			}
			if err := s.Decode(rec, code); err != nil {
				t.Fatal(err)
			}
			for j := range v {
				// Training data lies inside the range: error ≤ step/2.
				if e := math.Abs(float64(v[j] - rec[j])); e > float64(s.step[j])*0.5001 {
					t.Fatalf("uniform=%v vector %d dim %d: error %v, step %v", uniform, i, j, e, s.step[j])
				}
			}
		}
		mse, err := s.ReconstructionError(data)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("uniform=%v: SQ8 reconstruction MSE %.5g", uniform, mse)
	}
	// Out-of-range values saturate.
	s, _ := NewSQ8(SQ8Config{Dim: 2})
	_ = s.Train(context.Background(), []float32{0, 0, 1, 2})
	code := make([]uint8, 2)
	_ = s.Encode(code, []float32{-5, 7})
	if code[0] != 0 || code[1] != 255 {
		t.Errorf("saturation: %v", code)
	}
}

func TestSQ8Quantile(t *testing.T) {
	data := uniformData(2, 5000, 4)
	data[0] = 1000 // one outlier stretches min/max
	a, _ := NewSQ8(SQ8Config{Dim: 4})
	b, _ := NewSQ8(SQ8Config{Dim: 4, Quantile: 0.001})
	_ = a.Train(context.Background(), data)
	_ = b.Train(context.Background(), data)
	ma, _ := a.ReconstructionError(data[4:])
	mb, _ := b.ReconstructionError(data[4:])
	if mb >= ma/10 {
		t.Errorf("quantile clipping MSE %v, min/max %v", mb, ma)
	}
}

// TestSQ8Distances checks every metric and mode against the float64
// distance to the decoded vector (the asymmetric paths) or between the
// decoded query and vector (the uniform L2 path, which encodes the query).
func TestSQ8Distances(t *testing.T) {
	const dim = 37
	data := correlated(3, 500, dim)
	for _, metric := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		for _, uniform := range []bool{false, true} {
			s, _ := NewSQ8(SQ8Config{Dim: dim, Metric: metric, Uniform: uniform})
			if err := s.Train(context.Background(), data); err != nil {
				t.Fatal(err)
			}
			var q SQ8Query
			qv := data[:dim]
			if err := s.PrepareQuery(&q, qv); err != nil {
				t.Fatal(err)
			}
			qcode := make([]uint8, dim)
			_ = s.Encode(qcode, qv)
			qrec := make([]float32, dim)
			_ = s.Decode(qrec, qcode)
			code := make([]uint8, dim)
			rec := make([]float32, dim)
			for i := 1; i < 100; i++ {
				_ = s.Encode(code, data[i*dim:(i+1)*dim])
				_ = s.Decode(rec, code)
				var want, wantCodes float64
				switch metric {
				case distance.L2:
					want = exactSquaredL2(qv, rec)
					if uniform {
						want = exactSquaredL2(qrec, rec)
					}
					wantCodes = exactSquaredL2(qrec, rec)
				case distance.InnerProduct:
					want, wantCodes = -exactDot(qv, rec), -exactDot(qrec, rec)
				default:
					want, wantCodes = 1-exactDot(qv, rec), 1-exactDot(qrec, rec)
				}
				scale := 1 + exactSquaredL2(qv, make([]float32, dim)) + exactSquaredL2(rec, make([]float32, dim))
				if got, err := s.Distance(&q, code); err != nil || math.Abs(float64(got)-want) > 1e-5*scale {
					t.Fatalf("%v uniform=%v row %d: Distance %v, want %v", metric, uniform, i, got, want)
				}
				if got, err := s.DistanceCodes(qcode, code); err != nil || math.Abs(float64(got)-wantCodes) > 1e-5*scale {
					t.Fatalf("%v uniform=%v row %d: DistanceCodes %v, want %v", metric, uniform, i, got, wantCodes)
				}
			}
		}
	}
}

// TestSQ8Recall measures recall@10 of SQ8 L2 distances against exact
// search for the two L2 paths (uniform step with the integer kernel and an
// encoded query, vs per-dimension steps in float with an exact query) on
// Fashion-MNIST (when present) and on synthetic correlated data whose
// dimensions have ranges differing by up to 100×, where a uniform step
// wastes resolution.
func TestSQ8Recall(t *testing.T) {
	const nq, k = 50, 10
	n := 5000
	if testing.Short() {
		n = 1000
	}
	type dataset struct {
		name string
		data []float32
		dim  int
	}
	sets := []dataset{}
	var fm []float32
	if t.Run("load", func(t *testing.T) { fm = fashionMNIST(t, n+nq) }) && fm != nil {
		sets = append(sets, dataset{"fashion-mnist", fm, 784})
	}
	aniso := correlated(11, n+nq, 64)
	for i := range aniso {
		aniso[i] *= float32(math.Pow(10, float64(i%64)/32-1)) // 0.1× … 10×
	}
	sets = append(sets, dataset{"synthetic-anisotropic", aniso, 64})
	for _, ds := range sets {
		dim := ds.dim
		base, queries := ds.data[:n*dim], ds.data[n*dim:]
		truth := make([][]int, nq)
		for qi := range nq {
			q := queries[qi*dim : (qi+1)*dim]
			truth[qi] = topK(n, k, func(i int) float64 { return exactSquaredL2(q, base[i*dim:(i+1)*dim]) })
		}
		for _, uniform := range []bool{true, false} {
			s, _ := NewSQ8(SQ8Config{Dim: dim, Uniform: uniform})
			if err := s.Train(context.Background(), base); err != nil {
				t.Fatal(err)
			}
			codes := make([]uint8, n*dim)
			for i := range n {
				_ = s.Encode(codes[i*dim:(i+1)*dim], base[i*dim:(i+1)*dim])
			}
			var prep SQ8Query
			hits := 0
			for qi := range nq {
				_ = s.PrepareQuery(&prep, queries[qi*dim:(qi+1)*dim])
				got := topK(n, k, func(i int) float64 { return float64(s.DistanceUnchecked(&prep, codes[i*dim:(i+1)*dim])) })
				for _, g := range got {
					if slices.Contains(truth[qi], g) {
						hits++
					}
				}
			}
			recall := float64(hits) / float64(nq*k)
			t.Logf("%s: SQ8 uniform=%v recall@10 = %.3f", ds.name, uniform, recall)
			if recall < 0.85 {
				t.Errorf("%s uniform=%v: recall@10 %.3f < 0.85", ds.name, uniform, recall)
			}
		}
	}
}

func TestSQ8Errors(t *testing.T) {
	for _, c := range []SQ8Config{{Dim: 0}, {Dim: 4, Metric: 9}, {Dim: 4, Quantile: 0.5}, {Dim: 4, Quantile: math.NaN()}} {
		if _, err := NewSQ8(c); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	s, _ := NewSQ8(SQ8Config{Dim: 4})
	if err := s.Encode(make([]uint8, 4), make([]float32, 4)); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("untrained: %v", err)
	}
	if err := s.Train(context.Background(), nil); !errors.Is(err, nearkit.ErrEmpty) {
		t.Errorf("no data: %v", err)
	}
	if err := s.Train(context.Background(), []float32{1, 2, float32(math.NaN()), 4}); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("NaN: %v", err)
	}
	_ = s.Train(context.Background(), []float32{1, 2, 3, 4})
	var q SQ8Query
	if err := s.PrepareQuery(&q, []float32{1, 2, 3}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short query: %v", err)
	}
	// A constant training set still encodes and decodes finitely.
	code := make([]uint8, 4)
	rec := make([]float32, 4)
	_ = s.Encode(code, []float32{1, 2, 3, 4})
	_ = s.Decode(rec, code)
	if !slices.Equal(rec, []float32{1, 2, 3, 4}) {
		t.Errorf("constant data: decoded %v", rec)
	}
}

func TestSQ8Serialization(t *testing.T) {
	data := correlated(5, 300, 16)
	for _, uniform := range []bool{false, true} {
		s, _ := NewSQ8(SQ8Config{Dim: 16, Metric: distance.InnerProduct, Uniform: uniform, Quantile: 0.01})
		_ = s.Train(context.Background(), data)
		var buf bytes.Buffer
		if _, err := s.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		r, err := ReadSQ8(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if r.cfg != s.cfg || !slices.Equal(r.vmin, s.vmin) || !slices.Equal(r.step, s.step) || !slices.Equal(r.inv, s.inv) {
			t.Fatal("round trip differs")
		}
		checkCorruption(t, buf.Bytes(), func(b *bytes.Reader) error { _, err := ReadSQ8(b); return err })
	}
}

func FuzzReadSQ8(f *testing.F) {
	s, _ := NewSQ8(SQ8Config{Dim: 3})
	_ = s.Train(context.Background(), []float32{1, 2, 3, 4, 5, 7})
	var buf bytes.Buffer
	_, _ = s.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadSQ8(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, nearkit.ErrIncompatible) {
				t.Fatal(err)
			}
			return
		}
		if s.Trained() {
			code := make([]uint8, s.Dim())
			if err := s.Encode(code, make([]float32, s.Dim())); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func ExampleSQ8() {
	s, _ := NewSQ8(SQ8Config{Dim: 2, Uniform: true})
	_ = s.Train(context.Background(), []float32{0, 0, 255, 255})
	a, b := make([]uint8, 2), make([]uint8, 2)
	_ = s.Encode(a, []float32{10, 20})
	_ = s.Encode(b, []float32{13, 24})
	var q SQ8Query
	_ = s.PrepareQuery(&q, []float32{10, 20})
	d, _ := s.Distance(&q, b)
	fmt.Println(a, b, d)
	// Output: [10 20] [13 24] 25
}
