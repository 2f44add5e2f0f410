package pq

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/pq/internal/pqtest"
)

func TestRetrain(t *testing.T) {
	const dim = 16
	data := pqtest.Correlated(61, 2000, dim)
	cfg := Config{Dim: dim, M: 4, NBits: 4, Seed: 2, Iterations: 3}
	ctx := context.Background()
	u, _ := New(cfg)
	if got := u.Config(); got.Iterations != 3 || got.MaxPointsPerCentroid != 256 || got.NBits != 4 {
		t.Fatalf("Config %+v", got)
	}
	// From an untrained quantizer, Retrain with Config.Iterations is Train.
	cold, err := u.Retrain(ctx, data, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := trainedPQ(t, cfg, data)
	if !slices.Equal(cold.Centroids(), p.Centroids()) || u.Trained() {
		t.Fatal("Retrain of an untrained quantizer differs from Train, or trained it in place")
	}
	// From a trained one it continues k-means, which never raises the
	// objective (every point is in the sample here), and leaves p alone.
	before := p.Centroids()
	warm, err := p.Retrain(ctx, data, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Centroids(), before) {
		t.Fatal("Retrain modified its receiver")
	}
	if warm.Config() != p.Config() {
		t.Fatalf("retrained config %+v, want %+v", warm.Config(), p.Config())
	}
	pm, _ := p.ReconstructionError(data)
	wm, _ := warm.ReconstructionError(data)
	t.Logf("MSE after 3 iterations %.6g, after 10 more from there %.6g", pm, wm)
	if wm > pm*(1+1e-6) || slices.Equal(warm.Centroids(), before) {
		t.Errorf("hot start: MSE %v after, %v before (centroids moved: %v)", wm, pm, !slices.Equal(warm.Centroids(), before))
	}
	if _, err := p.Retrain(ctx, data, -1); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("negative iterations: %v", err)
	}
	bad := slices.Clone(data)
	bad[7] = float32(math.Inf(1))
	if _, err := p.Retrain(ctx, bad, 1); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("Inf: %v", err)
	}
	if _, err := p.Retrain(ctx, data[:dim*10], 1); !errors.Is(err, nearkit.ErrEmpty) {
		t.Errorf("too few vectors: %v", err)
	}
}

func TestFromCentroids(t *testing.T) {
	const dim = 16
	data := pqtest.Uniform(62, 600, dim)
	p := trainedPQ(t, Config{Dim: dim, M: 4, NBits: 4, Seed: 1, Iterations: 4}, data)
	cent := p.Centroids()
	q, err := FromCentroids(p.Config(), cent)
	if err != nil {
		t.Fatal(err)
	}
	clear(cent) // FromCentroids copied them
	a, b := make([]byte, len(data)/dim*p.CodeSize()), make([]byte, len(data)/dim*p.CodeSize())
	if err := p.EncodeBatch(context.Background(), a, data); err != nil {
		t.Fatal(err)
	}
	if err := q.EncodeBatch(context.Background(), b, data); err != nil {
		t.Fatal(err)
	}
	if !q.Trained() || !bytes.Equal(a, b) || q.Config() != p.Config() {
		t.Fatal("quantizer from p's codebooks encodes differently")
	}
	cent = p.Centroids()
	if _, err := FromCentroids(p.Config(), cent[:len(cent)-1]); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short codebooks: %v", err)
	}
	cent[3] = float32(math.NaN())
	if _, err := FromCentroids(p.Config(), cent); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("NaN centroid: %v", err)
	}
	if _, err := FromCentroids(Config{Dim: dim, M: 3}, p.Centroids()); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("bad config: %v", err)
	}
	if _, err := FromCentroids(Config{Dim: dim, M: 4, NBits: 4}, nil); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("nil codebooks: %v", err)
	}
}
