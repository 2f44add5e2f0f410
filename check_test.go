package nearkit

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestCheckVectorEveryPosition: a NaN or ±Inf is caught, and named, at
// every position of every length 1..300; finite vectors pass, including
// ones whose squares overflow float32 (the fast sum test fails on them and
// the scan must decide).
func TestCheckVectorEveryPosition(t *testing.T) {
	bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for n := 1; n <= 300; n++ {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%7) - 3
		}
		if err := CheckVector(v, n); err != nil {
			t.Fatalf("n=%d finite: %v", n, err)
		}
		for i := range v {
			for _, b := range bad {
				old := v[i]
				v[i] = b
				err := CheckVector(v, n)
				v[i] = old
				if !errors.Is(err, ErrInvalidVector) || !strings.Contains(err.Error(), "element "+strconv.Itoa(i)+" ") {
					t.Fatalf("n=%d, %v at %d: %v", n, b, i, err)
				}
			}
		}
		big := make([]float32, n)
		for i := range big {
			big[i] = 3e38
		}
		if err := CheckVector(big, n); err != nil {
			t.Fatalf("n=%d, squares overflow: %v", n, err)
		}
	}
	// Batches longer than one summing block.
	vecs := make([]float32, 10000)
	if err := CheckVectors(vecs, 100, 100); err != nil {
		t.Fatal(err)
	}
	vecs[9999] = float32(math.NaN())
	if err := CheckVectors(vecs, 100, 100); !errors.Is(err, ErrInvalidVector) || !strings.Contains(err.Error(), "vector 99 element 99") {
		t.Fatal(err)
	}
}
