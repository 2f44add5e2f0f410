// Package check holds the argument checks every index package applies to
// what a caller hands it, before anything reaches a kernel: dimensions,
// finiteness and k. Each error wraps one of nearkit's sentinels.
package check

import (
	"fmt"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// Vector returns an error wrapping nearkit.ErrDimension when len(v) != dim
// and nearkit.ErrInvalidVector when v holds NaN or ±Inf.
func Vector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("%w: got %d, index has %d", nearkit.ErrDimension, len(v), dim)
	}
	if allFinite(v) {
		return nil
	}
	for i, x := range v {
		// x-x is 0 for finite x and NaN for NaN and ±Inf: one compare.
		if x-x != 0 {
			return fmt.Errorf("%w: element %d is %v", nearkit.ErrInvalidVector, i, x)
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

// Vectors checks len(vecs)/dim contiguous vectors: len(vecs) must be a
// whole number of dim-dimensional vectors and every element finite.
func Vectors(vecs []float32, dim int) error {
	if dim <= 0 || len(vecs)%dim != 0 {
		return fmt.Errorf("%w: %d values is not a whole number of %d-dimensional vectors", nearkit.ErrDimension, len(vecs), dim)
	}
	return finite(vecs, dim)
}

// Batch checks exactly n contiguous dim-dimensional vectors, as AddBatch
// receives them beside n IDs.
func Batch(vecs []float32, dim, n int) error {
	if dim <= 0 || n < 0 || len(vecs) != n*dim {
		return fmt.Errorf("%w: got %d values for %d vectors of dimension %d", nearkit.ErrDimension, len(vecs), n, dim)
	}
	return finite(vecs, dim)
}

func finite(vecs []float32, dim int) error {
	if allFinite(vecs) {
		return nil
	}
	for i, x := range vecs {
		if x-x != 0 {
			return fmt.Errorf("%w: vector %d element %d is %v", nearkit.ErrInvalidVector, i/dim, i%dim, x)
		}
	}
	return nil
}

// K returns an error wrapping nearkit.ErrInvalidK when k ≤ 0.
func K(k int) error {
	if k <= 0 {
		return fmt.Errorf("%w: k=%d", nearkit.ErrInvalidK, k)
	}
	return nil
}

// Stored returns an error wrapping nearkit.ErrCorrupt unless the n = len(
// vecs)/dim vectors read from a file are what an index would have stored
// under metric: finite and, for a metric that normalises, of unit length
// or zero (which Add keeps as is). Loaders call it so a file with a valid
// checksum cannot serve NaN distances or a vector that outranks every
// query.
func Stored(vecs []float32, dim int, metric distance.Metric) error {
	if err := finite(vecs, dim); err != nil {
		return fmt.Errorf("%w: %v", nearkit.ErrCorrupt, err)
	}
	if !metric.Normalizes() {
		return nil
	}
	for i := 0; i+dim <= len(vecs); i += dim {
		v := vecs[i : i+dim]
		// A unit vector's float32 squared norm is within about dim·2⁻²⁴
		// of 1; 1 % is far beyond rounding and far below any forgery
		// that changes a ranking much.
		if nn := distance.Dot(v, v); nn != 0 && (nn < 0.99 || nn > 1.01) {
			return fmt.Errorf("%w: vector %d has squared norm %v under %v, whose vectors are unit length", nearkit.ErrCorrupt, i/dim, nn, metric)
		}
	}
	return nil
}
