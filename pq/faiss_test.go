package pq

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/nearkit/nearkit/internal/kmeans"
	"github.com/nearkit/nearkit/pq/internal/pqtest"
)

// The FAISS comparisons and how to run them are described in
// internal/pqtest.

// clusteredData returns n points around k Gaussian centres in dim
// dimensions, the k-means benchmark's synthetic set.
func clusteredData(seed uint64, n, dim, k int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	centres := make([]float32, k*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64() * 4)
	}
	out := make([]float32, n*dim)
	for i := range n {
		c := rng.IntN(k)
		for j := range dim {
			out[i*dim+j] = centres[c*dim+j] + float32(rng.NormFloat64())
		}
	}
	return out
}

// TestFAISSKMeans: 1,024 centroids on 100,000×128 clustered vectors (256
// on 20,000×64 with -short), 10 iterations, FAISS then nearkit in the same
// run, with 1 and 2 threads. Training must take no longer than FAISS's and
// reach a final objective no more than 1 % above FAISS's. (Debian's FAISS
// is a generic build on reference BLAS, so the time bound has a wide
// margin: nearkit took 0.02× FAISS's time on a loaded machine.)
func TestFAISSKMeans(t *testing.T) {
	pqtest.FAISSAvailable(t)
	n, dim, k, clusters, iters := 100000, 128, 1024, 2000, 10
	if testing.Short() {
		n, dim, k, clusters = 20000, 64, 256, 500
	}
	data := clusteredData(1, n, dim, clusters)
	path := pqtest.WriteF32(t, data)
	for _, threads := range []int{1, 2} {
		f := pqtest.RunFAISS(t, threads, "kmeans", path, n, dim, k, iters, 1)
		prev := runtime.GOMAXPROCS(threads)
		start := time.Now()
		res, err := kmeans.Train(context.Background(), data, dim, kmeans.Config{K: k, Iterations: iters, Seed: 1})
		el := time.Since(start).Seconds()
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		fs := f["seconds"].(float64)
		fobj := f["objective"].([]any)
		theirs, ours := fobj[len(fobj)-1].(float64), res.Objective[len(res.Objective)-1]
		t.Logf("kmeans %d×%d k=%d iters=%d threads=%d: FAISS %.2fs (final objective %.6g), nearkit %.2fs (final objective %.6g); time ratio nearkit/FAISS = %.2f",
			n, dim, k, iters, threads, fs, theirs, el, ours, el/fs)
		if ours > 1.01*theirs {
			t.Errorf("threads=%d: final objective %.6g more than 1%% above FAISS's %.6g", threads, ours, theirs)
		}
		if el > fs {
			t.Errorf("threads=%d: training took %.2fs, FAISS %.2fs", threads, el, fs)
		}
	}
}

// TestFAISSPQ compares reconstruction MSE with faiss.ProductQuantizer at
// the same M/nbits on the same data: ours must be within 2 % of FAISS's.
func TestFAISSPQ(t *testing.T) {
	pqtest.FAISSAvailable(t)
	for _, c := range pqtest.FAISSCases(t) {
		n := len(c.Data) / c.Dim
		path := pqtest.WriteF32(t, c.Data)
		f := pqtest.RunFAISS(t, 1, "pq", path, n, c.Dim, c.M, c.NBits)
		p := trainedPQ(t, Config{Dim: c.Dim, M: c.M, NBits: c.NBits, Seed: 1}, c.Data)
		ours, _ := p.ReconstructionError(c.Data)
		theirs := f["mse"].(float64)
		t.Logf("PQ %s M=%d nbits=%d: FAISS MSE %.6g, nearkit MSE %.6g (%+.2f%%)", c.Name, c.M, c.NBits, theirs, ours, 100*(ours/theirs-1))
		if ours > theirs*1.02 {
			t.Errorf("%s M=%d nbits=%d: MSE %.6g more than 2%% above FAISS's %.6g", c.Name, c.M, c.NBits, ours, theirs)
		}
	}
}
