// Package kmeans trains k-means centroids with Lloyd's algorithm, the
// building block of product quantization (pq) and of inverted-file coarse
// quantizers (ivf).
//
// Initialisation follows FAISS's default: the k initial centroids are k
// distinct training points drawn uniformly at random. k-means++ spreads the
// initial centroids better but costs k passes over the data (k·n·dim work,
// as much as k/iterations Lloyd iterations — 40 iterations' worth for 1,024
// centroids over 25 iterations); with the training sets quantizers use
// (hundreds of points per centroid) random initialisation converges to
// nearly the same objective, which is why FAISS defaults to it. KMeansPlusPlus
// is available for small k or poorly spread data.
//
// Each Lloyd iteration assigns every training point to its nearest centroid
// and moves each centroid to the mean of its points. The assignment is the
// expensive step: it runs on GOMAXPROCS goroutines over blocks of points
// scored against cache-sized blocks of centroids as ‖c‖² − 2·x·c. On CPUs
// with AVX-512 it uses a register-blocked kernel of this package (4 points
// × 32 centroids per tile, centroids transposed, argmin fused), about 2–4×
// the throughput of one distance.DotBatch per point; elsewhere it uses
// distance.DotBatch, which measured faster than distance.SquaredL2Batch
// (BenchmarkAssign).
// Centroids left empty are re-seeded by splitting the most populated
// cluster in two, as FAISS does. Training is reproducible: for a given seed
// the result is bit-identical whatever the number of goroutines, because
// each point's assignment does not depend on the partition of the work and
// the sums of the update step are taken in point order.
package kmeans

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
)

// Init selects how the first centroids are chosen.
type Init uint8

const (
	// RandomSubset picks k distinct training points at random (FAISS's
	// default).
	RandomSubset Init = iota
	// KMeansPlusPlus picks each next centroid with probability proportional
	// to its squared distance to the nearest centroid chosen so far
	// (Arthur & Vassilvitskii 2007).
	KMeansPlusPlus
)

// DefaultMaxPointsPerCentroid bounds the training sample like FAISS's
// max_points_per_centroid: beyond 256 points per centroid extra points
// barely move the centroids but cost time linearly.
const DefaultMaxPointsPerCentroid = 256

// DefaultIterations is FAISS's default number of Lloyd iterations.
const DefaultIterations = 25

// Config parameterises Train. Zero values select the defaults.
type Config struct {
	// K is the number of centroids (required, ≥ 1).
	K int
	// Iterations is the maximum number of Lloyd iterations
	// (default DefaultIterations).
	Iterations int
	// Tolerance stops training early when an iteration lowers the
	// objective by less than this fraction of its previous value. Zero
	// (the default) runs all Iterations, like FAISS.
	Tolerance float64
	// MaxPointsPerCentroid caps the training sample at K times this many
	// points, drawn at random (default DefaultMaxPointsPerCentroid);
	// negative uses every point.
	MaxPointsPerCentroid int
	// Seed seeds the random initialisation, subsampling and splitting.
	Seed uint64
	// Init selects the initialisation (default RandomSubset).
	Init Init
	// Centroids, when non-nil, are the K×dim initial centroids and
	// replace Init (warm start, used by OPQ between rotations).
	Centroids []float32
	// Workers is the number of goroutines of the assignment step
	// (default runtime.GOMAXPROCS(0)). It does not change the result.
	Workers int
	// Progress, when non-nil, is called after each iteration with the
	// iteration number (from 0) and the objective: the sum of squared
	// distances of the training points to their assigned centroids
	// before the update of that iteration.
	Progress func(iteration int, objective float64)

	// kernel is the assignment kernel; tests set it to compare them.
	kernel kernel
}

// Result is a trained set of centroids.
type Result struct {
	// Centroids holds K row-major centroids of dimension Dim.
	Centroids []float32
	// Dim is the dimension of the centroids.
	Dim int
	// Objective holds, per iteration, the sum of squared distances of the
	// training points to their nearest centroid at the start of the
	// iteration. It is non-increasing up to rounding.
	Objective []float64
	// Splits counts empty clusters re-seeded by splitting.
	Splits int
	// TrainingPoints is the number of points used after subsampling.
	TrainingPoints int
}

