package ivf

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit/distance"
)

func TestScanOrderCoversEveryDimensionOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{256, 300, 784, 1000} {
		c := make([]float32, 8*dim)
		for i := range c {
			// The last dimensions vary most: they must come first.
			c[i] = float32(rng.NormFloat64()) * float32(i%dim+1)
		}
		spans := scanOrder(distance.L2, dim, c)
		if len(spans) == 0 {
			t.Fatalf("dim %d: no spans", dim)
		}
		seen := make([]int, dim)
		for _, s := range spans {
			if s.lo >= s.hi || s.lo%16 != 0 {
				t.Fatalf("dim %d: span %v", dim, s)
			}
			for j := s.lo; j < s.hi; j++ {
				seen[j]++
			}
		}
		for j, n := range seen {
			if n != 1 {
				t.Fatalf("dim %d: dimension %d in %d spans", dim, j, n)
			}
		}
		if spans[0].hi != dim {
			t.Errorf("dim %d: first span %v, want the last one", dim, spans[0])
		}
	}
	if scanOrder(distance.InnerProduct, 784, make([]float32, 2*784)) != nil {
		t.Error("inner product: bounded")
	}
	if scanOrder(distance.L2, 128, make([]float32, 2*128)) != nil {
		t.Error("dim 128: bounded")
	}
}

func TestL2Bounded(t *testing.T) {
	const dim = 784
	rng := rand.New(rand.NewPCG(3, 4))
	c := make([]float32, 16*dim)
	for i := range c {
		c[i] = float32(rng.NormFloat64())
	}
	spans := scanOrder(distance.L2, dim, c)
	q, v := make([]float32, dim), make([]float32, dim)
	for trial := range 200 {
		for j := range q {
			q[j], v[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		want := distance.SquaredL2(q, v)
		got := l2Bounded(q, v, spans, float32(math.Inf(1)))
		if math.Abs(float64(got-want)) > 1e-4*float64(want) {
			t.Fatalf("trial %d: unbounded %v, want %v", trial, got, want)
		}
		// Below the distance, the answer is above the bound; above it,
		// the distance itself.
		if d := l2Bounded(q, v, spans, want/2); d <= want/2 {
			t.Fatalf("trial %d: bound %v, got %v", trial, want/2, d)
		}
		if d := l2Bounded(q, v, spans, want*1.01); math.Abs(float64(d-want)) > 1e-4*float64(want) {
			t.Fatalf("trial %d: bound above the distance: %v, want %v", trial, d, want)
		}
	}
}

func TestAddVec(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 4096, 4099} {
		a, b, dst := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(i), float32(3*i+1)
		}
		addVec(dst, a, b)
		for i, d := range dst {
			if d != float32(4*i+1) {
				t.Fatalf("n %d: dst[%d] = %v", n, i, d)
			}
		}
	}
}
