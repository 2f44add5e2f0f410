package kmeans

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
)

// clustered returns n points of dimension dim around k random centres
// (spread ±10) with Gaussian noise of standard deviation sigma, and the
// centres.
func clustered(seed uint64, n, dim, k int, sigma float64) (data, centres []float32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres = make([]float32, k*dim)
	for i := range centres {
		centres[i] = float32(rng.Float64()*20 - 10)
	}
	data = make([]float32, n*dim)
	for i := range n {
		c := rng.IntN(k)
		for j := range dim {
			data[i*dim+j] = centres[c*dim+j] + float32(rng.NormFloat64()*sigma)
		}
	}
	return data, centres
}

func TestTrainRecoversClusters(t *testing.T) {
	t.Parallel()
	const dim, k = 8, 10
	data, centres := clustered(1, 5000, dim, k, 0.1)
	res, err := Train(context.Background(), data, dim, Config{K: k, Seed: 7, Init: KMeansPlusPlus})
	if err != nil {
		t.Fatal(err)
	}
	// Every true centre has a centroid within a few noise widths.
	for c := range k {
		_, d := Nearest(centres[c*dim:(c+1)*dim], res.Centroids, make([]float32, k))
		if d > 0.05 {
			t.Errorf("centre %d: nearest centroid at squared distance %v", c, d)
		}
	}
	// The final objective is about n·dim·σ².
	last := res.Objective[len(res.Objective)-1]
	if want := 5000 * dim * 0.01; last > 1.2*want {
		t.Errorf("objective %v, want about %v", last, want)
	}
}

