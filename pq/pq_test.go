package pq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/pq/internal/pqtest"
)

func trainedPQ(t testing.TB, cfg Config, data []float32) *ProductQuantizer {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrors(t *testing.T) {
	bad := []Config{
		{Dim: 0, M: 1},
		{Dim: 10, M: 3},
		{Dim: 8, M: 0},
		{Dim: 8, M: 16},
		{Dim: 8, M: 2, NBits: 3},
		{Dim: 8, M: 2, NBits: 9},
		{Dim: 8, M: 2, Metric: 7},
		{Dim: 8, M: 2, Iterations: -1},
	}
	for _, c := range bad {
		if _, err := New(c); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Errorf("%+v: err=%v, want ErrInvalidConfig", c, err)
		}
	}
}

func TestTrainErrors(t *testing.T) {
	ctx := context.Background()
	p, _ := New(Config{Dim: 8, M: 2, NBits: 4})
	if err := p.Encode(make([]byte, 1), make([]float32, 8)); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("encode before train: %v", err)
	}
	if _, err := p.LookupTable(nil, make([]float32, 8)); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("table before train: %v", err)
	}
	if err := p.Train(ctx, pqtest.Uniform(1, 15, 8)); !errors.Is(err, nearkit.ErrEmpty) {
		t.Errorf("15 points for 16 centroids: %v", err)
	}
	data := pqtest.Uniform(1, 100, 8)
	data[13] = float32(math.NaN())
	if err := p.Train(ctx, data); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("NaN: %v", err)
	}
	if err := p.Train(ctx, data[:15]); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("ragged: %v", err)
	}
	data[13] = 0
	if err := p.Train(ctx, data); err != nil {
		t.Fatal(err)
	}
	if err := p.Encode(make([]byte, 1), make([]float32, 7)); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short vector: %v", err)
	}
	if err := p.Encode(make([]byte, 0), make([]float32, 8)); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short code buffer: %v", err)
	}
	if _, err := p.LookupTable(nil, []float32{0, 0, 0, 0, 0, 0, 0, float32(math.Inf(1))}); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("Inf query: %v", err)
	}
}

// TestEncodeNearest checks encode against a brute-force nearest centroid
// per subspace, decode against the codebooks, and ADC/SDC against exact
// distances of the reconstructions, for every nbits and metric.
func TestEncodeDecodeDistances(t *testing.T) {
	const dim, m = 12, 4
	data := pqtest.Correlated(2, 600, dim)
	for nbits := 4; nbits <= 8; nbits++ {
		for _, metric := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
			t.Run(fmt.Sprintf("nbits=%d/metric=%v", nbits, metric), func(t *testing.T) {
				p := trainedPQ(t, Config{Dim: dim, M: m, NBits: nbits, Metric: metric, Iterations: 5, Seed: 3}, data)
				if want := (m*nbits + 7) / 8; p.CodeSize() != want {
					t.Fatalf("CodeSize %d, want %d", p.CodeSize(), want)
				}
				cents := p.Centroids()
				ksub, dsub := 1<<nbits, dim/m
				n := 50
				codes := make([]byte, n*p.CodeSize())
				if err := p.EncodeBatch(context.Background(), codes, data[:n*dim]); err != nil {
					t.Fatal(err)
				}
				rec := make([]float32, n*dim)
				for i := range n {
					v := data[i*dim : (i+1)*dim]
					code := codes[i*p.CodeSize() : (i+1)*p.CodeSize()]
					single := make([]byte, p.CodeSize())
					if err := p.Encode(single, v); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(single, code) {
						t.Fatalf("Encode and EncodeBatch differ for vector %d", i)
					}
					if err := p.Decode(rec[i*dim:(i+1)*dim], code); err != nil {
						t.Fatal(err)
					}
					for s := range m {
						sub := v[s*dsub : (s+1)*dsub]
						got := pqtest.SquaredL2(sub, rec[i*dim+s*dsub:i*dim+(s+1)*dsub])
						for c := range ksub {
							d := pqtest.SquaredL2(sub, cents[(s*ksub+c)*dsub:(s*ksub+c+1)*dsub])
							if d < got-1e-4*(1+got) {
								t.Fatalf("vector %d subspace %d: decoded centroid at %v, centroid %d at %v", i, s, got, c, d)
							}
						}
					}
				}
				q := data[len(data)-dim:]
				table, err := p.LookupTable(nil, q)
				if err != nil {
					t.Fatal(err)
				}
				out := make([]float32, n)
				p.Distances(table, codes, out)
				ref := func(a, b []float32) float64 {
					switch metric {
					case distance.L2:
						return pqtest.SquaredL2(a, b)
					case distance.InnerProduct:
						return -exactDot(a, b)
					}
					return 1 - exactDot(a, b)
				}
				for i := range n {
					x := rec[i*dim : (i+1)*dim]
					want := ref(q, x)
					code := codes[i*p.CodeSize() : (i+1)*p.CodeSize()]
					tol := 1e-4 * (1 + math.Abs(want) + pqtest.SquaredL2(q, make([]float32, dim)))
					if got := float64(p.Distance(table, code)); math.Abs(got-want) > tol {
						t.Fatalf("ADC %d: %v, want %v", i, got, want)
					}
					if math.Abs(float64(out[i])-want) > tol {
						t.Fatalf("Distances %d: %v, want %v", i, out[i], want)
					}
					y := rec[0:dim]
					wantS := ref(y, x)
					if got, err := p.SymmetricDistance(codes[:p.CodeSize()], code); err != nil || math.Abs(float64(got)-wantS) > tol {
						t.Fatalf("SDC 0-%d: %v, want %v", i, got, wantS)
					}
				}
			})
		}
	}
}

