package ivf

import (
	"testing"
)

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
