package nearkit

import (
	"fmt"
)

// CheckVector returns an error wrapping ErrDimension when len(v) != dim and
// ErrInvalidVector when v holds NaN or ±Inf. Indexes call it on every vector
// a user hands them before it reaches a kernel.
func CheckVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("%w: got %d, index has %d", ErrDimension, len(v), dim)
	}
	for i, x := range v {
		// x-x is 0 for finite x and NaN for NaN and ±Inf: one compare.
		if x-x != 0 {
			return fmt.Errorf("%w: element %d is %v", ErrInvalidVector, i, x)
		}
	}
	return nil
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
