//go:build gc && !purego

package distance

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDispatch checks that the feature bools, the registry and
// Implementation agree, under every GODEBUG=cpu.* setting CI runs.
func TestDispatch(t *testing.T) {
	if useAVX512 && !useAVX2 {
		t.Fatal("useAVX512 without useAVX2")
	}
	want := "generic"
	switch {
	case useAVX512:
		want = "avx512"
	case useAVX2:
		want = "avx2"
	}
	if got := Implementation(); got != want {
		t.Fatalf("Implementation() = %q, want %q", got, want)
	}
	ims := implementations()
	if last := ims[len(ims)-1].name; last != want {
		t.Fatalf("last registered implementation is %q, want the dispatched %q", last, want)
	}
}

// BenchmarkSmallDims runs SquaredL2 at the small dimensions where plain Go
// could beat a non-inlined assembly call (it does not on this machine).
func BenchmarkSmallDims(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range benchImpls(func(im impl) any { return im.squaredL2 }) {
		for _, dim := range []int{4, 8, 12, 16, 24, 32, 48, 64} {
			q, base := randFloats(r, dim), randFloats(r, benchBase*dim)
			b.Run(fmt.Sprintf("impl=%s/dim=%d", im.name, dim), func(b *testing.B) {
				b.SetBytes(int64(8 * dim))
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

// BenchmarkBatchVsLoop compares the batch kernel, which loops over rows in
// assembly four at a time sharing the query's loads, with a Go loop calling
// the one-to-one kernel per row: the reason the batch kernels exist.
func BenchmarkBatchVsLoop(b *testing.B) {
	if !useAVX2 {
		b.Skip("no AVX2")
	}
	type pair struct {
		name  string
		batch func(q, data []float32, dim int, out []float32)
		one   func(a, b []float32) float32
	}
	pairs := []pair{{"avx2", squaredL2BatchAVX2, squaredL2AVX2}}
	if useAVX512 {
		pairs = append(pairs, pair{"avx512", squaredL2BatchAVX512, squaredL2AVX512})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{96, 128, 768} {
		q, data := randFloats(r, dim), randFloats(r, benchBase*dim)
		out := make([]float32, benchBase)
		for _, p := range pairs {
			b.Run(fmt.Sprintf("impl=%s-asm/dim=%d", p.name, dim), func(b *testing.B) {
				b.SetBytes(int64(4 * dim * benchBase))
				for b.Loop() {
					p.batch(q, data, dim, out)
				}
				reportElems(b, dim*benchBase)
			})
			b.Run(fmt.Sprintf("impl=%s-goloop/dim=%d", p.name, dim), func(b *testing.B) {
				b.SetBytes(int64(4 * dim * benchBase))
				for b.Loop() {
					for i := range out {
						out[i] = p.one(q, data[i*dim:(i+1)*dim])
					}
				}
				reportElems(b, dim*benchBase)
			})
		}
	}
}
