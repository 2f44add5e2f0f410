package check

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
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
		if err := Vector(v, n); err != nil {
			t.Fatalf("n=%d finite: %v", n, err)
		}
		for i := range v {
			for _, b := range bad {
				old := v[i]
				v[i] = b
				err := Vector(v, n)
				v[i] = old
				if !errors.Is(err, nearkit.ErrInvalidVector) || !strings.Contains(err.Error(), "element "+strconv.Itoa(i)+" ") {
					t.Fatalf("n=%d, %v at %d: %v", n, b, i, err)
				}
			}
		}
		big := make([]float32, n)
		for i := range big {
			big[i] = 3e38
		}
		if err := Vector(big, n); err != nil {
			t.Fatalf("n=%d, squares overflow: %v", n, err)
		}
	}
	// Batches longer than one summing block.
	vecs := make([]float32, 10000)
	if err := Batch(vecs, 100, 100); err != nil {
		t.Fatal(err)
	}
	vecs[9999] = float32(math.NaN())
	if err := Batch(vecs, 100, 100); !errors.Is(err, nearkit.ErrInvalidVector) || !strings.Contains(err.Error(), "vector 99 element 99") {
		t.Fatal(err)
	}
}

func TestArguments(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		v    []float32
		want error
	}{
		{[]float32{1, 2}, nil},
		{[]float32{1}, nearkit.ErrDimension},
		{[]float32{1, nan}, nearkit.ErrInvalidVector},
	}
	for _, c := range cases {
		if err := Vector(c.v, 2); (err == nil) != (c.want == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Fatalf("%v: %v", c.v, err)
		}
	}
	if err := K(0); !errors.Is(err, nearkit.ErrInvalidK) {
		t.Fatal(err)
	}
	if err := Vectors([]float32{1, 2, 3}, 2); !errors.Is(err, nearkit.ErrDimension) {
		t.Fatal(err)
	}
	if err := Batch([]float32{1, 2, 3, 4}, 2, 1); !errors.Is(err, nearkit.ErrDimension) {
		t.Fatal(err)
	}
}