// Train runs k-means on the n = len(data)/dim row-major vectors of data.
//
// It returns an error wrapping nearkit.ErrEmpty when there are fewer
// training points than centroids (FAISS warns and continues; with fewer
// points than centroids some centroids would be copies, which is a
// configuration mistake worth reporting), nearkit.ErrInvalidConfig for an
// invalid configuration, nearkit.ErrDimension when len(data) is not a
// multiple of dim, nearkit.ErrInvalidVector for NaN or ±Inf input, and
// ctx.Err() when ctx is cancelled (checked once per iteration).
func Train(ctx context.Context, data []float32, dim int, cfg Config) (*Result, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("%w: kmeans: dim=%d", nearkit.ErrInvalidConfig, dim)
	}
	if cfg.K <= 0 {
		return nil, fmt.Errorf("%w: kmeans: K=%d", nearkit.ErrInvalidConfig, cfg.K)
	}
	if cfg.Iterations < 0 || cfg.Tolerance < 0 || math.IsNaN(cfg.Tolerance) {
		return nil, fmt.Errorf("%w: kmeans: Iterations=%d Tolerance=%v", nearkit.ErrInvalidConfig, cfg.Iterations, cfg.Tolerance)
	}
	if cfg.Init > KMeansPlusPlus {
		return nil, fmt.Errorf("%w: kmeans: unknown Init %d", nearkit.ErrInvalidConfig, cfg.Init)
	}
	if err := check.Vectors(data, dim); err != nil {
		return nil, fmt.Errorf("kmeans: %w", err)
	}
	n := len(data) / dim
	if n < cfg.K {
		return nil, fmt.Errorf("%w: kmeans: %d training points for %d centroids", nearkit.ErrEmpty, n, cfg.K)
	}
	if cfg.Centroids != nil {
		if err := check.Batch(cfg.Centroids, dim, cfg.K); err != nil {
			return nil, fmt.Errorf("kmeans: initial centroids: %w", err)
		}
	}
	iters := cfg.Iterations
	if iters == 0 {
		iters = DefaultIterations
	}
	ppc := cfg.MaxPointsPerCentroid
	if ppc == 0 {
		ppc = DefaultMaxPointsPerCentroid
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b6d65616e73)) // "kmeans"

	k := cfg.K
	if ppc > 0 && n > k*ppc {
		data = subsample(rng, data, dim, k*ppc)
		n = k * ppc
	}
	res := &Result{Dim: dim, TrainingPoints: n}
	cent := make([]float32, k*dim)
	switch {
	case cfg.Centroids != nil:
		copy(cent, cfg.Centroids)
	case cfg.Init == KMeansPlusPlus:
		initPlusPlus(rng, data, dim, cent)
	default:
		perm := partialPerm(rng, n, k)
		for i, p := range perm {
			copy(cent[i*dim:(i+1)*dim], data[p*dim:(p+1)*dim])
		}
	}

	assign := make([]uint32, n)
	dists := make([]float32, n)
	sums := make([]float64, k*dim)
	counts := make([]int, k)
	a := newAssigner(dim, workers, cfg.kernel)
	for it := 0; it < iters; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a.assign(data, cent, assign, dists)
		obj := 0.0
		for _, d := range dists {
			obj += float64(d)
		}
		res.Objective = append(res.Objective, obj)
		if cfg.Progress != nil {
			cfg.Progress(it, obj)
		}
		update(data, dim, assign, cent, sums, counts)
		res.Splits += splitEmpty(rng, cent, dim, counts)
		if cfg.Tolerance > 0 && it > 0 {
			prev := res.Objective[it-1]
			if prev-obj <= cfg.Tolerance*prev {
				break
			}
		}
	}
	res.Centroids = cent
	return res, nil
}

// subsample returns m rows of data drawn without replacement, in random
// order.
func subsample(rng *rand.Rand, data []float32, dim, m int) []float32 {
	n := len(data) / dim
	perm := partialPerm(rng, n, m)
	out := make([]float32, m*dim)
	for i, p := range perm {
		copy(out[i*dim:(i+1)*dim], data[p*dim:(p+1)*dim])
	}
	return out
}

