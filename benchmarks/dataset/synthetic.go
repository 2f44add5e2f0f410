package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nearkit/nearkit"
)

// SyntheticConfig describes a synthetic data set. Zero fields take the
// defaults noted on each.
type SyntheticConfig struct {
	// N is the number of base vectors (default 20,000).
	N int
	// Queries is the number of query vectors (default 1,000), drawn from
	// the same distribution as the base but independently.
	Queries int
	// Dim is the ambient dimension (default 128).
	Dim int
	// Intrinsic is the dimension of the subspace the clusters live on
	// (default min(32, Dim)).
	Intrinsic int
	// Clusters is the number of Gaussian clusters (default 100).
	Clusters int
	// Noise is the standard deviation of the isotropic noise added in all
	// Dim directions (default 0.05, against cluster centres spread with
	// standard deviation 1 per intrinsic direction).
	Noise float64
	// Seed seeds the generator; the same config gives the same data.
	Seed uint64
}

func (c SyntheticConfig) withDefaults() SyntheticConfig {
	if c.N == 0 {
		c.N = 20000
	}
	if c.Queries == 0 {
		c.Queries = 1000
	}
	if c.Dim == 0 {
		c.Dim = 128
	}
	if c.Intrinsic == 0 {
		c.Intrinsic = min(32, c.Dim)
	}
	if c.Clusters == 0 {
		c.Clusters = 100
	}
	if c.Noise == 0 {
		c.Noise = 0.05
	}
	return c
}

// Synthetic generates base and query vectors (contiguous, cfg.Dim values
// each) that look like learned embeddings rather than uniform noise: a
// mixture of cfg.Clusters Gaussian clusters of unequal sizes, each
// anisotropic (its own random orientation and a decaying spectrum of
// widths), living on a random cfg.Intrinsic-dimensional subspace of the
// ambient space, offset from the origin, plus a little isotropic noise.
// Uniform random vectors in high dimension have nearly equidistant
// neighbours, which makes every index look either hopeless or perfect;
// this data has the low intrinsic dimension and cluster structure of real
// embeddings, so recall/QPS trade-offs resemble real ones.
func Synthetic(cfg SyntheticConfig) (base, queries []float32, err error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.N < 0 || cfg.Queries < 0 || cfg.Dim < 1 || cfg.Dim > MaxDim:
		return nil, nil, fmt.Errorf("%w: synthetic N=%d queries=%d dim=%d", nearkit.ErrInvalidConfig, cfg.N, cfg.Queries, cfg.Dim)
	case cfg.Intrinsic < 1 || cfg.Intrinsic > cfg.Dim:
		return nil, nil, fmt.Errorf("%w: synthetic intrinsic dimension %d not in 1..%d", nearkit.ErrInvalidConfig, cfg.Intrinsic, cfg.Dim)
	case cfg.Clusters < 1 || cfg.Noise < 0 || math.IsNaN(cfg.Noise) || math.IsInf(cfg.Noise, 0):
		return nil, nil, fmt.Errorf("%w: synthetic clusters=%d noise=%v", nearkit.ErrInvalidConfig, cfg.Clusters, cfg.Noise)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6e6561726b6974)) // "nearkit"
	d, id := cfg.Dim, cfg.Intrinsic

	// The subspace basis: id orthonormal directions in d dimensions, so
	// distances inside the subspace are preserved by the embedding.
	basis := orthonormal(rng, id, d)
	offset := make([]float64, d)
	for i := range offset {
		offset[i] = 0.5 * rng.NormFloat64()
	}

	type cluster struct {
		centre []float64
		axes   [][]float64 // id orthonormal axes in the subspace
		widths []float64
		cum    float64 // cumulative weight, for sampling
	}
	cs := make([]cluster, cfg.Clusters)
	total := 0.0
	for j := range cs {
		c := &cs[j]
		c.centre = make([]float64, id)
		for i := range c.centre {
			c.centre[i] = rng.NormFloat64()
		}
		c.axes = orthonormal(rng, id, id)
		// A decaying spectrum: dominant directions per cluster, as in
		// real embedding neighbourhoods; the overall scale varies. Widths
		// and decay are tuned so clusters overlap and the relative
		// contrast (mean distance / nearest-neighbour distance) is about
		// 3 at 10,000-20,000 points, like Fashion-MNIST's (2.9).
		scale := math.Exp(0.3 * rng.NormFloat64())
		c.widths = make([]float64, id)
		for i := range c.widths {
			c.widths[i] = scale * math.Pow(float64(i+1), -0.3)
		}
		// Log-normal weights: a few big clusters and a long tail of small ones.
		total += math.Exp(rng.NormFloat64())
		c.cum = total
	}

	local := make([]float64, id)
	sample := func(out []float32) {
		u := rng.Float64() * total
		j := 0
		for j < len(cs)-1 && cs[j].cum < u {
			j++
		}
		c := &cs[j]
		copy(local, c.centre)
		for a, axis := range c.axes {
			z := c.widths[a] * rng.NormFloat64()
			for i, v := range axis {
				local[i] += z * v
			}
		}
		for i := range out {
			out[i] = float32(offset[i] + cfg.Noise*rng.NormFloat64())
		}
		for a, dir := range basis {
			z := local[a]
			for i, v := range dir {
				out[i] += float32(z * v)
			}
		}
	}
	base = make([]float32, cfg.N*d)
	for i := 0; i < cfg.N; i++ {
		sample(base[i*d : (i+1)*d])
	}
	queries = make([]float32, cfg.Queries*d)
	for i := 0; i < cfg.Queries; i++ {
		sample(queries[i*d : (i+1)*d])
	}
	return base, queries, nil
}

// orthonormal returns k orthonormal vectors of length n (k ≤ n) by
// Gram-Schmidt on Gaussian vectors, which gives a uniformly random frame.
func orthonormal(rng *rand.Rand, k, n int) [][]float64 {
	vs := make([][]float64, 0, k)
	for len(vs) < k {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		// Two passes of re-orthogonalisation keep the frame orthonormal
		// to rounding even for k close to n.
		for range 2 {
			for _, u := range vs {
				dot := 0.0
				for i := range v {
					dot += v[i] * u[i]
				}
				for i := range v {
					v[i] -= dot * u[i]
				}
			}
		}
		norm := 0.0
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		if norm < 1e-6 {
			continue // degenerate draw; vanishingly rare
		}
		for i := range v {
			v[i] /= norm
		}
		vs = append(vs, v)
	}
	return vs
}
