package dataset

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

func TestSyntheticDeterministic(t *testing.T) {
	cfg := SyntheticConfig{N: 300, Queries: 20, Dim: 16, Seed: 7}
	b1, q1, err := Synthetic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(b1) != 300*16 || len(q1) != 20*16 {
		t.Fatalf("shapes %d, %d", len(b1), len(q1))
	}
	b2, q2, _ := Synthetic(cfg)
	if !slices.Equal(b1, b2) || !slices.Equal(q1, q2) {
		t.Fatal("same seed, different data")
	}
	cfg.Seed = 8
	b3, _, _ := Synthetic(cfg)
	if slices.Equal(b1, b3) {
		t.Fatal("different seeds, same data")
	}
	// More queries extend the query set without changing its prefix or
	// the base: the ground-truth cache relies on it.
	cfg.Seed, cfg.Queries = 7, 40
	b4, q4, _ := Synthetic(cfg)
	if !slices.Equal(b1, b4) || !slices.Equal(q1, q4[:len(q1)]) {
		t.Fatal("query count changed the base or the query prefix")
	}
}

func TestSyntheticInvalid(t *testing.T) {
	for _, c := range []SyntheticConfig{
		{Dim: -1}, {Dim: 8, Intrinsic: 9}, {Clusters: -2}, {Noise: math.NaN()}, {N: -5},
	} {
		if _, _, err := Synthetic(c); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// relativeContrast is MeasureShape's contrast of the first m points
// against all (each finds itself at distance zero and counts it out).
func relativeContrast(data []float32, dim, m int) float64 {
	return MeasureShape(data, data, dim, distance.L2, m, 10).RelativeContrast
}

func TestSyntheticIsStructured(t *testing.T) {
	base, _, err := Synthetic(SyntheticConfig{N: 2000, Queries: 1, Dim: 128, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rc := relativeContrast(base, 128, 50)
	// Isotropic Gaussian noise of the same size has a contrast of about
	// 1.2; real embeddings (SIFT, GloVe, Fashion-MNIST) are around 1.5-3.
	noise, _, _ := Synthetic(SyntheticConfig{N: 2000, Queries: 1, Dim: 128, Intrinsic: 128, Clusters: 1, Seed: 1})
	rcNoise := relativeContrast(noise, 128, 50)
	t.Logf("relative contrast: synthetic %.2f, one isotropic-ish cluster %.2f", rc, rcNoise)
	if rc < 1.8 || rc > 4 || rc < rcNoise+0.3 {
		t.Errorf("relative contrast %.2f (noise %.2f): not embedding-like", rc, rcNoise)
	}
}
