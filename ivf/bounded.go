package ivf

import (
	"cmp"
	"slices"

	"github.com/nearkit/nearkit/distance"
)

// Bounded L2: a probed list's rows and the re-ranked candidates are mostly
// farther from the query than the k-th best found so far, and a squared L2
// distance only grows as dimensions are added. Summing it a span of
// dimensions at a time and stopping once the sum passes the bound reads a
// fraction of a rejected row, which is what an L2 scan of wide vectors
// spends its time on (the bytes, not the arithmetic). The spans are visited
// in descending order of how much the centroids vary over them per
// dimension, so that
// the sum grows fastest first; the order is derived from the centroids on
// training and on reading, so the file format does not carry it.

// span is a range of dimensions [lo, hi).
type span struct{ lo, hi int }

// boundedMinDim is the least dimension for which the scan is bounded:
// below it a row is a few cache lines and the extra kernel calls cost more
// than the bytes they spare.
const boundedMinDim = 256

// boundedSpans is the number of spans a row is cut into (the last may be
// shorter); each span is a multiple of 16 floats, one AVX-512 register.
const boundedSpans = 8

// scanOrder returns the spans of the bounded L2 for an L2 index of
// dimension dim with the given centroids, or nil when the scan is not
// bounded (other metrics, small dimensions).
func scanOrder(metric distance.Metric, dim int, centroids []float32) []span {
	if metric != distance.L2 || dim < boundedMinDim || len(centroids) < 2*dim {
		return nil
	}
	w := (dim/boundedSpans + 15) &^ 15
	var spans []span
	for lo := 0; lo < dim; lo += w {
		spans = append(spans, span{lo, min(lo+w, dim)})
	}
	// Variance of the centroids per dimension, summed per span.
	n := len(centroids) / dim
	mean := make([]float64, dim)
	for i := range n {
		for j, v := range centroids[i*dim : (i+1)*dim] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	spread := make([]float64, len(spans))
	for i := range n {
		row := centroids[i*dim : (i+1)*dim]
		for si, s := range spans {
			for j := s.lo; j < s.hi; j++ {
				d := float64(row[j]) - mean[j]
				spread[si] += d * d
			}
		}
	}
	// Per dimension, since a span's cost is its width (the last is short).
	for si, s := range spans {
		spread[si] /= float64(s.hi - s.lo)
	}
	idx := make([]int, len(spans))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(spread[b], spread[a]) })
	out := make([]span, len(spans))
	for i, si := range idx {
		out[i] = spans[si]
	}
	return out
}

// l2Bounded returns ‖q−v‖², or a partial sum greater than bound as soon as
// one passes it. q and v have the index's dimension and spans covers it.
func l2Bounded(q, v []float32, spans []span, bound float32) float32 {
	var d float32
	for _, s := range spans {
		d += distance.SquaredL2(q[s.lo:s.hi], v[s.lo:s.hi])
		if d > bound {
			return d
		}
	}
	return d
}
