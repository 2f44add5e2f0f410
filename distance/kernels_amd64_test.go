//go:build gc && !purego

package distance

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// pqLookupSumGatherAVX2 is not dispatched to (the scalar Go loop is faster,
// see pqLookupSum in kernels_amd64.go); it is kept, tested and benchmarked
// here so that the verdict can be re-measured on other CPUs.

func TestPQLookupSumGatherAVX2(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	r := newRand(t)
	for m := 0; m <= 70; m++ {
		table := randFloats(r, 256*m)
		code := make([]uint8, m)
		for trial := 0; trial < 10; trial++ {
			for j := range code {
				code[j] = uint8(r.Uint32())
			}
			want, abs := refPQ(table, code)
			checkClose(t, fmt.Sprintf("m=%d", m), pqLookupSumGatherAVX2(table, code), want, abs, m)
		}
	}
}

func BenchmarkPQLookupSumGather(b *testing.B) {
	if !useAVX2 {
		b.Skip("no AVX2")
	}
	benchPQ(b, "generic", pqLookupSumGeneric)
	benchPQ(b, "avx2gather", pqLookupSumGatherAVX2)
}

// BenchmarkAVX2vs512 runs the one-to-one kernels at the small dimensions
// where the choice between the two (and plain Go) is made.
func BenchmarkSmallDims(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range implementations() {
		for _, dim := range []int{4, 8, 12, 16, 24, 32, 48, 64} {
			q, base := randFloats(r, dim), randFloats(r, benchBase*dim)
			b.Run(fmt.Sprintf("impl=%s/dim=%d", im.name, dim), func(b *testing.B) {
				var s float32
				i := 0
				for b.Loop() {
					s += im.squaredL2(q, base[i*dim:(i+1)*dim])
					i = (i + 1) % benchBase
				}
				sinkF = s
				reportElems(b, dim)
			})
		}
	}
}
