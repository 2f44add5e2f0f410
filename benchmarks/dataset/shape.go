package dataset

import (
	"math"
	"slices"

	"github.com/nearkit/nearkit/distance"
)

// Shape describes how hard a data set is for approximate search, by the
// two measures of the literature (He, Kumar and Chang 2012; Amsaleg et
// al. 2015), both taken from a sample of queries to every base vector.
type Shape struct {
	// RelativeContrast is the mean distance from a query to the base over
	// its distance to its nearest neighbour: near 1 when every point is
	// about as far as every other (hard), well above 1 when neighbours
	// stand out.
	RelativeContrast float64
	// LID is the maximum-likelihood local intrinsic dimensionality at the
	// K nearest neighbours, averaged over the sample: the higher, the more
	// a search must look at to find them.
	LID float64
	// Queries and K are the sample size and neighbourhood the figures were
	// taken at.
	Queries, K int
}

// MeasureShape computes the Shape of base as seen from the first sample
// queries, with the K nearest neighbours for LID. Distances are
// Euclidean, on unit-normalised vectors for cosine (the angular distance
// ann-benchmarks uses orders the same way). Queries at distance zero from
// a base vector count that neighbour out. It costs sample × N × Dim
// float64 operations; a few hundred queries give both figures to two
// digits.
func MeasureShape(base, queries []float32, dim int, metric distance.Metric, sample, k int) Shape {
	n, nq := len(base)/dim, len(queries)/dim
	sample = min(sample, nq)
	k = min(k, n-1)
	unit := metric == distance.Cosine
	var norms []float64
	if unit {
		norms = make([]float64, n)
		for j := range n {
			norms[j] = norm(base[j*dim : (j+1)*dim])
		}
	}
	dists := make([]float64, n)
	var sumRC, sumLID float64
	counted := 0
	for i := range sample {
		q := queries[i*dim : (i+1)*dim]
		qn := 1.0
		if unit {
			qn = norm(q)
		}
		total := 0.0
		for j := range n {
			b := base[j*dim : (j+1)*dim]
			bn := 1.0
			if unit {
				bn = norms[j]
			}
			d := 0.0
			for t, x := range q {
				y := float64(x)/qn - float64(b[t])/bn
				d += y * y
			}
			dists[j] = math.Sqrt(d)
			total += dists[j]
		}
		slices.Sort(dists)
		near := dists
		for len(near) > 0 && near[0] == 0 {
			near = near[1:]
		}
		if len(near) <= k || k < 1 {
			continue
		}
		sumRC += total / float64(len(near)) / near[0]
		lid := 0.0
		for _, d := range near[:k] {
			lid += math.Log(d / near[k-1])
		}
		if lid < 0 {
			sumLID += -float64(k) / lid
		}
		counted++
	}
	if counted == 0 {
		return Shape{Queries: 0, K: k}
	}
	return Shape{RelativeContrast: sumRC / float64(counted), LID: sumLID / float64(counted), Queries: counted, K: k}
}

func norm(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return 1
	}
	return math.Sqrt(s)
}