func TestObjectiveNonIncreasing(t *testing.T) {
	t.Parallel()
	const dim = 16
	data, _ := clustered(2, 4000, dim, 50, 2)
	var seen []float64
	res, err := Train(context.Background(), data, dim, Config{K: 64, Iterations: 15, Seed: 3,
		Progress: func(it int, obj float64) {
			if it != len(seen) {
				t.Errorf("progress iteration %d, want %d", it, len(seen))
			}
			seen = append(seen, obj)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, res.Objective) || len(seen) != 15 {
		t.Fatalf("progress %v, objective %v", seen, res.Objective)
	}
	for i := 1; i < len(seen); i++ {
		// A split can raise the objective by the perturbation only.
		if seen[i] > seen[i-1]*(1+1e-4) {
			t.Errorf("objective rose at iteration %d: %v -> %v", i, seen[i-1], seen[i])
		}
	}
	if seen[len(seen)-1] >= seen[0] {
		t.Errorf("objective did not decrease: %v", seen)
	}
}

func TestReproducibleAcrossWorkers(t *testing.T) {
	t.Parallel()
	const dim = 12
	data, _ := clustered(3, 6000, dim, 30, 3)
	var first *Result
	workers := []int{1, 2, 3, 8}
	if testing.Short() {
		workers = []int{1, 3}
	}
	for _, w := range workers {
		for _, dot := range []bool{true, false} {
			if !dot && w != 1 {
				continue // the l2 result is not compared: once is enough
			}
			kern := kernelDot
			if !dot {
				kern = kernelL2
			}
			res, err := Train(context.Background(), data, dim, Config{K: 40, Iterations: 8, Seed: 11, Workers: w, MaxPointsPerCentroid: 100, kernel: kern})
			if err != nil {
				t.Fatal(err)
			}
			if !dot {
				continue // other arithmetic: close, not bit-identical
			}
			if first == nil {
				first = res
				continue
			}
			if !slices.Equal(first.Centroids, res.Centroids) || !slices.Equal(first.Objective, res.Objective) {
				t.Fatalf("workers=%d: result differs from workers=1", w)
			}
		}
	}
	if first.TrainingPoints != 4000 {
		t.Errorf("TrainingPoints=%d, want 4000 after subsampling", first.TrainingPoints)
	}
	// Another seed gives another result.
	res, _ := Train(context.Background(), data, dim, Config{K: 40, Iterations: 8, Seed: 12, MaxPointsPerCentroid: 100})
	if slices.Equal(first.Centroids, res.Centroids) {
		t.Error("different seeds gave identical centroids")
	}
}

type path struct {
	name   string
	kernel kernel
}

// paths lists the assignment kernels this CPU can run.
func paths() []path {
	ps := []path{{"dot", kernelDot}, {"l2", kernelL2}}
	if hasPanel {
		ps = append(ps, path{"panel", kernelPanel}) // at every size, however small
	}
	return ps
}

func TestSplitEmpty(t *testing.T) {
	t.Parallel()
	const dim, k = 4, 8
	data, _ := clustered(4, 800, dim, k, 0.5)
	// All initial centroids at the same spot: Lloyd leaves k-1 of them
	// empty and splitting must bring them back.
	init := make([]float32, k*dim)
	for c := range k {
		copy(init[c*dim:], data[:dim])
	}
	res, err := Train(context.Background(), data, dim, Config{K: k, Centroids: init, Iterations: 30, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Splits == 0 {
		t.Fatal("no split recorded")
	}
	assign := make([]uint32, len(data)/dim)
	Assign(data, dim, res.Centroids, assign, nil)
	counts := make([]int, k)
	for _, a := range assign {
		counts[a]++
	}
	for c, n := range counts {
		if n == 0 {
			t.Errorf("centroid %d empty after training (counts %v)", c, counts)
		}
	}
}

func TestTolerance(t *testing.T) {
	t.Parallel()
	const dim = 4
	data, _ := clustered(5, 2000, dim, 5, 0.1)
	res, err := Train(context.Background(), data, dim, Config{K: 5, Iterations: 100, Tolerance: 1e-3, Seed: 2, Init: KMeansPlusPlus})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objective) >= 100 {
		t.Errorf("ran %d iterations despite convergence", len(res.Objective))
	}
}

func TestAssignMatchesBruteForce(t *testing.T) {
	t.Parallel()
	for _, dim := range []int{1, 3, 17, 128} {
		n := 300
		if testing.Short() {
			n = 60
		}
		data, _ := clustered(uint64(dim), n, dim, 5, 1)
		cent, _ := clustered(uint64(dim)+100, 700, dim, 7, 1) // more centroids than one block for dim=128
		for _, path := range paths() {
			dot := path.name
			assign := make([]uint32, n)
			dists := make([]float32, n)
			assignWith(data, dim, cent, assign, dists, path.kernel)
			for i := range n {
				x := data[i*dim : (i+1)*dim]
				bd := math.Inf(1)
				for c := range 700 {
					d := 0.0
					for j := range dim {
						e := float64(x[j]) - float64(cent[c*dim+j])
						d += e * e
					}
					bd = min(bd, d)
				}
				a := int(assign[i])
				got := 0.0
				for j := range dim {
					e := float64(x[j]) - float64(cent[a*dim+j])
					got += e * e
				}
				// The chosen centroid is nearest up to float32 rounding of
				// the distance computation.
				tol := 1e-4 * (1 + bd)
				if got > bd+tol {
					t.Fatalf("dim=%d dot=%v point %d: assigned distance %v, best %v", dim, dot, i, got, bd)
				}
				if math.Abs(float64(dists[i])-got) > 1e-3*(1+got) {
					t.Fatalf("dim=%d dot=%v point %d: dist %v, want %v", dim, dot, i, dists[i], got)
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data, _ := clustered(6, 10, 4, 2, 1)
	cases := []struct {
		name string
		data []float32
		dim  int
		cfg  Config
		want error
	}{
		{"few points", data, 4, Config{K: 11}, nearkit.ErrEmpty},
		{"no data", nil, 4, Config{K: 1}, nearkit.ErrEmpty},
		{"k=0", data, 4, Config{K: 0}, nearkit.ErrInvalidConfig},
		{"dim=0", data, 0, Config{K: 1}, nearkit.ErrInvalidConfig},
		{"ragged", data[:39], 4, Config{K: 1}, nearkit.ErrDimension},
		{"nan", append([]float32{float32(math.NaN())}, data[1:]...), 4, Config{K: 2}, nearkit.ErrInvalidVector},
		{"inf", append([]float32{float32(math.Inf(1))}, data[1:]...), 4, Config{K: 2}, nearkit.ErrInvalidVector},
		{"bad init", data, 4, Config{K: 2, Init: 9}, nearkit.ErrInvalidConfig},
		{"bad centroids", data, 4, Config{K: 2, Centroids: make([]float32, 7)}, nearkit.ErrDimension},
		{"negative tolerance", data, 4, Config{K: 2, Tolerance: -1}, nearkit.ErrInvalidConfig},
	}
	for _, c := range cases {
		_, err := Train(ctx, c.data, c.dim, c.cfg)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err=%v, want %v", c.name, err, c.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Train(cctx, data, 4, Config{K: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err=%v", err)
	}
}

func TestPartialPerm(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range [][2]int{{10, 10}, {1000, 3}, {100000, 50}, {5, 1}} {
		p := partialPerm(rng, c[0], c[1])
		seen := map[int]bool{}
		for _, v := range p {
			if v < 0 || v >= c[0] || seen[v] {
				t.Fatalf("n=%d m=%d: bad permutation %v", c[0], c[1], p)
			}
			seen[v] = true
		}
	}
}

func Example() {
	// Two well-separated groups of 2-d points.
	data := []float32{0, 0, 0, 1, 1, 0, 1, 1, 10, 10, 10, 11, 11, 10, 11, 11}
	res, err := Train(context.Background(), data, 2, Config{K: 2, Seed: 1})
	if err != nil {
		panic(err)
	}
	c := res.Centroids
	if c[0] > c[2] { // order centroids for a stable printout
		c = append(c[2:4:4], c[0:2]...)
	}
	fmt.Println(c)
	// Output: [0.5 0.5 10.5 10.5]
}

func benchData(b *testing.B, n, dim, k int) []float32 {
	b.Helper()
	data, _ := clustered(42, n, dim, k, 2)
	return data
}

func BenchmarkAssign(b *testing.B) {
	const dim, k, n = 128, 1024, 8192
	data := benchData(b, n, dim, 100)
	cent := data[:k*dim]
	assign := make([]uint32, n)
	dists := make([]float32, n)
	for _, path := range paths() {
		b.Run("form="+path.name, func(b *testing.B) {
			a := newAssigner(dim, 1, path.kernel)
			for b.Loop() {
				a.assign(data, cent, assign, dists)
			}
			b.ReportMetric(float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gpairs/s")
		})
	}
}

// BenchmarkTrain is the reference workload: 1,024 centroids on
// 100,000×128 clustered vectors, 10 iterations (compare with
// pq/internal/pqtest/faiss_compare.py kmeans).
func BenchmarkTrain(b *testing.B) {
	const dim, k, n = 128, 1024, 100000
	data := benchData(b, n, dim, 2000)
	for b.Loop() {
		if _, err := Train(context.Background(), data, dim, Config{K: k, Iterations: 10, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCodebookMatchesAssign(t *testing.T) {
	t.Parallel()
	for _, dim := range []int{1, 5, 8, 64} {
		data, _ := clustered(uint64(dim)+7, 523, dim, 9, 1)
		cent, _ := clustered(uint64(dim)+8, 100, dim, 9, 1)
		for _, path := range paths() {
			want := make([]uint32, 523)
			wantD := make([]float32, 523)
			assignWith(data, dim, cent, want, wantD, path.kernel)
			cb := newCodebook(cent, dim, path.kernel)
			got := make([]uint32, 523)
			gotD := make([]float32, 523)
			cb.Assign(data, got, gotD)
			// One point at a time, as single-vector encoding does.
			one := make([]uint32, 1)
			for i := range 523 {
				cb.Assign(data[i*dim:(i+1)*dim], one, nil)
				if one[0] != want[i] {
					t.Fatalf("%s dim=%d point %d alone: %d, want %d", path.name, dim, i, one[0], want[i])
				}
			}
			if !slices.Equal(got, want) || !slices.Equal(gotD, wantD) {
				t.Fatalf("%s dim=%d: Codebook.Assign differs from Assign", path.name, dim)
			}
		}
	}
}
