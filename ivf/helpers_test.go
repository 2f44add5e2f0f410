package ivf

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
)

// clustered returns n vectors of dim around nc random centres.
func clustered(n, dim, nc int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([]float32, nc*dim)
	for i := range centres {
		centres[i] = rng.Float32()*10 - 5
	}
	out := make([]float32, n*dim)
	for i := range n {
		c := centres[rng.IntN(nc)*dim:]
		for j := range dim {
			out[i*dim+j] = c[j] + float32(rng.NormFloat64())
		}
	}
	return out
}

func seqIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	return ids
}

// quick shortens training under -short: a few k-means iterations are
// enough for the recall bounds of these tests, and the codebook k-means
// dominates a -race -tags purego run.
func quick(cfg Config) Config {
	if testing.Short() && cfg.Iterations == 0 {
		cfg.Iterations = 4
	}
	return cfg
}

// build trains cfg (see quick) on data and adds it with IDs 0…n−1.
func build(t testing.TB, cfg Config, data []float32) *Index {
	t.Helper()
	x, err := New(quick(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if err := x.AddBatch(context.Background(), seqIDs(len(data)/cfg.Dim), data); err != nil {
		t.Fatal(err)
	}
	return x
}

// truth returns exact top-k neighbours of each query.
func truth(t testing.TB, metric distance.Metric, dim int, data, queries []float32, k int, f nearkit.Filter) [][]nearkit.Result {
	t.Helper()
	fx, err := flat.New(flat.Config{Dim: dim, Metric: metric})
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.AddBatch(context.Background(), seqIDs(len(data)/dim), data); err != nil {
		t.Fatal(err)
	}
	out := make([][]nearkit.Result, len(queries)/dim)
	for i := range out {
		out[i], err = fx.Search(nil, queries[i*dim:(i+1)*dim], k, nearkit.SearchOptions{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// recall is the mean fraction of the true top-k found.
func recall(t testing.TB, x *Index, queries []float32, gt [][]nearkit.Result, k int, opts nearkit.SearchOptions) float64 {
	t.Helper()
	dim := x.Dim()
	hit, tot := 0, 0
	var res []nearkit.Result
	for i, want := range gt {
		var err error
		res, err = x.Search(res[:0], queries[i*dim:(i+1)*dim], k, opts)
		if err != nil {
			t.Fatal(err)
		}
		in := map[uint64]bool{}
		for _, r := range want {
			in[r.ID] = true
		}
		for _, r := range res {
			if in[r.ID] {
				hit++
			}
		}
		tot += len(want)
	}
	return float64(hit) / float64(tot)
}
