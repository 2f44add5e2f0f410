package nearkit

import (
	"fmt"

	"github.com/nearkit/nearkit/distance"
)

// CheckVector returns an error wrapping ErrDimension when len(v) != dim and
// ErrInvalidVector when v holds NaN or ±Inf. Indexes call it on every vector
// a user hands them before it reaches a kernel.
func CheckVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("%w: got %d, index has %d", ErrDimension, len(v), dim)
	}
	if allFinite(v) {
		return nil
	}
	for i, x := range v {
		// x-x is 0 for finite x and NaN for NaN and ±Inf: one compare.
		if x-x != 0 {
			return fmt.Errorf("%w: element %d is %v", ErrInvalidVector, i, x)
		}
	}
	return nil
}

// allFinite is a fast sufficient test: a sum of squares is finite only if
// every element is (a NaN or ±Inf makes it NaN or +Inf, and squares never
// cancel), and the SIMD dot product takes a fraction of the time of an
// element-by-element scan (which mattered: every search checks its query).
// It reports false also when finite squares overflow; the scan then
// decides.
func allFinite(v []float32) bool {
	const block = 4096 // keeps sums of large batches from overflowing
	for len(v) > 0 {
		n := min(len(v), block)
		s := distance.Dot(v[:n], v[:n])
		if s-s != 0 {
			return false
		}
		v = v[n:]
	}
	return true
}

// CheckVectors checks n = len(vecs)/dim contiguous vectors, requiring
// len(vecs) == want*dim when want >= 0.
func CheckVectors(vecs []float32, dim, want int) error {
	if dim <= 0 || len(vecs)%dim != 0 {
		return fmt.Errorf("%w: %d values is not a whole number of %d-dimensional vectors", ErrDimension, len(vecs), dim)
	}
	if want >= 0 && len(vecs) != want*dim {
		return fmt.Errorf("%w: got %d values for %d vectors of dimension %d", ErrDimension, len(vecs), want, dim)
	}
	if allFinite(vecs) {
		return nil
	}
	for i, x := range vecs {
		if x-x != 0 {
			return fmt.Errorf("%w: vector %d element %d is %v", ErrInvalidVector, i/dim, i%dim, x)
		}
	}
	return nil
}

// CheckK returns an error wrapping ErrInvalidK when k ≤ 0.
func CheckK(k int) error {
	if k <= 0 {
		return fmt.Errorf("%w: k=%d", ErrInvalidK, k)
	}
	return nil
}