// partialPerm returns m distinct values of [0, n) in random order: the
// first m steps of a Fisher-Yates shuffle, over a map when m ≪ n so that
// sampling 256 rows of a 10M-row set does not allocate 10M ints.
func partialPerm(rng *rand.Rand, n, m int) []int {
	out := make([]int, m)
	if m*8 >= n {
		p := make([]int, n)
		for i := range p {
			p[i] = i
		}
		for i := 0; i < m; i++ {
			j := i + rng.IntN(n-i)
			p[i], p[j] = p[j], p[i]
		}
		copy(out, p[:m])
		return out
	}
	swapped := make(map[int]int, 2*m)
	get := func(i int) int {
		if v, ok := swapped[i]; ok {
			return v
		}
		return i
	}
	for i := 0; i < m; i++ {
		j := i + rng.IntN(n-i)
		vi, vj := get(i), get(j)
		swapped[i], swapped[j] = vj, vi
		out[i] = vj
	}
	return out
}

// initPlusPlus is k-means++ seeding.
func initPlusPlus(rng *rand.Rand, data []float32, dim int, cent []float32) {
	n := len(data) / dim
	k := len(cent) / dim
	first := rng.IntN(n)
	copy(cent[:dim], data[first*dim:(first+1)*dim])
	near := make([]float32, n)
	distance.SquaredL2Batch(cent[:dim], data, dim, near)
	tmp := make([]float32, n)
	for c := 1; c < k; c++ {
		total := 0.0
		for _, d := range near {
			total += float64(d)
		}
		pick := 0
		if total > 0 {
			r := rng.Float64() * total
			for i, d := range near {
				r -= float64(d)
				if r < 0 {
					pick = i
					break
				}
				pick = i
			}
		} else {
			pick = rng.IntN(n)
		}
		cc := cent[c*dim : (c+1)*dim]
		copy(cc, data[pick*dim:(pick+1)*dim])
		distance.SquaredL2Batch(cc, data, dim, tmp)
		for i, d := range tmp {
			if d < near[i] {
				near[i] = d
			}
		}
	}
}

// update moves each centroid to the mean of its points. Sums are taken in
// float64, in point order, so that the result does not depend on how the
// assignment was parallelised. Centroids of empty clusters are left as
// they are; splitEmpty replaces them.
func update(data []float32, dim int, assign []uint32, cent []float32, sums []float64, counts []int) {
	clear(sums)
	clear(counts)
	for i, c := range assign {
		counts[c]++
		s := sums[int(c)*dim : int(c+1)*dim]
		x := data[i*dim : (i+1)*dim]
		x = x[:len(s)]
		for j, v := range x {
			s[j] += float64(v)
		}
	}
	for c, cnt := range counts {
		if cnt == 0 {
			continue
		}
		inv := 1 / float64(cnt)
		s := sums[c*dim : (c+1)*dim]
		dst := cent[c*dim : (c+1)*dim]
		for j := range dst {
			dst[j] = float32(s[j] * inv)
		}
	}
}

// splitEps is FAISS's relative perturbation when splitting a cluster.
const splitEps = 1.0 / 1024

// splitEmpty gives every empty cluster half of the largest cluster: the
// empty centroid becomes a copy of the largest one, and the two are pushed
// apart by a relative ±splitEps per coordinate (alternating signs, as
// FAISS does) so that the next assignment divides the points between them.
// Ties between equally large clusters are broken at random.
func splitEmpty(rng *rand.Rand, cent []float32, dim int, counts []int) int {
	splits := 0
	for ci, cnt := range counts {
		if cnt != 0 {
			continue
		}
		big, bigN, ties := -1, 0, 0
		for cj, cn := range counts {
			switch {
			case cn > bigN:
				big, bigN, ties = cj, cn, 1
			case cn == bigN && cn > 0:
				ties++
				if rng.IntN(ties) == 0 {
					big = cj
				}
			}
		}
		if big < 0 || bigN < 2 {
			return splits
		}
		dst := cent[ci*dim : (ci+1)*dim]
		src := cent[big*dim : (big+1)*dim]
		for j := range dst {
			if j%2 == 0 {
				dst[j] = src[j] * (1 + splitEps)
				src[j] *= 1 - splitEps
			} else {
				dst[j] = src[j] * (1 - splitEps)
				src[j] *= 1 + splitEps
			}
		}
		counts[ci] = bigN / 2
		counts[big] = bigN - bigN/2
		splits++
	}
	return splits
}