func TestMSEDecreasesWithBits(t *testing.T) {
	data := pqtest.Correlated(3, 3000, 16)
	prev := math.Inf(1)
	for _, nbits := range []int{4, 6, 8} {
		p := trainedPQ(t, Config{Dim: 16, M: 4, NBits: nbits, Iterations: 10, Seed: 1}, data)
		mse, err := p.ReconstructionError(data)
		if err != nil {
			t.Fatal(err)
		}
		if mse >= prev {
			t.Errorf("nbits=%d: MSE %v not below %v", nbits, mse, prev)
		}
		prev = mse
	}
	// Sanity: the MSE is far below the data's variance.
	mean := make([]float64, 16)
	for i, v := range data {
		mean[i%16] += float64(v) / 3000
	}
	variance := 0.0
	for i, v := range data {
		d := float64(v) - mean[i%16]
		variance += d * d / 3000
	}
	if prev > variance/4 {
		t.Errorf("8-bit MSE %v vs total variance %v", prev, variance)
	}
}

func TestBitPacking(t *testing.T) {
	for nb := 1; nb <= 8; nb++ {
		vals := make([]uint32, 37)
		for i := range vals {
			vals[i] = uint32(i*7+nb) & (1<<nb - 1)
		}
		buf := make([]byte, (len(vals)*nb+7)/8+1)
		buf[len(buf)-1] = 0xff
		var w bitWriter
		w.reset(buf[:len(buf)-1])
		for _, v := range vals {
			w.put(v, nb)
		}
		w.flush()
		if buf[len(buf)-1] != 0xff {
			t.Fatalf("nb=%d: wrote past the end", nb)
		}
		var r bitReader
		r.reset(buf)
		for i, v := range vals {
			if got := r.get(nb); got != v {
				t.Fatalf("nb=%d value %d: %d, want %d", nb, i, got, v)
			}
		}
	}
	// FAISS order: 4-bit subquantizer 0 in the low nibble.
	b := make([]byte, 1)
	var w bitWriter
	w.reset(b)
	w.put(0x3, 4)
	w.put(0xa, 4)
	w.flush()
	if b[0] != 0xa3 {
		t.Errorf("nibble order: %#x", b[0])
	}
}

func TestSerialization(t *testing.T) {
	data := pqtest.Correlated(4, 1000, 16)
	for _, nbits := range []int{4, 8} {
		p := trainedPQ(t, Config{Dim: 16, M: 8, NBits: nbits, Metric: distance.InnerProduct, Iterations: 4, Seed: 9}, data)
		var buf bytes.Buffer
		n, err := p.WriteTo(&buf)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("WriteTo: %d, %v (len %d)", n, err, buf.Len())
		}
		q, err := Read(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if q.Dim() != 16 || q.M() != 8 || q.NBits() != nbits || q.Metric() != distance.InnerProduct || !q.Trained() {
			t.Fatalf("header mismatch: %+v", q.cfg)
		}
		a, b := make([]byte, p.CodeSize()*100), make([]byte, p.CodeSize()*100)
		_ = p.EncodeBatch(context.Background(), a, data[:1600])
		_ = q.EncodeBatch(context.Background(), b, data[:1600])
		if !bytes.Equal(a, b) {
			t.Fatal("codes differ after round trip")
		}
		// Deterministic bytes.
		var buf2 bytes.Buffer
		_, _ = q.WriteTo(&buf2)
		if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
			t.Fatal("re-serialisation differs")
		}
		pqtest.CheckCorruption(t, buf.Bytes(), func(r *bytes.Reader) error { _, err := Read(r); return err })
	}
	// An untrained quantizer round-trips too.
	p, _ := New(Config{Dim: 4, M: 2})
	var buf bytes.Buffer
	_, _ = p.WriteTo(&buf)
	q, err := Read(&buf)
	if err != nil || q.Trained() || q.NBits() != 8 {
		t.Fatalf("untrained round trip: %v %+v", err, q)
	}
}

// checkCorruption flips bytes and truncates a valid stream; every variant
// must fail with ErrCorrupt or ErrIncompatible, never panic.
func FuzzRead(f *testing.F) {
	data := pqtest.Uniform(5, 300, 8)
	for _, nbits := range []int{4, 8} {
		p := trainedPQ(f, Config{Dim: 8, M: 4, NBits: nbits, Iterations: 2}, data)
		var buf bytes.Buffer
		_, _ = p.WriteTo(&buf)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Read(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, nearkit.ErrIncompatible) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if p.Trained() {
			code := make([]byte, p.CodeSize())
			if err := p.Encode(code, make([]float32, p.Dim())); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func Example() {
	// 1,000 random 8-d vectors compressed to 2 bytes each (M=2, 8 bits).
	data := pqtest.Uniform(1, 1000, 8)
	p, err := New(Config{Dim: 8, M: 2, Seed: 1})
	if err != nil {
		panic(err)
	}
	if err := p.Train(context.Background(), data); err != nil {
		panic(err)
	}
	codes := make([]byte, 1000*p.CodeSize())
	if err := p.EncodeBatch(context.Background(), codes, data); err != nil {
		panic(err)
	}
	// Asymmetric distances from a query to every code.
	table, err := p.LookupTable(nil, data[:8])
	if err != nil {
		panic(err)
	}
	dists := make([]float32, 1000)
	p.Distances(table, codes, dists)
	best := 0
	for i, d := range dists {
		if d < dists[best] {
			best = i
		}
	}
	fmt.Println("code size:", p.CodeSize(), "bytes; nearest code to vector 0:", best)
	// Output: code size: 2 bytes; nearest code to vector 0: 0
}
