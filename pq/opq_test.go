package pq

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/nearkit/nearkit"
)

func TestOPQBeatsPQOnCorrelatedData(t *testing.T) {
	const dim, m = 32, 8
	n := 4000
	if testing.Short() {
		n = 2000
	}
	data := correlated(21, n, dim)
	pcfg := Config{Dim: dim, M: m, NBits: 6, Seed: 1, Iterations: 10}
	p := trainedPQ(t, pcfg, data)
	o, err := NewOPQ(OPQConfig{PQ: pcfg, Iterations: 6, FirstPQIterations: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	pm, _ := p.ReconstructionError(data)
	om, _ := o.ReconstructionError(data)
	t.Logf("synthetic correlated %d×%d, M=%d nbits=6: PQ MSE %.5g, OPQ MSE %.5g (%.1f%% lower)", n, dim, m, pm, om, 100*(1-om/pm))
	if om >= pm*0.97 {
		t.Errorf("OPQ MSE %v not clearly below PQ MSE %v", om, pm)
	}
	// The rotation is orthogonal.
	r := o.Rotation()
	for i := range dim {
		for j := range dim {
			dot := 0.0
			for k := range dim {
				dot += float64(r[i*dim+k]) * float64(r[j*dim+k])
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(dot-want) > 1e-4 {
				t.Fatalf("R·Rᵀ[%d][%d] = %v", i, j, dot)
			}
		}
	}
	// ADC through the rotation equals the distance to the decoded vector.
	code := make([]byte, o.CodeSize())
	rec := make([]float32, dim)
	q := data[:dim]
	table, err := o.LookupTable(nil, q)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 50; i++ {
		if err := o.Encode(code, data[i*dim:(i+1)*dim]); err != nil {
			t.Fatal(err)
		}
		if err := o.Decode(rec, code); err != nil {
			t.Fatal(err)
		}
		want := exactSquaredL2(q, rec)
		if got := float64(o.PQ().Distance(table, code)); math.Abs(got-want) > 1e-3*(1+want) {
			t.Fatalf("row %d: ADC %v, want %v", i, got, want)
		}
	}
	// Serialization round trip.
	var buf bytes.Buffer
	if _, err := o.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	o2, err := ReadOPQ(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	om2, _ := o2.ReconstructionError(data)
	if om2 != om {
		t.Errorf("MSE after round trip %v, before %v", om2, om)
	}
	checkCorruption(t, buf.Bytes(), func(b *bytes.Reader) error { _, err := ReadOPQ(b); return err })
}

func TestOPQErrors(t *testing.T) {
	if _, err := NewOPQ(OPQConfig{PQ: Config{Dim: 10, M: 3}}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("dim %% M: %v", err)
	}
	if _, err := NewOPQ(OPQConfig{PQ: Config{Dim: 8, M: 2}, Iterations: -1}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("negative iterations: %v", err)
	}
	o, _ := NewOPQ(OPQConfig{PQ: Config{Dim: 8, M: 2, NBits: 4}, Iterations: 2})
	if err := o.Encode(make([]byte, 1), make([]float32, 8)); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("untrained: %v", err)
	}
	if err := o.Train(context.Background(), uniformData(1, 10, 8)); !errors.Is(err, nearkit.ErrEmpty) {
		t.Errorf("few points: %v", err)
	}
	d := uniformData(1, 100, 8)
	d[5] = float32(math.NaN())
	if err := o.Train(context.Background(), d); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("NaN: %v", err)
	}
	// Untrained round trip.
	var buf bytes.Buffer
	_, _ = o.WriteTo(&buf)
	if o2, err := ReadOPQ(&buf); err != nil || o2.Trained() {
		t.Errorf("untrained round trip: %v", err)
	}
}

func FuzzReadOPQ(f *testing.F) {
	o, _ := NewOPQ(OPQConfig{PQ: Config{Dim: 4, M: 2, NBits: 4, Iterations: 2}, Iterations: 1, FirstPQIterations: 2})
	_ = o.Train(context.Background(), uniformData(2, 64, 4))
	var buf bytes.Buffer
	_, _ = o.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ReadOPQ(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, nearkit.ErrIncompatible) {
				t.Fatal(err)
			}
			return
		}
		if o.Trained() {
			if err := o.Encode(make([]byte, o.CodeSize()), make([]float32, o.Dim())); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestOPQFashionMNIST compares PQ and OPQ reconstruction error on
// Fashion-MNIST (784-d, M=16 × 8 bits = 16-byte codes). It takes about a
// minute, so it runs only with NEARKIT_PQ_LONG=1; with -short (as in CI)
// it trains on 5,000 vectors with 5 alternations.
func TestOPQFashionMNIST(t *testing.T) {
	if os.Getenv("NEARKIT_PQ_LONG") == "" {
		t.Skip("set NEARKIT_PQ_LONG=1 to run")
	}
	n, iters, maxTrain := 20000, 10, 10000
	if testing.Short() {
		n, iters, maxTrain = 5000, 5, 5000
	}
	data := fashionMNIST(t, n)
	cfg := Config{Dim: 784, M: 16, NBits: 8, Seed: 1}
	p := trainedPQ(t, cfg, data)
	o, _ := NewOPQ(OPQConfig{PQ: cfg, Iterations: iters, MaxTrainPoints: maxTrain})
	if err := o.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	pm, _ := p.ReconstructionError(data)
	om, _ := o.ReconstructionError(data)
	t.Logf("fashion-mnist %d×784, M=16 nbits=8: PQ MSE %.6g, OPQ MSE %.6g (%.1f%% lower)", n, pm, om, 100*(1-om/pm))
	if om >= pm {
		t.Errorf("OPQ MSE %v not below PQ MSE %v", om, pm)
	}
}
